/*
 * config_keys.h - matching a map's keys against a section's known keys.
 * Private to the config*.c files.
 */
#ifndef RRTCP_CONFIG_KEYS_H
#define RRTCP_CONFIG_KEYS_H

#include <stddef.h>

#include "config_yaml.h"

/* A key the walker knows: filled with the key and value nodes it matched. */
struct field {
	const char		*f_name;
	const struct node	*f_key;
	const struct node	*f_val;
};

/*
 * Pairs the keys of map with f[0..nf) (f_key/f_val set on a match); warns
 * about unknown keys with a hint and reports duplicates.
 */
void		 keys_match(struct loader *, const struct node *map,
		    const char *section, struct field *f, size_t nf);
/* The same for the top level, which also notes other plugins' sections. */
void		 keys_match_top(struct loader *, const struct node *root,
		    struct field *f, size_t nf);
/* Is k a scalar key without NUL bytes?  0, or -1 after reporting it. */
int		 keys_check(struct loader *, const struct node *k,
		    const char *section);

#endif
