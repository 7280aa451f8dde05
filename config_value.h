/*
 * config_value.h - typed values read from YAML nodes.  Private to the
 * config*.c files.
 */
#ifndef RRTCP_CONFIG_VALUE_H
#define RRTCP_CONFIG_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "config_yaml.h"

#define MIB		(1024 * 1024)

/* An address split into its parts (value_addr()). */
struct addr {
	int	 is_unix;
	char	*host;
	char	*port;
	char	*path;
};

/*
 * Each value_*() getter returns 1 when n is absent or null (the caller
 * keeps its default), 0 when *out was set, -1 after reporting an error.
 */
int		 value_need_scalar(struct loader *, const char *name,
		    const struct node *);
/* Is n a map or null?  0, or -1 after reporting it. */
int		 value_need_map(struct loader *, const char *name,
		    const struct node *);
int		 value_str(struct loader *, const char *name,
		    const struct node *, char **out);
int		 value_uint(struct loader *, const char *name,
		    const struct node *, uint64_t max, uint64_t *out);
int		 value_bool(struct loader *, const char *name,
		    const struct node *, int *out);
int		 value_duration(struct loader *, const char *name,
		    const struct node *, int64_t *out);
int		 value_size(struct loader *, const char *name,
		    const struct node *, size_t *out);
int		 value_command(struct loader *, const char *name,
		    const struct node *, char ***out);
/* Splits address s (reported at line); 0 with *a filled, or -1. */
int		 value_addr(struct loader *, const char *name, const char *s,
		    int line, struct addr *a);
void		 value_addr_clear(struct addr *);
/* Appends s (taken) to the NULL-terminated vector *vp of *np strings. */
int		 value_strv_push(struct loader *, char ***vp, size_t *np,
		    char *s);
void		 value_strv_free(char **);
void		 value_lower(char *);

#endif
