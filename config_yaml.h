/*
 * config_yaml.h - the YAML node tree of a config file.  Private to the
 * config*.c files.
 */
#ifndef RRTCP_CONFIG_YAML_H
#define RRTCP_CONFIG_YAML_H

#include <stddef.h>

#include "config_diag.h"

enum node_type {
	NODE_SCALAR,
	NODE_MAP,
	NODE_SEQ
};

/*
 * One YAML node.  A node may be reachable from several places (aliases and
 * merge keys share nodes rather than copy them, so a "billion laughs" input
 * costs nothing); all nodes are owned by the loader's arena list and freed
 * together.
 */
struct node {
	enum node_type	 n_type;
	int		 n_line;	/* 1-based; < 0: override -n_line-1 */
	int		 n_plain;	/* unquoted scalar: may be YAML null */
	char		*n_str;		/* scalar bytes, NUL-terminated */
	size_t		 n_len;		/* may contain NULs ("\0" in YAML) */
	struct node	**n_kids;	/* map: k, v, k, v...; seq: items */
	size_t		 n_nkids;
	size_t		 n_cap;
	struct node	*n_next;	/* arena chain */
};

/* A slot of the loader's anchor hash table. */
struct anchor {
	char		*a_name;	/* NULL: a free slot */
	struct node	*a_node;
};

struct override {
	char		*o_path;	/* trimmed key.path; NULL: malformed */
	char		*o_value;	/* value, trimmed and unquoted */
};

/*
 * Reads ld->file into a node tree: 0 with *rootp set (NULL for an empty
 * document), or -1 after reporting why.
 */
int		 tree_read(struct loader *, struct node **rootp);
/* Parses the -o strings, then grafts them onto *rootp. */
void		 tree_overrides_parse(struct loader *);
void		 tree_overrides_apply(struct loader *, struct node **rootp);
/* Frees every node, anchor and parsed override of the loader. */
void		 tree_free(struct loader *);

int		 node_is_null(const struct node *);
int		 node_is_empty(const struct node *);
int		 node_key_is(const struct node *, const char *name);
int		 node_same_key(const struct node *, const struct node *);
const char	*node_type_name(const struct node *);

#endif
