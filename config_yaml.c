/*
 * config_yaml.c - the YAML node tree of a config file.
 *
 * libyaml's event stream becomes a small tree of nodes that remember their
 * line.  Aliases and merge keys ("<<") are resolved while building it, $VAR
 * is expanded in every value (not in keys), and the -o overrides are grafted
 * on afterwards.  What the keys mean is config.c's business; this file only
 * knows maps, lists and scalars.  Single-threaded; getenv() is the only
 * outside state read besides the file.
 */
#include "config_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#define MAX_DEPTH	64		/* YAML nesting; real configs need 5 */
#define MAX_FILE	(16 << 20)	/* bigger is surely not a config */

/* ------------------------------------------------------------------------
 * $VAR expansion
 *
 * RoadRunner runs every string value through its ExpandVal(), which is Go's
 * os.Expand plus "${VAR:-default}" (the default applies when VAR is unset or
 * empty).  The same rules are kept here, including the odd ones: "$$" and
 * "$1" name (unset) special variables and expand to nothing, "${}" and an
 * unclosed "${" are dropped, and a "$" before anything else stays.
 */

static int
shell_special(int c)
{
	return strchr("*#$@!?-0123456789", c) != NULL && c != '\0';
}

static int
shell_alnum(int c)
{
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

struct sbuf {
	char	*s_buf;
	size_t	 s_len;
	size_t	 s_cap;
	int	 s_err;
};

static void
sbuf_add(struct sbuf *sb, const char *p, size_t n)
{
	char *b;
	size_t cap;

	if (sb->s_err)
		return;
	if (sb->s_len + n + 1 > sb->s_cap) {
		cap = sb->s_cap ? sb->s_cap : 64;
		while (cap < sb->s_len + n + 1)
			cap *= 2;
		if ((b = realloc(sb->s_buf, cap)) == NULL) {
			sb->s_err = 1;
			return;
		}
		sb->s_buf = b;
		sb->s_cap = cap;
	}
	memcpy(sb->s_buf + sb->s_len, p, n);
	sb->s_len += n;
	sb->s_buf[sb->s_len] = '\0';
}

/* Appends the value of the variable named by name[0..n) (may be "X:-def"). */
static void
expand_name(struct sbuf *sb, const char *name, size_t n)
{
	const char *def = NULL, *val;
	size_t deflen = 0, i;
	char *var;

	for (i = 0; i + 1 < n; i++) {
		if (name[i] == ':' && name[i + 1] == '-') {
			def = name + i + 2;
			deflen = n - i - 2;
			n = i;
			break;
		}
	}
	if ((var = strndup(name, n)) == NULL) {
		sb->s_err = 1;
		return;
	}
	val = memchr(name, '\0', n) == NULL ? getenv(var) : NULL;
	free(var);
	if ((val == NULL || *val == '\0') && def != NULL)
		sbuf_add(sb, def, deflen);
	else if (val != NULL)
		sbuf_add(sb, val, strlen(val));
}

/* Returns the expanded copy of s[0..len) in *out (NUL-terminated). */
static int
expand_env(const char *s, size_t len, char **out, size_t *outlen)
{
	struct sbuf sb = { NULL, 0, 0, 0 };
	size_t i = 0, j, k;

	for (j = 0; j < len; j++) {
		const char *t;
		size_t rest;

		if (s[j] != '$' || j + 1 >= len)
			continue;
		sbuf_add(&sb, s + i, j - i);
		t = s + j + 1;
		rest = len - j - 1;
		if (t[0] == '{') {
			if (rest > 2 && shell_special((unsigned char)t[1]) &&
			    t[2] == '}') {
				expand_name(&sb, t + 1, 1);
				j += 3;
			} else {
				for (k = 1; k < rest && t[k] != '}'; k++)
					;
				if (k == rest)		/* unclosed "${" */
					j += 1;
				else if (k == 1)	/* "${}": eaten */
					j += 2;
				else {
					expand_name(&sb, t + 1, k - 1);
					j += k + 1;
				}
			}
		} else if (shell_special((unsigned char)t[0])) {
			expand_name(&sb, t, 1);
			j += 1;
		} else {
			for (k = 0; k < rest &&
			    shell_alnum((unsigned char)t[k]); k++)
				;
			if (k == 0)
				sbuf_add(&sb, "$", 1);
			else
				expand_name(&sb, t, k);
			j += k;
		}
		i = j + 1;
	}
	sbuf_add(&sb, s + i, len - i);
	if (sb.s_err || sb.s_buf == NULL) {
		free(sb.s_buf);
		return -1;
	}
	*out = sb.s_buf;
	*outlen = sb.s_len;
	return 0;
}

/* ------------------------------------------------------------------------
 * the node tree
 */

static struct node *
node_new(struct loader *ld, enum node_type type, int line)
{
	struct node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		diag_oom(ld);
		return NULL;
	}
	n->n_type = type;
	n->n_line = line;
	n->n_next = ld->arena;
	ld->arena = n;
	return n;
}

/* A scalar node holding a copy of s[0..len), $VAR-expanded if value. */
static struct node *
node_scalar(struct loader *ld, const char *s, size_t len, int plain,
    int value, int line)
{
	struct node *n;

	if ((n = node_new(ld, NODE_SCALAR, line)) == NULL)
		return NULL;
	n->n_plain = plain;
	if (value) {
		if (expand_env(s, len, &n->n_str, &n->n_len) == -1) {
			diag_oom(ld);
			return NULL;
		}
	} else {
		if ((n->n_str = malloc(len + 1)) == NULL) {
			diag_oom(ld);
			return NULL;
		}
		memcpy(n->n_str, s, len);
		n->n_str[len] = '\0';
		n->n_len = len;
	}
	return n;
}

static int
node_push(struct loader *ld, struct node *parent, struct node *kid)
{
	struct node **k;
	size_t cap;

	if (parent->n_nkids == parent->n_cap) {
		cap = parent->n_cap ? parent->n_cap * 2 : 8;
		if ((k = reallocarray(parent->n_kids, cap, sizeof(*k))) ==
		    NULL) {
			diag_oom(ld);
			return -1;
		}
		parent->n_kids = k;
		parent->n_cap = cap;
	}
	parent->n_kids[parent->n_nkids++] = kid;
	return 0;
}

void
tree_free(struct loader *ld)
{
	struct node *n, *next;
	size_t i;

	for (n = ld->arena; n != NULL; n = next) {
		next = n->n_next;
		free(n->n_str);
		free(n->n_kids);
		free(n);
	}
	ld->arena = NULL;
	for (i = 0; i < ld->anchors_cap; i++)
		free(ld->anchors[i].a_name);
	free(ld->anchors);
	ld->anchors = NULL;
	ld->nanchors = ld->anchors_cap = 0;
	for (i = 0; ld->ovr != NULL && i < ld->opts->noverrides; i++) {
		free(ld->ovr[i].o_path);
		free(ld->ovr[i].o_value);
	}
	free(ld->ovr);
	ld->ovr = NULL;
}

/* YAML null: missing, or an unquoted "", "~" or "null". */
int
node_is_null(const struct node *n)
{
	if (n == NULL)
		return 1;
	if (n->n_type != NODE_SCALAR || !n->n_plain)
		return 0;
	return n->n_len == 0 || strcmp(n->n_str, "~") == 0 ||
	    strcmp(n->n_str, "null") == 0 || strcmp(n->n_str, "Null") == 0 ||
	    strcmp(n->n_str, "NULL") == 0;
}

/* Null or "": what RoadRunner's zero-value checks treat as unset. */
int
node_is_empty(const struct node *n)
{
	return node_is_null(n) || (n->n_type == NODE_SCALAR && n->n_len == 0);
}

/* Case-insensitive key comparison, as viper lower-cases keys. */
int
node_key_is(const struct node *k, const char *name)
{
	return k->n_type == NODE_SCALAR && strlen(k->n_str) == k->n_len &&
	    strcasecmp(k->n_str, name) == 0;
}

int
node_same_key(const struct node *a, const struct node *b)
{
	return a->n_type == NODE_SCALAR && b->n_type == NODE_SCALAR &&
	    node_key_is(a, b->n_str);
}

static int
is_merge_key(const struct node *k)
{
	return k->n_type == NODE_SCALAR && k->n_plain &&
	    strcmp(k->n_str, "<<") == 0;
}

/* Appends the pairs of src whose keys are not in map yet (merge keys). */
static int
merge_from(struct loader *ld, struct node *map, const struct node *src,
    int line)
{
	size_t i, j;

	if (src->n_type != NODE_MAP) {
		diag(ld, CONFIG_ERROR, line,
		    "<<: a merge key needs a map or a list of maps, got %s",
		    node_type_name(src));
		return -1;
	}
	for (i = 0; i + 1 < src->n_nkids; i += 2) {
		for (j = 0; j < map->n_nkids; j += 2)
			if (node_same_key(map->n_kids[j], src->n_kids[i]))
				break;
		if (j < map->n_nkids)
			continue;
		if (node_push(ld, map, src->n_kids[i]) == -1 ||
		    node_push(ld, map, src->n_kids[i + 1]) == -1)
			return -1;
	}
	return 0;
}

/*
 * Resolves "<<: *base" (and "<<: [*a, *b]") the way yaml.v3 does for viper:
 * explicit keys win, then earlier merged maps win over later ones.
 */
static int
resolve_merges(struct loader *ld, struct node *map)
{
	struct node tmp, **old;
	size_t nold, i, j;
	int rc = 0;

	for (i = 0; i < map->n_nkids; i += 2)
		if (is_merge_key(map->n_kids[i]))
			break;
	if (i >= map->n_nkids)
		return 0;

	old = map->n_kids;
	nold = map->n_nkids;
	memset(&tmp, 0, sizeof(tmp));
	tmp.n_type = NODE_MAP;
	for (i = 0; i + 1 < nold && rc == 0; i += 2)
		if (!is_merge_key(old[i]))
			if (node_push(ld, &tmp, old[i]) == -1 ||
			    node_push(ld, &tmp, old[i + 1]) == -1)
				rc = -1;
	for (i = 0; i + 1 < nold && rc == 0; i += 2) {
		const struct node *v = old[i + 1];

		if (!is_merge_key(old[i]))
			continue;
		if (v->n_type == NODE_SEQ) {
			for (j = 0; j < v->n_nkids && rc == 0; j++)
				rc = merge_from(ld, &tmp, v->n_kids[j],
				    old[i]->n_line);
		} else
			rc = merge_from(ld, &tmp, v, old[i]->n_line);
	}
	map->n_kids = tmp.n_kids;
	map->n_nkids = tmp.n_nkids;
	map->n_cap = tmp.n_cap;
	free(old);
	return rc;
}

/*
 * Anchors live in an open-addressing hash table (linear probing, at most
 * half full), so that a file with many anchors and aliases loads in time
 * linear in its size rather than quadratic.
 */
static size_t
anchor_hash(const char *name)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot holding name, or the free slot where it would go. */
static struct anchor *
anchor_slot(struct anchor *tab, size_t cap, const char *name)
{
	size_t i = anchor_hash(name) & (cap - 1);

	while (tab[i].a_name != NULL && strcmp(tab[i].a_name, name) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int
anchor_grow(struct loader *ld)
{
	struct anchor *tab, *slot;
	size_t cap = ld->anchors_cap ? ld->anchors_cap * 2 : 16, i;

	if ((tab = calloc(cap, sizeof(*tab))) == NULL) {
		diag_oom(ld);
		return -1;
	}
	for (i = 0; i < ld->anchors_cap; i++) {
		if (ld->anchors[i].a_name == NULL)
			continue;
		slot = anchor_slot(tab, cap, ld->anchors[i].a_name);
		*slot = ld->anchors[i];
	}
	free(ld->anchors);
	ld->anchors = tab;
	ld->anchors_cap = cap;
	return 0;
}

/*
 * Registers name (taken) for n.  Anchors are registered only when their node
 * is complete, so an alias can never point at one of its own ancestors: the
 * tree has no cycles.  A later anchor with the same name wins, as YAML says.
 */
static int
anchor_add(struct loader *ld, char *name, struct node *n)
{
	struct anchor *slot;

	if (name == NULL)
		return -1;
	if (2 * (ld->nanchors + 1) > ld->anchors_cap &&
	    anchor_grow(ld) == -1) {
		free(name);
		return -1;
	}
	slot = anchor_slot(ld->anchors, ld->anchors_cap, name);
	if (slot->a_name != NULL)
		free(name);
	else {
		slot->a_name = name;
		ld->nanchors++;
	}
	slot->a_node = n;
	return 0;
}

static struct node *
anchor_find(struct loader *ld, const char *name)
{
	if (ld->anchors_cap == 0)
		return NULL;
	return anchor_slot(ld->anchors, ld->anchors_cap, name)->a_node;
}

static void
yaml_error(struct loader *ld, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "syntax error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		diag_oom(ld);
		break;
	case YAML_READER_ERROR:
		diag(ld, CONFIG_ERROR, LINE_NONE, "YAML: %s at byte %zu",
		    problem, p->problem_offset);
		break;
	default:
		if (p->context != NULL)
			diag(ld, CONFIG_ERROR, (int)p->problem_mark.line + 1,
			    "YAML: %s %s (line %d)", problem, p->context,
			    (int)p->context_mark.line + 1);
		else
			diag(ld, CONFIG_ERROR, (int)p->problem_mark.line + 1,
			    "YAML: %s", problem);
	}
}

/*
 * Builds the node tree of the first document in buf.  Returns 0 with *rootp
 * set (NULL for an empty document) or -1 after reporting the error.
 */
static int
build_tree(struct loader *ld, const char *buf, size_t len,
    struct node **rootp)
{
	struct node *stack[MAX_DEPTH], *n, *parent;
	char *pending[MAX_DEPTH];	/* anchor of each open collection */
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, ndocs = 0, done = 0, rc = 0, line, value;
	enum node_type type;

	*rootp = NULL;
	if (!yaml_parser_initialize(&p)) {
		diag_oom(ld);
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_error(ld, &p);
			rc = -1;
			break;
		}
		line = (int)ev.start_mark.line + 1;
		n = NULL;
		parent = depth > 0 ? stack[depth - 1] : NULL;
		value = parent == NULL || parent->n_type == NODE_SEQ ||
		    parent->n_nkids % 2 == 1;

		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			/* viper (yaml.v3) reads only the first document */
			if (++ndocs > 1) {
				diag(ld, CONFIG_WARN, line, "only the first "
				    "YAML document is read; this one is "
				    "ignored");
				done = 1;
			}
			break;
		case YAML_ALIAS_EVENT:
			n = anchor_find(ld, (const char *)ev.data.alias.anchor);
			if (n == NULL) {
				diag(ld, CONFIG_ERROR, line, "YAML: unknown "
				    "anchor \"%s\"", ev.data.alias.anchor);
				rc = -1;
			}
			break;
		case YAML_SCALAR_EVENT:
			n = node_scalar(ld, (const char *)ev.data.scalar.value,
			    ev.data.scalar.length,
			    ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE,
			    value, line);
			if (n == NULL)
				rc = -1;
			else if (ev.data.scalar.anchor != NULL &&
			    anchor_add(ld, diag_strdup(ld,
			    (const char *)ev.data.scalar.anchor), n) == -1)
				rc = -1;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == MAX_DEPTH) {
				diag(ld, CONFIG_ERROR, line, "YAML: nested "
				    "deeper than %d levels", MAX_DEPTH);
				rc = -1;
				break;
			}
			type = ev.type == YAML_MAPPING_START_EVENT ? NODE_MAP :
			    NODE_SEQ;
			if ((stack[depth] = node_new(ld, type, line)) == NULL) {
				rc = -1;
				break;
			}
			pending[depth] = NULL;
			if (ev.data.mapping_start.anchor != NULL &&
			    (pending[depth] = diag_strdup(ld, (const char *)
			    ev.data.mapping_start.anchor)) == NULL) {
				rc = -1;
				break;
			}
			depth++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			n = stack[--depth];
			parent = depth > 0 ? stack[depth - 1] : NULL;
			if (n->n_type == NODE_MAP &&
			    resolve_merges(ld, n) == -1)
				rc = -1;
			if (pending[depth] != NULL &&
			    anchor_add(ld, pending[depth], n) == -1)
				rc = -1;
			pending[depth] = NULL;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (n != NULL && rc == 0) {
			if (parent == NULL)
				*rootp = n;
			else if (node_push(ld, parent, n) == -1)
				rc = -1;
		}
	}
	while (depth > 0)
		free(pending[--depth]);
	yaml_parser_delete(&p);
	if (rc == -1)
		*rootp = NULL;
	return rc;
}

/* ------------------------------------------------------------------------
 * -o key.path=value
 *
 * Parsed like RoadRunner's parseFlag(): key and value are trimmed, one pair
 * of matching quotes around the value is removed.  The value becomes a plain
 * scalar and is $VAR-expanded like every value in the file.
 */

void
tree_overrides_parse(struct loader *ld)
{
	const struct config_opts *o = ld->opts;
	size_t i, n;
	char *s, *eq, *k, *v, *p;

	if (o->noverrides == 0)
		return;
	if ((ld->ovr = calloc(o->noverrides, sizeof(*ld->ovr))) == NULL) {
		diag_oom(ld);
		return;
	}
	for (i = 0; i < o->noverrides; i++) {
		int line = -(int)i - 1;

		if (o->overrides[i] == NULL ||
		    strchr(o->overrides[i], '=') == NULL) {
			diag(ld, CONFIG_ERROR, line, "expected key.path=value");
			continue;
		}
		if ((s = diag_strdup(ld, o->overrides[i])) == NULL)
			continue;
		eq = strchr(s, '=');
		*eq = '\0';
		for (k = s; isspace((unsigned char)*k) || *k == '"' ||
		    *k == '\'' || *k == '`'; k++)
			;
		for (n = strlen(k); n > 0 && isspace((unsigned char)k[n - 1]);
		    n--)
			k[n - 1] = '\0';
		for (v = eq + 1; isspace((unsigned char)*v); v++)
			;
		for (n = strlen(v); n > 0 && isspace((unsigned char)v[n - 1]);
		    n--)
			v[n - 1] = '\0';
		if (n >= 2 && (v[0] == '"' || v[0] == '\'' || v[0] == '`') &&
		    v[n - 1] == v[0]) {
			v[n - 1] = '\0';
			v++;
		}
		if (*k == '\0' || *k == '.' || k[strlen(k) - 1] == '.' ||
		    strstr(k, "..") != NULL) {
			diag(ld, CONFIG_ERROR, line, "expected key.path=value "
			    "(empty key)");
			free(s);
			continue;
		}
		if (*v == '\0') {
			diag(ld, CONFIG_ERROR, line, "value should not be "
			    "empty");
			free(s);
			continue;
		}
		for (p = k; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		ld->ovr[i].o_path = diag_strdup(ld, k);
		ld->ovr[i].o_value = diag_strdup(ld, v);
		free(s);
	}
}

/* A private shallow copy, so that editing it leaves aliased uses alone. */
static struct node *
map_copy(struct loader *ld, const struct node *m)
{
	struct node *c;
	size_t i;

	if ((c = node_new(ld, NODE_MAP, m->n_line)) == NULL)
		return NULL;
	for (i = 0; i < m->n_nkids; i++)
		if (node_push(ld, c, m->n_kids[i]) == -1)
			return NULL;
	return c;
}

/*
 * Sets one key.path like viper.Set(): missing or null maps on the way are
 * created, an existing key (the last one, matched case-insensitively) is
 * replaced.  Every map on the path is copied first, because an alias or a
 * merge key may share it with another part of the file.
 */
static void
override_apply(struct loader *ld, struct node **rootp, size_t idx)
{
	const struct override *o = &ld->ovr[idx];
	int line = -(int)idx - 1;
	struct node **slot = rootp, *cur, *k;
	char *path, *comp, *next;
	size_t i, found;

	if (o->o_path == NULL || o->o_value == NULL)
		return;
	if ((path = diag_strdup(ld, o->o_path)) == NULL)
		return;
	for (comp = path; comp != NULL; comp = next) {
		if ((next = strchr(comp, '.')) != NULL)
			*next++ = '\0';
		cur = *slot;
		if (node_is_null(cur))
			cur = node_new(ld, NODE_MAP, line);
		else if (cur->n_type != NODE_MAP) {
			diag(ld, CONFIG_ERROR, line, "cannot set \"%s\": its "
			    "parent is %s, not a map", comp,
			    node_type_name(cur));
			break;
		} else
			cur = map_copy(ld, cur);
		if (cur == NULL)
			break;
		*slot = cur;
		found = SIZE_MAX;
		for (i = 0; i + 1 < cur->n_nkids; i += 2)
			if (node_key_is(cur->n_kids[i], comp))
				found = i;
		if (found == SIZE_MAX) {
			if ((k = node_scalar(ld, comp, strlen(comp), 1, 0,
			    line)) == NULL || node_push(ld, cur, k) == -1 ||
			    node_push(ld, cur, NULL) == -1)
				break;
			found = cur->n_nkids - 2;
		}
		slot = &cur->n_kids[found + 1];
		if (next == NULL) {
			*slot = node_scalar(ld, o->o_value,
			    strlen(o->o_value), 1, 1, line);
			if (*slot == NULL)
				break;
		}
	}
	free(path);
}

static char *
read_file(struct loader *ld, const char *file, size_t *lenp)
{
	FILE *fp;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;

	if ((fp = fopen(file, "re")) == NULL) {
		diag(ld, CONFIG_ERROR, LINE_NONE, "cannot open: %s",
		    strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap)) == NULL) {
				diag_oom(ld);
				goto fail;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
		if (len > MAX_FILE) {
			diag(ld, CONFIG_ERROR, LINE_NONE, "file too large "
			    "(more than %d bytes)", MAX_FILE);
			goto fail;
		}
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		diag(ld, CONFIG_ERROR, LINE_NONE, "cannot read: %s",
		    strerror(errno));
		goto fail;
	}
	fclose(fp);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	fclose(fp);
	free(buf);
	return NULL;
}


const char *
node_type_name(const struct node *n)
{
	switch (n->n_type) {
	case NODE_MAP:
		return "a map";
	case NODE_SEQ:
		return "a list";
	default:
		return "a scalar";
	}
}

/* ------------------------------------------------------------------------
 * API
 */

int
tree_read(struct loader *ld, struct node **rootp)
{
	char *buf;
	size_t len;
	int rc;

	*rootp = NULL;
	if ((buf = read_file(ld, ld->file, &len)) == NULL)
		return -1;
	rc = build_tree(ld, buf, len, rootp);
	free(buf);
	return rc;
}

void
tree_overrides_apply(struct loader *ld, struct node **rootp)
{
	size_t i;

	for (i = 0; ld->ovr != NULL && i < ld->opts->noverrides; i++)
		override_apply(ld, rootp, i);
}
