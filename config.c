/*
 * config.c - RoadRunner's .rr.yaml -> struct rr_config.
 *
 * Loading runs in two passes.  First, libyaml's event stream becomes a small
 * tree of nodes that remember their line.  Aliases and merge keys ("<<") are
 * resolved while building it, $VAR is expanded in every value (not in keys),
 * and the -o overrides are grafted on.  Second, the tree is walked section by
 * section against tables of known keys.  The walk fills struct rr_config,
 * applies RoadRunner's defaults and reports every problem through the
 * caller's callback.  It fails only at the end, so one run shows all errors.
 *
 * Keys are matched case-insensitively because RoadRunner reads the file
 * through viper, which lower-cases every key.  No sockets, no processes and
 * no globals: the only outside state read is the environment, sysconf() and
 * the file itself.  Not thread-safe only in that getenv() is not.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#define LINE_NONE	0		/* diagnostic about the whole file */
#define MAX_DEPTH	64		/* YAML nesting; real configs need 5 */
#define MAX_FILE	(16 << 20)	/* bigger is surely not a config */
#define MAX_WORKERS	500		/* RoadRunner's num_workers limit */
#define MAX_SPAWN_RATE	100		/* RoadRunner's spawn_rate limit */
#define MAX_REACTORS	1024		/* one thread each; a sanity bound */
#define MIB		(1024 * 1024)

#define DEF_DELIM		"\r\n"
#define DEF_MAX_MESSAGE		(1 * MIB)
#define DEF_READ_BUF_MIB	1
#define DEF_MAX_CONNECTIONS	100000
#define DEF_MAX_FRAME		(64 * MIB)
#define DEF_CLOSE_TIMEOUT_MS	10000
#define DEF_POOL_TIMEOUT_MS	60000
#define DEF_WATCH_TICK_MS	5000
#define DEF_DYN_MAX_WORKERS	10
#define DEF_DYN_SPAWN_RATE	5
#define DEF_DYN_IDLE_MS		60000
#define DEF_RPC_LISTEN		"tcp://127.0.0.1:6001"

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

struct anchor {
	char		*a_name;
	struct node	*a_node;
};

struct override {
	char		*o_path;	/* trimmed key.path; NULL: malformed */
	char		*o_value;	/* value, trimmed and unquoted */
};

/* A diagnostic held back so that all of them come out in line order. */
struct msg {
	enum config_level m_level;
	int		 m_line;
	size_t		 m_seq;		/* keeps the order of equal lines */
	char		*m_text;
};

struct loader {
	const char	*file;
	config_report_fn *report;
	void		*arg;
	int		 nerrors;
	int		 oom;		/* "out of memory" reported once */
	struct msg	*msgs;
	size_t		 nmsgs;
	size_t		 msgs_cap;

	struct node	*arena;
	struct anchor	*anchors;
	size_t		 nanchors;
	size_t		 anchors_cap;

	const struct config_opts *opts;
	struct override	*ovr;		/* parsed opts->overrides */

	struct rr_config *cfg;
	size_t		 servers_cap;
	size_t		 nenv;
	char		**server_cmd;	/* server.command */
	char		**pool_cmd;	/* tcp.pool.command */
	int		 num_workers_set;
	int		 tcp_line;	/* line of "no servers registered" */
	int		 cmd_bad;	/* a command was reported: no cascade */
	int		 servers_bad;	/* tcp/servers reported: no cascade */
};

/* A key the walker knows: filled with the key and value nodes it matched. */
struct field {
	const char		*f_name;
	const struct node	*f_key;
	const struct node	*f_val;
};

/*
 * Every known key, so that a key placed in the wrong section can be pointed
 * to the right one ("num_workers" under tcp -> tcp.pool.num_workers).
 */
static const char *const known_paths[] = {
	"version", "server.command", "server.env", "server.user",
	"server.group", "server.relay", "server.relay_timeout",
	"server.on_init", "rpc.listen", "logs.level", "logs.encoding",
	"logs.output", "logs.mode", "tcp.servers", "tcp.servers.<name>.addr",
	"tcp.servers.<name>.delimiter", "tcp.servers.<name>.max_message_size",
	"tcp.read_buf_size", "tcp.reactors", "tcp.max_connections",
	"tcp.max_frame_size", "tcp.close_timeout", "tcp.pool",
	"tcp.pool.command", "tcp.pool.num_workers", "tcp.pool.max_jobs",
	"tcp.pool.max_queue_size", "tcp.pool.allocate_timeout",
	"tcp.pool.destroy_timeout", "tcp.pool.reset_timeout",
	"tcp.pool.stream_timeout", "tcp.pool.debug", "tcp.pool.supervisor",
	"tcp.pool.supervisor.watch_tick", "tcp.pool.supervisor.ttl",
	"tcp.pool.supervisor.idle_ttl", "tcp.pool.supervisor.max_worker_memory",
	"tcp.pool.supervisor.exec_ttl", "tcp.pool.dynamic_allocator",
	"tcp.pool.dynamic_allocator.max_workers",
	"tcp.pool.dynamic_allocator.spawn_rate",
	"tcp.pool.dynamic_allocator.idle_timeout",
};

/*
 * Top-level sections of other RoadRunner plugins.  Any unknown top-level key
 * is ignored; this list only keeps names such as "grpc" (one edit from
 * "rpc") from being reported as typos of rrtcp's own sections.
 */
static const char *const other_plugins[] = {
	"amqp", "app_logger", "beanstalk", "boltdb", "broadcast",
	"centrifuge", "config", "endure", "fileserver", "gps", "grpc",
	"headers", "http", "informer", "jobs", "kafka", "kv", "lock", "locks",
	"memcached", "memory", "metrics", "nats", "otel", "redis", "reload",
	"resetter", "service", "sqs", "static", "status", "temporal",
	"websockets",
};

static void	diag(struct loader *, enum config_level, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	msg_add(struct loader *, enum config_level, int, char *);

/* ------------------------------------------------------------------------
 * diagnostics
 */

static void
diag(struct loader *ld, enum config_level level, int line, const char *fmt,
    ...)
{
	va_list ap;
	char *msg, *text;
	int rc;

	if (level == CONFIG_ERROR)
		ld->nerrors++;
	if (ld->report == NULL)
		return;
	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc == -1) {
		ld->report(ld->arg, level, "out of memory");
		return;
	}
	if (line < 0)
		rc = asprintf(&text, "-o %s: %s",
		    ld->opts->overrides[-line - 1], msg);
	else if (line > 0)
		rc = asprintf(&text, "%s:%d: %s", ld->file, line, msg);
	else
		rc = asprintf(&text, "%s: %s", ld->file, msg);
	if (rc == -1)
		ld->report(ld->arg, level, msg);
	else if (msg_add(ld, level, line, text) == -1) {
		ld->report(ld->arg, level, text);
		free(text);
	}
	free(msg);
}

/* Keeps text (taken) for msgs_flush(); -1 if it could not be kept. */
static int
msg_add(struct loader *ld, enum config_level level, int line, char *text)
{
	struct msg *m;
	size_t cap;

	if (ld->nmsgs == ld->msgs_cap) {
		cap = ld->msgs_cap ? ld->msgs_cap * 2 : 16;
		if ((m = reallocarray(ld->msgs, cap, sizeof(*m))) == NULL)
			return -1;
		ld->msgs = m;
		ld->msgs_cap = cap;
	}
	m = &ld->msgs[ld->nmsgs];
	m->m_level = level;
	m->m_line = line;
	m->m_seq = ld->nmsgs++;
	m->m_text = text;
	return 0;
}

/* File lines in order, then -o overrides in order, then whole-file ones. */
static int
msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	int rx = x->m_line > 0 ? 0 : x->m_line < 0 ? 1 : 2;
	int ry = y->m_line > 0 ? 0 : y->m_line < 0 ? 1 : 2;
	int lx = x->m_line < 0 ? -x->m_line : x->m_line;
	int ly = y->m_line < 0 ? -y->m_line : y->m_line;

	if (rx != ry)
		return rx - ry;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->m_seq < y->m_seq ? -1 : x->m_seq > y->m_seq;
}

static void
msgs_flush(struct loader *ld)
{
	size_t i;

	if (ld->nmsgs > 1)
		qsort(ld->msgs, ld->nmsgs, sizeof(*ld->msgs), msg_cmp);
	for (i = 0; i < ld->nmsgs; i++) {
		ld->report(ld->arg, ld->msgs[i].m_level, ld->msgs[i].m_text);
		free(ld->msgs[i].m_text);
	}
	free(ld->msgs);
	ld->msgs = NULL;
	ld->nmsgs = ld->msgs_cap = 0;
}

static void
oom(struct loader *ld)
{
	if (!ld->oom) {
		ld->oom = 1;
		diag(ld, CONFIG_ERROR, LINE_NONE, "out of memory");
	} else
		ld->nerrors++;
}

/*
 * Copies n bytes of s into buf for a message, escaping control bytes and
 * cutting long values, so that a diagnostic stays on one line.
 */
static const char *
esc(const char *s, size_t n, char *buf, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			o += (size_t)snprintf(buf + o, size - o, "\\r");
		else if (c == '\n')
			o += (size_t)snprintf(buf + o, size - o, "\\n");
		else if (c == '\t')
			o += (size_t)snprintf(buf + o, size - o, "\\t");
		else if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (i < n)
		o += (size_t)snprintf(buf + o, size - o, "...");
	buf[o] = '\0';
	return buf;
}

#define ESC(n, b)	esc((n)->n_str, (n)->n_len, (b), sizeof(b))

static const char *
type_name(const struct node *n)
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
 * small helpers
 */

static char *
xstrdup(struct loader *ld, const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom(ld);
	return p;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static void
strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Appends s (taken) to the NULL-terminated vector *vp holding *np strings. */
static int
strv_push(struct loader *ld, char ***vp, size_t *np, char *s)
{
	char **v;

	if (s == NULL)
		return -1;
	v = reallocarray(*vp, *np + 2, sizeof(*v));
	if (v == NULL) {
		free(s);
		oom(ld);
		return -1;
	}
	v[(*np)++] = s;
	v[*np] = NULL;
	*vp = v;
	return 0;
}

/* Optimal string alignment distance, for "did you mean" hints. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

static int
ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
}

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
		oom(ld);
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
			oom(ld);
			return NULL;
		}
	} else {
		if ((n->n_str = malloc(len + 1)) == NULL) {
			oom(ld);
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
			oom(ld);
			return -1;
		}
		parent->n_kids = k;
		parent->n_cap = cap;
	}
	parent->n_kids[parent->n_nkids++] = kid;
	return 0;
}

static void
nodes_free(struct loader *ld)
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
	for (i = 0; i < ld->nanchors; i++)
		free(ld->anchors[i].a_name);
	free(ld->anchors);
	ld->anchors = NULL;
	ld->nanchors = ld->anchors_cap = 0;
}

/* YAML null: missing, or an unquoted "", "~" or "null". */
static int
is_null(const struct node *n)
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
static int
is_empty(const struct node *n)
{
	return is_null(n) || (n->n_type == NODE_SCALAR && n->n_len == 0);
}

/* Case-insensitive key comparison, as viper lower-cases keys. */
static int
key_is(const struct node *k, const char *name)
{
	return k->n_type == NODE_SCALAR && strlen(k->n_str) == k->n_len &&
	    strcasecmp(k->n_str, name) == 0;
}

static int
same_key(const struct node *a, const struct node *b)
{
	return a->n_type == NODE_SCALAR && b->n_type == NODE_SCALAR &&
	    key_is(a, b->n_str);
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
		    type_name(src));
		return -1;
	}
	for (i = 0; i + 1 < src->n_nkids; i += 2) {
		for (j = 0; j < map->n_nkids; j += 2)
			if (same_key(map->n_kids[j], src->n_kids[i]))
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

static int
anchor_add(struct loader *ld, char *name, struct node *n)
{
	struct anchor *a;
	size_t cap;

	if (ld->nanchors == ld->anchors_cap) {
		cap = ld->anchors_cap ? ld->anchors_cap * 2 : 8;
		if ((a = reallocarray(ld->anchors, cap, sizeof(*a))) == NULL) {
			free(name);
			oom(ld);
			return -1;
		}
		ld->anchors = a;
		ld->anchors_cap = cap;
	}
	ld->anchors[ld->nanchors].a_name = name;
	ld->anchors[ld->nanchors].a_node = n;
	ld->nanchors++;
	return 0;
}

/*
 * Anchors are registered only when their node is complete, so an alias can
 * never point at one of its own ancestors: the tree has no cycles.  A later
 * anchor with the same name wins, as YAML says.
 */
static struct node *
anchor_find(struct loader *ld, const char *name)
{
	size_t i;

	for (i = ld->nanchors; i > 0; i--)
		if (strcmp(ld->anchors[i - 1].a_name, name) == 0)
			return ld->anchors[i - 1].a_node;
	return NULL;
}

static void
yaml_error(struct loader *ld, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "syntax error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		oom(ld);
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
		oom(ld);
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
			    anchor_add(ld, xstrdup(ld,
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
			    (pending[depth] = xstrdup(ld, (const char *)
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

static void
overrides_parse(struct loader *ld)
{
	const struct config_opts *o = ld->opts;
	size_t i, n;
	char *s, *eq, *k, *v, *p;

	if (o->noverrides == 0)
		return;
	if ((ld->ovr = calloc(o->noverrides, sizeof(*ld->ovr))) == NULL) {
		oom(ld);
		return;
	}
	for (i = 0; i < o->noverrides; i++) {
		int line = -(int)i - 1;

		if (o->overrides[i] == NULL ||
		    strchr(o->overrides[i], '=') == NULL) {
			diag(ld, CONFIG_ERROR, line, "expected key.path=value");
			continue;
		}
		if ((s = xstrdup(ld, o->overrides[i])) == NULL)
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
		ld->ovr[i].o_path = xstrdup(ld, k);
		ld->ovr[i].o_value = xstrdup(ld, v);
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
	if ((path = xstrdup(ld, o->o_path)) == NULL)
		return;
	for (comp = path; comp != NULL; comp = next) {
		if ((next = strchr(comp, '.')) != NULL)
			*next++ = '\0';
		cur = *slot;
		if (is_null(cur))
			cur = node_new(ld, NODE_MAP, line);
		else if (cur->n_type != NODE_MAP) {
			diag(ld, CONFIG_ERROR, line, "cannot set \"%s\": its "
			    "parent is %s, not a map", comp, type_name(cur));
			break;
		} else
			cur = map_copy(ld, cur);
		if (cur == NULL)
			break;
		*slot = cur;
		found = SIZE_MAX;
		for (i = 0; i + 1 < cur->n_nkids; i += 2)
			if (key_is(cur->n_kids[i], comp))
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

/* ------------------------------------------------------------------------
 * walking: matching keys
 */

static const char *
suggest(const char *key, const struct field *f, size_t nf)
{
	const char *best = NULL;
	size_t i, d, bestd = 3;

	for (i = 0; i < nf; i++) {
		d = edit_distance(key, f[i].f_name);
		if (d < bestd) {
			bestd = d;
			best = f[i].f_name;
		}
	}
	return best;
}

/* A known key of another section whose last component is key. */
static const char *
elsewhere(const char *key, const char *section)
{
	size_t i, kl = strlen(key), sl = strlen(section), pl;

	for (i = 0; i < sizeof(known_paths) / sizeof(known_paths[0]); i++) {
		const char *p = known_paths[i];

		pl = strlen(p);
		if (pl <= kl || p[pl - kl - 1] != '.' ||
		    strcmp(p + pl - kl, key) != 0)
			continue;
		/* not the section the key already is in */
		if (pl - kl - 1 == sl && strncmp(p, section, sl) == 0)
			continue;
		return p;
	}
	return NULL;
}

static void
unknown_key(struct loader *ld, const struct node *k, const char *section,
    const struct field *f, size_t nf)
{
	char eb[128], *key;
	const char *hint;

	ESC(k, eb);
	if ((key = xstrdup(ld, k->n_str)) == NULL)
		return;
	lower(key);
	if ((hint = suggest(key, f, nf)) != NULL)
		diag(ld, CONFIG_WARN, k->n_line, "unknown key \"%s\" in %s, "
		    "ignored; did you mean \"%s\"?", eb, section, hint);
	else if ((hint = elsewhere(key, section)) != NULL)
		diag(ld, CONFIG_WARN, k->n_line, "unknown key \"%s\" in %s, "
		    "ignored; did you mean %s?", eb, section, hint);
	else
		diag(ld, CONFIG_WARN, k->n_line, "unknown key \"%s\" in %s, "
		    "ignored", eb, section);
	free(key);
}

/* Keys are scalars without NUL bytes; anything else is reported. */
static int
check_key(struct loader *ld, const struct node *k, const char *section)
{
	if (k->n_type != NODE_SCALAR) {
		diag(ld, CONFIG_ERROR, k->n_line, "%s: a key must be a "
		    "scalar, got %s", section, type_name(k));
		return -1;
	}
	if (strlen(k->n_str) != k->n_len) {
		diag(ld, CONFIG_ERROR, k->n_line, "%s: a key contains a NUL "
		    "byte", section);
		return -1;
	}
	return 0;
}

/* Is n a map (or null, meaning "present but empty")?  Reports otherwise. */
static int
need_map(struct loader *ld, const char *name, const struct node *n)
{
	if (is_null(n) || n->n_type == NODE_MAP)
		return 0;
	diag(ld, CONFIG_ERROR, n->n_line, "%s: expected a map, got %s", name,
	    type_name(n));
	return -1;
}

/*
 * Matches the keys of map against f[0..nf): unknown keys are warnings (a
 * typo must not stop a server that RoadRunner would start), duplicates are
 * errors (yaml.v3 rejects them too).
 */
static void
match_fields(struct loader *ld, const struct node *map, const char *section,
    struct field *f, size_t nf)
{
	const struct node *k;
	char eb[128];
	size_t i, j;

	if (is_null(map))
		return;
	for (i = 0; i + 1 < map->n_nkids; i += 2) {
		k = map->n_kids[i];
		if (check_key(ld, k, section) == -1)
			continue;
		for (j = 0; j < nf; j++)
			if (key_is(k, f[j].f_name))
				break;
		if (j == nf) {
			unknown_key(ld, k, section, f, nf);
			continue;
		}
		if (f[j].f_key != NULL) {
			diag(ld, CONFIG_ERROR, k->n_line, "duplicate key "
			    "\"%s\" in %s (first at line %d)", ESC(k, eb),
			    section, f[j].f_key->n_line);
			continue;
		}
		f[j].f_key = k;
		f[j].f_val = map->n_kids[i + 1];
	}
}

/* ------------------------------------------------------------------------
 * walking: typed values
 *
 * Each getter returns 1 when the value is absent or null (the caller keeps
 * its default), 0 when *out was set, -1 after reporting an error.
 */

static int
need_scalar(struct loader *ld, const char *name, const struct node *n)
{
	if (n->n_type == NODE_SCALAR)
		return 0;
	diag(ld, CONFIG_ERROR, n->n_line, "%s: expected a scalar, got %s",
	    name, type_name(n));
	return -1;
}

static int
get_str(struct loader *ld, const char *name, const struct node *n,
    char **out)
{
	char *s;

	if (is_null(n))
		return 1;
	if (need_scalar(ld, name, n) == -1)
		return -1;
	if (strlen(n->n_str) != n->n_len) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: contains a NUL byte",
		    name);
		return -1;
	}
	if ((s = xstrdup(ld, n->n_str)) == NULL)
		return -1;
	free(*out);
	*out = s;
	return 0;
}

/* Decimal digits with an optional "+"; what viper weakly reads as uint. */
static int
parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
get_uint(struct loader *ld, const char *name, const struct node *n,
    uint64_t max, uint64_t *out)
{
	char eb[128];
	uint64_t v;

	if (is_null(n))
		return 1;
	if (need_scalar(ld, name, n) == -1)
		return -1;
	ESC(n, eb);
	if (n->n_str[0] == '-' && parse_uint(n->n_str + 1, &v) == 0) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: must not be negative, "
		    "got %s", name, eb);
		return -1;
	}
	if (strlen(n->n_str) != n->n_len || parse_uint(n->n_str, &v) == -1) {
		if (n->n_len > 0 && strspn(n->n_str, "+0123456789") ==
		    n->n_len)
			diag(ld, CONFIG_ERROR, n->n_line, "%s: %s is too "
			    "large (at most %" PRIu64 ")", name, eb, max);
		else
			diag(ld, CONFIG_ERROR, n->n_line, "%s: expected an "
			    "integer, got \"%s\"", name, eb);
		return -1;
	}
	if (v > max) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: %" PRIu64 " is too "
		    "large (at most %" PRIu64 ")", name, v, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* What Go's strconv.ParseBool accepts (viper's weak decoding). */
static int
get_bool(struct loader *ld, const char *name, const struct node *n,
    int *out)
{
	static const char *const yes[] = { "1", "t", "true" };
	static const char *const no[] = { "0", "f", "false" };
	char eb[128];
	size_t i;

	if (is_null(n))
		return 1;
	if (need_scalar(ld, name, n) == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		if (strcasecmp(n->n_str, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(n->n_str, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	diag(ld, CONFIG_ERROR, n->n_line, "%s: expected true or false, got "
	    "\"%s\"", name, ESC(n, eb));
	return -1;
}

/* Digits with at most one ".": what RoadRunner would read as nanoseconds. */
static int
is_bare_number(const char *s)
{
	int dot = 0, digits = 0;

	if (*s == '+')
		s++;
	for (; *s != '\0'; s++) {
		if (isdigit((unsigned char)*s))
			digits++;
		else if (*s == '.' && !dot)
			dot = 1;
		else
			return 0;
	}
	return digits > 0;
}

static int
get_duration(struct loader *ld, const char *name, const struct node *n,
    int64_t *out)
{
	char eb[128];
	int64_t ms;

	if (is_null(n))
		return 1;
	if (need_scalar(ld, name, n) == -1)
		return -1;
	ESC(n, eb);
	if (strlen(n->n_str) == n->n_len &&
	    config_parse_duration(n->n_str, &ms) == 0) {
		*out = ms;
		return 0;
	}
	if (is_bare_number(n->n_str))
		diag(ld, CONFIG_ERROR, n->n_line, "%s: a bare number is not a "
		    "duration; write \"%ss\" (RoadRunner would read %s as "
		    "nanoseconds)", name, eb, eb);
	else if (n->n_str[0] == '-')
		diag(ld, CONFIG_ERROR, n->n_line, "%s: negative duration "
		    "\"%s\"", name, eb);
	else
		diag(ld, CONFIG_ERROR, n->n_line, "%s: invalid duration "
		    "\"%s\" (write e.g. \"60s\", \"1m30s\", \"500ms\")", name,
		    eb);
	return -1;
}

/* Bytes, or a number with B, K, KB, KiB, M, MB, MiB, G, GB or GiB (x1024). */
static int
parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char	*suffix;
		uint64_t	 mult;
	} units[] = {
		{ "", 1 }, { "b", 1 },
		{ "k", 1 << 10 }, { "kb", 1 << 10 }, { "kib", 1 << 10 },
		{ "m", 1 << 20 }, { "mb", 1 << 20 }, { "mib", 1 << 20 },
		{ "g", 1 << 30 }, { "gb", 1 << 30 }, { "gib", 1 << 30 },
	};
	uint64_t v = 0;
	size_t i;

	if (*s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	while (*s == ' ')
		s++;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(s, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return -1;
		*out = v * units[i].mult;
		return 0;
	}
	return -1;
}

static int
get_size(struct loader *ld, const char *name, const struct node *n,
    size_t *out)
{
	char eb[128];
	uint64_t v;

	if (is_null(n))
		return 1;
	if (need_scalar(ld, name, n) == -1)
		return -1;
	if (strlen(n->n_str) != n->n_len || parse_size(n->n_str, &v) == -1 ||
	    v > SIZE_MAX) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: invalid size \"%s\" "
		    "(bytes, or a number with K, KiB, M, MiB, G or GiB)", name,
		    ESC(n, eb));
		return -1;
	}
	if (v == 0) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: must be at least 1 "
		    "byte", name);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

/*
 * A command: a string split on blanks (no quoting, and no split on "," as
 * viper's string-to-slice hook would do, Q22), or a YAML list used as argv.
 */
static int
get_command(struct loader *ld, const char *name, const struct node *n,
    char ***out)
{
	char **argv = NULL, *s, *word, *save;
	size_t argc = 0, i;

	if (is_null(n))
		return 1;
	if (n->n_type == NODE_MAP) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: expected a string or a "
		    "list, got a map", name);
		return -1;
	}
	if (n->n_type == NODE_SEQ) {
		for (i = 0; i < n->n_nkids; i++) {
			const struct node *it = n->n_kids[i];

			s = NULL;
			if (it->n_type != NODE_SCALAR) {
				diag(ld, CONFIG_ERROR, it->n_line, "%s: list "
				    "items must be strings, got %s", name,
				    type_name(it));
				goto fail;
			}
			if (strlen(it->n_str) != it->n_len) {
				diag(ld, CONFIG_ERROR, it->n_line, "%s: "
				    "contains a NUL byte", name);
				goto fail;
			}
			if (strv_push(ld, &argv, &argc,
			    xstrdup(ld, it->n_str)) == -1)
				goto fail;
		}
	} else {
		if (strlen(n->n_str) != n->n_len) {
			diag(ld, CONFIG_ERROR, n->n_line, "%s: contains a NUL "
			    "byte", name);
			return -1;
		}
		if (strchr(n->n_str, ',') != NULL)
			diag(ld, CONFIG_WARN, n->n_line, "%s: RoadRunner would "
			    "split this command on \",\"; rrtcp splits it on "
			    "blanks only (use a YAML list to be explicit)",
			    name);
		if ((s = xstrdup(ld, n->n_str)) == NULL)
			return -1;
		for (word = strtok_r(s, " \t\n\v\f\r", &save); word != NULL;
		    word = strtok_r(NULL, " \t\n\v\f\r", &save))
			if (strv_push(ld, &argv, &argc,
			    xstrdup(ld, word)) == -1) {
				free(s);
				goto fail;
			}
		free(s);
	}
	if (argc == 0)
		return 1;
	strv_free(*out);
	*out = argv;
	return 0;
fail:
	strv_free(argv);
	return -1;
}

/* ------------------------------------------------------------------------
 * addresses
 */

struct addr {
	int	 is_unix;
	char	*host;
	char	*port;
	char	*path;
};

static void
addr_clear(struct addr *a)
{
	free(a->host);
	free(a->port);
	free(a->path);
	memset(a, 0, sizeof(*a));
}

/*
 * Splits an address the way RoadRunner's tcplisten does: "unix://path",
 * "tcp://host:port" or a bare "host:port", with Go's net.SplitHostPort
 * rules for the host part (IPv6 in brackets, ":port" for any IPv4).  No
 * name resolution here; that happens at listen time.
 */
static int
parse_addr(struct loader *ld, const char *name, const char *s, int line,
    struct addr *a)
{
	const char *hp = s, *sep, *colon, *end, *p;
	char eb[128];
	size_t hl;
	unsigned long port;

	memset(a, 0, sizeof(*a));
	esc(s, strlen(s), eb, sizeof(eb));
	if ((sep = strstr(s, "://")) != NULL) {
		if (sep - s == 4 && strncmp(s, "unix", 4) == 0) {
			if (sep[3] == '\0') {
				diag(ld, CONFIG_ERROR, line, "%s: empty unix "
				    "socket path in \"%s\"", name, eb);
				return -1;
			}
			a->is_unix = 1;
			if ((a->path = xstrdup(ld, sep + 3)) == NULL)
				return -1;
			return 0;
		}
		if (sep - s != 3 || strncmp(s, "tcp", 3) != 0) {
			diag(ld, CONFIG_ERROR, line, "invalid Protocol");
			return -1;
		}
		hp = sep + 3;
	}

	if (hp[0] == '[') {
		if ((end = strchr(hp, ']')) == NULL) {
			diag(ld, CONFIG_ERROR, line, "%s: missing \"]\" in "
			    "address \"%s\"", name, eb);
			return -1;
		}
		if (end[1] != ':') {
			diag(ld, CONFIG_ERROR, line, "%s: missing port in "
			    "address \"%s\"", name, eb);
			return -1;
		}
		colon = end + 1;
		hp++;
		hl = (size_t)(end - hp);
	} else {
		if ((colon = strrchr(hp, ':')) == NULL) {
			diag(ld, CONFIG_ERROR, line, "%s: missing port in "
			    "address \"%s\"", name, eb);
			return -1;
		}
		hl = (size_t)(colon - hp);
		if (memchr(hp, ':', hl) != NULL) {
			diag(ld, CONFIG_ERROR, line, "%s: too many colons in "
			    "address \"%s\" (put an IPv6 host in brackets: "
			    "\"[::1]:7000\")", name, eb);
			return -1;
		}
	}
	for (p = hp; p < hp + hl; p++) {
		if (isspace((unsigned char)*p) || *p == '/' || *p == '[' ||
		    *p == ']') {
			diag(ld, CONFIG_ERROR, line, "%s: invalid host in "
			    "address \"%s\"", name, eb);
			return -1;
		}
	}
	p = colon + 1;
	if (*p == '\0') {
		diag(ld, CONFIG_ERROR, line, "%s: missing port in address "
		    "\"%s\"", name, eb);
		return -1;
	}
	port = 0;
	for (; isdigit((unsigned char)*p) && port <= 65535; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (*p != '\0' || port > 65535) {
		diag(ld, CONFIG_ERROR, line, "%s: invalid port in address "
		    "\"%s\"", name, eb);
		return -1;
	}
	if ((a->host = strndup(hp, hl)) == NULL ||
	    asprintf(&a->port, "%lu", port) == -1) {
		a->port = NULL;
		addr_clear(a);
		oom(ld);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * sections
 */

static void
walk_env(struct loader *ld, const struct node *map)
{
	struct rr_config *cfg = ld->cfg;
	const struct node *k, *v;
	char *entry, *key, eb[128];
	size_t i, j, kl;

	if (need_map(ld, "env", map) == -1 || is_null(map))
		return;
	for (i = 0; i + 1 < map->n_nkids; i += 2) {
		k = map->n_kids[i];
		v = map->n_kids[i + 1];
		if (check_key(ld, k, "server.env") == -1)
			continue;
		if (k->n_len == 0 || strchr(k->n_str, '=') != NULL) {
			diag(ld, CONFIG_ERROR, k->n_line, "env: invalid "
			    "variable name \"%s\"", ESC(k, eb));
			continue;
		}
		if (!is_null(v) && need_scalar(ld, k->n_str, v) == -1)
			continue;
		if (!is_null(v) && strlen(v->n_str) != v->n_len) {
			diag(ld, CONFIG_ERROR, v->n_line, "%s: contains a NUL "
			    "byte", k->n_str);
			continue;
		}
		if (asprintf(&entry, "%s=%s", k->n_str,
		    is_null(v) ? "" : v->n_str) == -1) {
			oom(ld);
			return;
		}
		/* RoadRunner upper-cases the (viper lower-cased) names */
		for (key = entry; *key != '='; key++)
			*key = (char)toupper((unsigned char)*key);
		kl = (size_t)(key - entry) + 1;
		/* later wins: libc getenv() would return the first one */
		for (j = 0; j < ld->nenv; j++)
			if (strncmp(cfg->env[j], entry, kl) == 0)
				break;
		if (j < ld->nenv) {
			free(cfg->env[j]);
			cfg->env[j] = entry;
		} else
			strv_push(ld, &cfg->env, &ld->nenv, entry);
	}
}

static void
walk_server(struct loader *ld, const struct node *map)
{
	enum { S_COMMAND, S_ENV, S_USER, S_GROUP, S_RELAY, S_RELAY_TIMEOUT,
	    S_ON_INIT, S_N };
	struct field f[S_N] = {
		[S_COMMAND] = { "command", NULL, NULL },
		[S_ENV] = { "env", NULL, NULL },
		[S_USER] = { "user", NULL, NULL },
		[S_GROUP] = { "group", NULL, NULL },
		[S_RELAY] = { "relay", NULL, NULL },
		[S_RELAY_TIMEOUT] = { "relay_timeout", NULL, NULL },
		[S_ON_INIT] = { "on_init", NULL, NULL },
	};
	char *relay = NULL, eb[128];

	if (need_map(ld, "server", map) == -1) {
		ld->cmd_bad = 1;
		return;
	}
	match_fields(ld, map, "server", f, S_N);
	if (get_command(ld, "command", f[S_COMMAND].f_val,
	    &ld->server_cmd) == -1)
		ld->cmd_bad = 1;
	walk_env(ld, f[S_ENV].f_val);
	if (!is_empty(f[S_USER].f_val))
		diag(ld, CONFIG_WARN, f[S_USER].f_key->n_line, "server.user: "
		    "not supported by rrtcp, ignored (workers run as rrtcp's "
		    "own user)");
	if (!is_empty(f[S_GROUP].f_val))
		diag(ld, CONFIG_WARN, f[S_GROUP].f_key->n_line, "server.group: "
		    "not supported by rrtcp, ignored (RoadRunner ignores it "
		    "too)");
	if (!is_empty(f[S_ON_INIT].f_val))
		diag(ld, CONFIG_WARN, f[S_ON_INIT].f_key->n_line,
		    "server.on_init: not supported by rrtcp, ignored");
	/* relay_timeout only matters for socket relays: accepted, unused */
	if (get_str(ld, "relay", f[S_RELAY].f_val, &relay) == 0 &&
	    *relay != '\0' && strcmp(relay, "pipes") != 0)
		diag(ld, CONFIG_ERROR, f[S_RELAY].f_val->n_line, "relay: only "
		    "\"pipes\" is supported by rrtcp, got \"%s\"",
		    esc(relay, strlen(relay), eb, sizeof(eb)));
	free(relay);
}

static void
walk_rpc(struct loader *ld, const struct node *map)
{
	enum { R_LISTEN, R_N };
	struct field f[R_N] = { [R_LISTEN] = { "listen", NULL, NULL } };
	struct rr_config *cfg = ld->cfg;
	struct addr a;

	if (need_map(ld, "rpc", map) == -1 || is_null(map))
		return;
	match_fields(ld, map, "rpc", f, R_N);
	/* the rpc plugin's InitDefaults(): listen defaults when empty */
	if (get_str(ld, "listen", f[R_LISTEN].f_val, &cfg->rpc_listen) == -1)
		return;
	if (cfg->rpc_listen != NULL && *cfg->rpc_listen == '\0') {
		free(cfg->rpc_listen);
		cfg->rpc_listen = NULL;
	}
	if (cfg->rpc_listen == NULL) {
		cfg->rpc_listen = xstrdup(ld, DEF_RPC_LISTEN);
		return;
	}
	if (parse_addr(ld, "listen", cfg->rpc_listen,
	    f[R_LISTEN].f_val->n_line, &a) == 0)
		addr_clear(&a);
}

static void
walk_logs(struct loader *ld, const struct node *map)
{
	enum { L_LEVEL, L_ENCODING, L_OUTPUT, L_MODE, L_ERR_OUTPUT,
	    L_LINE_ENDING, L_CHANNELS, L_FILE_LOGGER, L_N };
	struct field f[L_N] = {
		[L_LEVEL] = { "level", NULL, NULL },
		[L_ENCODING] = { "encoding", NULL, NULL },
		[L_OUTPUT] = { "output", NULL, NULL },
		[L_MODE] = { "mode", NULL, NULL },
		[L_ERR_OUTPUT] = { "err_output", NULL, NULL },
		[L_LINE_ENDING] = { "line_ending", NULL, NULL },
		[L_CHANNELS] = { "channels", NULL, NULL },
		[L_FILE_LOGGER] = { "file_logger_options", NULL, NULL },
	};
	static const char *const levels[] = { "debug", "info", "warn",
	    "error" };
	struct rr_config *cfg = ld->cfg;
	char eb[128];
	size_t i;

	if (need_map(ld, "logs", map) == -1 || is_null(map))
		return;
	match_fields(ld, map, "logs", f, L_N);
	if (get_str(ld, "level", f[L_LEVEL].f_val, &cfg->log_level) == 0) {
		lower(cfg->log_level);
		for (i = 0; i < 4; i++)
			if (strcmp(cfg->log_level, levels[i]) == 0)
				break;
		if (i == 4)
			diag(ld, CONFIG_ERROR, f[L_LEVEL].f_val->n_line,
			    "level: expected debug, info, warn or error, got "
			    "\"%s\"", ESC(f[L_LEVEL].f_val, eb));
	}
	if (get_str(ld, "encoding", f[L_ENCODING].f_val,
	    &cfg->log_encoding) == 0) {
		lower(cfg->log_encoding);
		if (strcmp(cfg->log_encoding, "console") != 0 &&
		    strcmp(cfg->log_encoding, "json") != 0)
			diag(ld, CONFIG_ERROR, f[L_ENCODING].f_val->n_line,
			    "encoding: expected console or json, got \"%s\"",
			    ESC(f[L_ENCODING].f_val, eb));
	}
	if (get_str(ld, "output", f[L_OUTPUT].f_val, &cfg->log_output) == 0 &&
	    *cfg->log_output == '\0')
		diag(ld, CONFIG_ERROR, f[L_OUTPUT].f_val->n_line, "output: "
		    "expected stderr, stdout or a file path");
	/* logs.mode (development, production, raw) has no rrtcp meaning */
	for (i = L_ERR_OUTPUT; i < L_N; i++)
		if (f[i].f_key != NULL)
			diag(ld, CONFIG_WARN, f[i].f_key->n_line, "logs.%s: "
			    "not supported by rrtcp, ignored", f[i].f_name);
}

static void
walk_supervisor(struct loader *ld, const struct node *map)
{
	enum { V_WATCH_TICK, V_TTL, V_IDLE_TTL, V_MAX_MEMORY, V_EXEC_TTL,
	    V_N };
	struct field f[V_N] = {
		[V_WATCH_TICK] = { "watch_tick", NULL, NULL },
		[V_TTL] = { "ttl", NULL, NULL },
		[V_IDLE_TTL] = { "idle_ttl", NULL, NULL },
		[V_MAX_MEMORY] = { "max_worker_memory", NULL, NULL },
		[V_EXEC_TTL] = { "exec_ttl", NULL, NULL },
	};
	struct rr_supervisor_conf *sv = &ld->cfg->pool.supervisor;

	/*
	 * "supervisor:" with nothing under it is YAML null, which RoadRunner
	 * decodes to a nil *SupervisorConfig: no supervisor.  Same here.
	 */
	if (need_map(ld, "supervisor", map) == -1 || is_null(map))
		return;
	sv->enabled = 1;
	match_fields(ld, map, "tcp.pool.supervisor", f, V_N);
	get_duration(ld, "watch_tick", f[V_WATCH_TICK].f_val,
	    &sv->watch_tick_ms);
	get_duration(ld, "ttl", f[V_TTL].f_val, &sv->ttl_ms);
	get_duration(ld, "idle_ttl", f[V_IDLE_TTL].f_val, &sv->idle_ttl_ms);
	get_uint(ld, "max_worker_memory", f[V_MAX_MEMORY].f_val,
	    UINT64_MAX / MIB, &sv->max_worker_memory_mb);
	get_duration(ld, "exec_ttl", f[V_EXEC_TTL].f_val, &sv->exec_ttl_ms);
	if (sv->watch_tick_ms == 0)
		sv->watch_tick_ms = DEF_WATCH_TICK_MS;
}

static void
walk_dynamic(struct loader *ld, const struct node *map)
{
	enum { D_MAX_WORKERS, D_SPAWN_RATE, D_IDLE_TIMEOUT, D_N };
	struct field f[D_N] = {
		[D_MAX_WORKERS] = { "max_workers", NULL, NULL },
		[D_SPAWN_RATE] = { "spawn_rate", NULL, NULL },
		[D_IDLE_TIMEOUT] = { "idle_timeout", NULL, NULL },
	};
	struct rr_dynamic_conf *dy = &ld->cfg->pool.dynamic;
	uint64_t v;

	if (need_map(ld, "dynamic_allocator", map) == -1 || is_null(map))
		return;
	dy->enabled = 1;
	match_fields(ld, map, "tcp.pool.dynamic_allocator", f, D_N);
	if (get_uint(ld, "max_workers", f[D_MAX_WORKERS].f_val, UINT_MAX,
	    &v) == 0 && v > 0)
		dy->max_workers = (unsigned)v;
	if (get_uint(ld, "spawn_rate", f[D_SPAWN_RATE].f_val, MAX_SPAWN_RATE,
	    &v) == 0 && v > 0)
		dy->spawn_rate = (unsigned)v;
	get_duration(ld, "idle_timeout", f[D_IDLE_TIMEOUT].f_val,
	    &dy->idle_timeout_ms);
	if (dy->idle_timeout_ms == 0)
		dy->idle_timeout_ms = DEF_DYN_IDLE_MS;
}

static void
walk_pool(struct loader *ld, const struct node *map)
{
	enum { P_COMMAND, P_NUM_WORKERS, P_MAX_JOBS, P_MAX_QUEUE,
	    P_ALLOCATE, P_DESTROY, P_RESET, P_STREAM, P_DEBUG, P_SUPERVISOR,
	    P_DYNAMIC, P_N };
	struct field f[P_N] = {
		[P_COMMAND] = { "command", NULL, NULL },
		[P_NUM_WORKERS] = { "num_workers", NULL, NULL },
		[P_MAX_JOBS] = { "max_jobs", NULL, NULL },
		[P_MAX_QUEUE] = { "max_queue_size", NULL, NULL },
		[P_ALLOCATE] = { "allocate_timeout", NULL, NULL },
		[P_DESTROY] = { "destroy_timeout", NULL, NULL },
		[P_RESET] = { "reset_timeout", NULL, NULL },
		[P_STREAM] = { "stream_timeout", NULL, NULL },
		[P_DEBUG] = { "debug", NULL, NULL },
		[P_SUPERVISOR] = { "supervisor", NULL, NULL },
		[P_DYNAMIC] = { "dynamic_allocator", NULL, NULL },
	};
	struct rr_pool_conf *pool = &ld->cfg->pool;
	int64_t *tmo[] = { &pool->allocate_timeout_ms,
	    &pool->destroy_timeout_ms, &pool->reset_timeout_ms,
	    &pool->stream_timeout_ms };
	uint64_t v;
	size_t i;

	if (need_map(ld, "pool", map) == -1) {
		ld->cmd_bad = 1;
		return;
	}
	match_fields(ld, map, "tcp.pool", f, P_N);
	if (get_command(ld, "command", f[P_COMMAND].f_val,
	    &ld->pool_cmd) == -1)
		ld->cmd_bad = 1;
	if (get_uint(ld, "num_workers", f[P_NUM_WORKERS].f_val, MAX_WORKERS,
	    &v) == 0) {
		pool->num_workers = (unsigned)v;
		ld->num_workers_set = 1;
	}
	get_uint(ld, "max_jobs", f[P_MAX_JOBS].f_val, UINT64_MAX,
	    &pool->max_jobs);
	get_uint(ld, "max_queue_size", f[P_MAX_QUEUE].f_val, UINT64_MAX,
	    &pool->max_queue_size);
	for (i = 0; i < 4; i++) {
		/* RoadRunner's InitDefaults(): 0 means the default */
		get_duration(ld, f[P_ALLOCATE + i].f_name,
		    f[P_ALLOCATE + i].f_val, tmo[i]);
		if (*tmo[i] == 0)
			*tmo[i] = DEF_POOL_TIMEOUT_MS;
	}
	get_bool(ld, "debug", f[P_DEBUG].f_val, &pool->debug);
	walk_supervisor(ld, f[P_SUPERVISOR].f_val);
	walk_dynamic(ld, f[P_DYNAMIC].f_val);
}

static struct rr_server_conf *
server_add(struct loader *ld)
{
	struct rr_config *cfg = ld->cfg;
	struct rr_server_conf *s;
	size_t cap;

	if (cfg->nservers == ld->servers_cap) {
		cap = ld->servers_cap ? ld->servers_cap * 2 : 4;
		if ((s = reallocarray(cfg->servers, cap, sizeof(*s))) == NULL) {
			oom(ld);
			return NULL;
		}
		cfg->servers = s;
		ld->servers_cap = cap;
	}
	s = &cfg->servers[cfg->nservers++];
	memset(s, 0, sizeof(*s));
	return s;
}

static void
walk_one_server(struct loader *ld, const struct node *k, const struct node *v)
{
	enum { T_ADDR, T_DELIMITER, T_MAX_MESSAGE, T_N };
	struct field f[T_N] = {
		[T_ADDR] = { "addr", NULL, NULL },
		[T_DELIMITER] = { "delimiter", NULL, NULL },
		[T_MAX_MESSAGE] = { "max_message_size", NULL, NULL },
	};
	struct rr_config *cfg = ld->cfg;
	struct rr_server_conf *s;
	const struct node *d;
	char *name, *section, eb[128];
	struct addr a;
	size_t i;

	if ((name = xstrdup(ld, k->n_str)) == NULL)
		return;
	lower(name);		/* viper: "SMTP:" arrives as "smtp" */
	for (i = 0; i < cfg->nservers; i++) {
		if (strcmp(cfg->servers[i].name, name) == 0) {
			diag(ld, CONFIG_ERROR, k->n_line, "server \"%s\" is "
			    "already defined at line %d (server names are "
			    "case-insensitive)", esc(name, strlen(name), eb,
			    sizeof(eb)), cfg->servers[i].line);
			free(name);
			return;
		}
	}
	if ((s = server_add(ld)) == NULL) {
		free(name);
		return;
	}
	s->name = name;
	s->line = k->n_line > 0 ? k->n_line : 0;
	s->max_message_size = DEF_MAX_MESSAGE;
	if (need_map(ld, name, v) == -1)
		return;
	if (asprintf(&section, "tcp.servers.%s", name) == -1) {
		oom(ld);
		return;
	}
	match_fields(ld, v, section, f, T_N);
	free(section);

	get_str(ld, "addr", f[T_ADDR].f_val, &s->addr);
	if (s->addr == NULL || *s->addr == '\0')
		diag(ld, CONFIG_ERROR, f[T_ADDR].f_val ?
		    f[T_ADDR].f_val->n_line : k->n_line,
		    "empty address for the server: %s",
		    esc(name, strlen(name), eb, sizeof(eb)));
	else if (parse_addr(ld, "addr", s->addr, f[T_ADDR].f_val->n_line,
	    &a) == 0) {
		s->is_unix = a.is_unix;
		s->host = a.host;
		s->port = a.port;
		s->path = a.path;
	}

	/* bytes as YAML decoded them: "\r\n" is CR LF, '\r\n' 4 chars */
	d = f[T_DELIMITER].f_val;
	if (!is_null(d) && need_scalar(ld, "delimiter", d) == 0 &&
	    d->n_len > 0) {
		if ((s->delim = malloc(d->n_len + 1)) == NULL) {
			oom(ld);
			return;
		}
		memcpy(s->delim, d->n_str, d->n_len + 1);
		s->delim_len = d->n_len;
	}
	if (s->delim == NULL) {
		if ((s->delim = xstrdup(ld, DEF_DELIM)) == NULL)
			return;
		s->delim_len = strlen(DEF_DELIM);
	}
	if (get_size(ld, "max_message_size", f[T_MAX_MESSAGE].f_val,
	    &s->max_message_size) == 0 && s->max_message_size < s->delim_len)
		diag(ld, CONFIG_ERROR, f[T_MAX_MESSAGE].f_val->n_line,
		    "max_message_size: %zu is shorter than the delimiter",
		    s->max_message_size);
}

static void
walk_servers(struct loader *ld, const struct node *map)
{
	size_t i;

	if (need_map(ld, "servers", map) == -1) {
		ld->servers_bad = 1;
		return;
	}
	if (is_null(map))
		return;
	for (i = 0; i + 1 < map->n_nkids; i += 2) {
		const struct node *k = map->n_kids[i];

		if (check_key(ld, k, "tcp.servers") == -1)
			continue;
		if (k->n_len == 0) {
			diag(ld, CONFIG_ERROR, k->n_line, "tcp.servers: empty "
			    "server name");
			continue;
		}
		walk_one_server(ld, k, map->n_kids[i + 1]);
	}
}

static void
walk_tcp(struct loader *ld, const struct node *map)
{
	enum { C_SERVERS, C_READ_BUF, C_POOL, C_REACTORS, C_MAX_CONN,
	    C_MAX_FRAME, C_CLOSE_TIMEOUT, C_N };
	struct field f[C_N] = {
		[C_SERVERS] = { "servers", NULL, NULL },
		[C_READ_BUF] = { "read_buf_size", NULL, NULL },
		[C_POOL] = { "pool", NULL, NULL },
		[C_REACTORS] = { "reactors", NULL, NULL },
		[C_MAX_CONN] = { "max_connections", NULL, NULL },
		[C_MAX_FRAME] = { "max_frame_size", NULL, NULL },
		[C_CLOSE_TIMEOUT] = { "close_timeout", NULL, NULL },
	};
	struct rr_config *cfg = ld->cfg;
	uint64_t v;

	if (need_map(ld, "tcp", map) == -1) {
		ld->servers_bad = 1;
		return;
	}
	if (is_null(map))
		return;
	match_fields(ld, map, "tcp", f, C_N);
	if (f[C_SERVERS].f_key != NULL)
		ld->tcp_line = f[C_SERVERS].f_key->n_line;
	walk_servers(ld, f[C_SERVERS].f_val);
	/* MiB, as in RoadRunner; 0 means the default (InitDefaults) */
	if (get_uint(ld, "read_buf_size", f[C_READ_BUF].f_val,
	    SIZE_MAX / MIB, &v) == 0 && v > 0)
		cfg->read_buf_size = (size_t)v * MIB;
	walk_pool(ld, f[C_POOL].f_val);
	if (get_uint(ld, "reactors", f[C_REACTORS].f_val, MAX_REACTORS,
	    &v) == 0)
		cfg->reactors = (unsigned)v;
	if (get_uint(ld, "max_connections", f[C_MAX_CONN].f_val, UINT64_MAX,
	    &v) == 0) {
		if (v == 0)
			diag(ld, CONFIG_ERROR, f[C_MAX_CONN].f_val->n_line,
			    "max_connections: must be at least 1");
		cfg->max_connections = v;
	}
	get_size(ld, "max_frame_size", f[C_MAX_FRAME].f_val,
	    &cfg->max_frame_size);
	get_duration(ld, "close_timeout", f[C_CLOSE_TIMEOUT].f_val,
	    &cfg->close_timeout_ms);
	if (cfg->close_timeout_ms == 0)
		cfg->close_timeout_ms = DEF_CLOSE_TIMEOUT_MS;
}

static int
is_other_plugin(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(other_plugins) / sizeof(other_plugins[0]); i++)
		if (strcmp(key, other_plugins[i]) == 0)
			return 1;
	return 0;
}

static void
walk_top(struct loader *ld, const struct node *root)
{
	enum { K_VERSION, K_SERVER, K_TCP, K_RPC, K_LOGS, K_N };
	struct field f[K_N] = {
		[K_VERSION] = { "version", NULL, NULL },
		[K_SERVER] = { "server", NULL, NULL },
		[K_TCP] = { "tcp", NULL, NULL },
		[K_RPC] = { "rpc", NULL, NULL },
		[K_LOGS] = { "logs", NULL, NULL },
	};
	struct rr_config *cfg = ld->cfg;
	struct sbuf others = { NULL, 0, 0, 0 };
	const struct node *k;
	const char *hint;
	char *key, eb[128];
	size_t i, j;

	if (!is_null(root) && root->n_type != NODE_MAP) {
		diag(ld, CONFIG_ERROR, root->n_line, "expected a map of "
		    "sections at the top level, got %s", type_name(root));
		return;
	}
	for (i = 0; root != NULL && i + 1 < root->n_nkids; i += 2) {
		k = root->n_kids[i];
		if (check_key(ld, k, "top level") == -1)
			continue;
		for (j = 0; j < K_N; j++)
			if (key_is(k, f[j].f_name))
				break;
		if (j < K_N) {
			if (f[j].f_key != NULL)
				diag(ld, CONFIG_ERROR, k->n_line, "duplicate "
				    "key \"%s\" (first at line %d)",
				    ESC(k, eb), f[j].f_key->n_line);
			else {
				f[j].f_key = k;
				f[j].f_val = root->n_kids[i + 1];
			}
			continue;
		}
		if ((key = xstrdup(ld, k->n_str)) == NULL)
			continue;
		lower(key);
		if (strcmp(key, "include") == 0) {
			diag(ld, CONFIG_WARN, k->n_line, "include: not "
			    "supported by rrtcp; the included files are not "
			    "read");
		} else if (!is_other_plugin(key) &&
		    (hint = suggest(key, f, K_N)) != NULL &&
		    edit_distance(key, hint) <= 1) {
			/* one edit from a section of ours: surely a typo */
			diag(ld, CONFIG_WARN, k->n_line, "unknown section "
			    "\"%s\", ignored; did you mean \"%s\"?",
			    ESC(k, eb), hint);
		} else {
			/* each name once, even if the file repeats it */
			for (j = 0; j < i; j += 2)
				if (same_key(root->n_kids[j], k))
					break;
			if (j == i) {
				if (others.s_len > 0)
					sbuf_add(&others, ", ", 2);
				sbuf_add(&others, key, strlen(key));
			}
		}
		free(key);
	}
	if (others.s_buf != NULL) {
		diag(ld, CONFIG_INFO, LINE_NONE, "ignoring sections of other "
		    "RoadRunner plugins: %s", others.s_buf);
		free(others.s_buf);
	}

	if (is_null(f[K_VERSION].f_val)) {
		diag(ld, CONFIG_ERROR, f[K_VERSION].f_key ?
		    f[K_VERSION].f_key->n_line : LINE_NONE, "missing version");
	} else if (get_str(ld, "version", f[K_VERSION].f_val,
	    &cfg->version) == 0 && strcmp(cfg->version, "3") != 0) {
		diag(ld, CONFIG_WARN, f[K_VERSION].f_val->n_line, "version "
		    "\"%s\": rrtcp reads RoadRunner version \"3\" "
		    "configurations; reading it as one",
		    ESC(f[K_VERSION].f_val, eb));
	}
	walk_server(ld, f[K_SERVER].f_val);
	if (f[K_TCP].f_key != NULL)
		ld->tcp_line = f[K_TCP].f_key->n_line;
	walk_tcp(ld, f[K_TCP].f_val);
	walk_rpc(ld, f[K_RPC].f_val);
	walk_logs(ld, f[K_LOGS].f_val);
}

/* ------------------------------------------------------------------------
 * after the walk
 */

static void
finish(struct loader *ld)
{
	struct rr_config *cfg = ld->cfg;
	struct rr_server_conf *a, *b;
	size_t i, j;

	if (cfg->nservers == 0 && !ld->servers_bad)
		diag(ld, CONFIG_ERROR, ld->tcp_line > 0 ? ld->tcp_line :
		    LINE_NONE, "no servers registered");

	/*
	 * RoadRunner binds with SO_REUSEPORT, so two servers on one address
	 * silently share its connections (Q19).  That is never what a config
	 * means; port 0 (any free port) is the exception.
	 */
	for (i = 0; i < cfg->nservers; i++) {
		a = &cfg->servers[i];
		for (j = 0; j < i; j++) {
			b = &cfg->servers[j];
			if (a->addr == NULL || b->addr == NULL ||
			    a->is_unix != b->is_unix)
				continue;
			if (a->is_unix ? a->path == NULL || b->path == NULL ||
			    strcmp(a->path, b->path) != 0 :
			    a->host == NULL || b->host == NULL ||
			    strcmp(a->host, b->host) != 0 ||
			    strcmp(a->port, b->port) != 0 ||
			    strcmp(a->port, "0") == 0)
				continue;
			diag(ld, CONFIG_ERROR, a->line, "server \"%s\": "
			    "address \"%s\" is already used by server \"%s\"",
			    a->name, a->addr, b->name);
			break;
		}
	}

	/* tcp.pool.command overrides server.command */
	if (ld->pool_cmd != NULL) {
		cfg->pool.command = ld->pool_cmd;
		ld->pool_cmd = NULL;
	} else if (ld->server_cmd != NULL) {
		cfg->pool.command = ld->server_cmd;
		ld->server_cmd = NULL;
	} else if (!ld->cmd_bad)
		diag(ld, CONFIG_ERROR, LINE_NONE, "no worker command: set "
		    "server.command or tcp.pool.command");

	if (!ld->num_workers_set || cfg->pool.num_workers == 0)
		cfg->pool.num_workers = (unsigned)ncpu();
	if (cfg->reactors == 0)
		cfg->reactors = (unsigned)ncpu();
	/* callers get an empty vector rather than NULL */
	if (cfg->env == NULL && (cfg->env = calloc(1, sizeof(char *))) == NULL)
		oom(ld);
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
				oom(ld);
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

static void
set_workdir(struct loader *ld)
{
	struct rr_config *cfg = ld->cfg;
	char *tmp;

	if (ld->opts->workdir != NULL) {
		cfg->workdir = xstrdup(ld, ld->opts->workdir);
		return;
	}
	if ((tmp = xstrdup(ld, ld->file)) == NULL)
		return;
	if ((cfg->workdir = realpath(dirname(tmp), NULL)) == NULL)
		diag(ld, CONFIG_ERROR, LINE_NONE, "cannot resolve the "
		    "config's directory: %s", strerror(errno));
	free(tmp);
}

static int
defaults(struct loader *ld)
{
	struct rr_config *cfg = ld->cfg;

	cfg->read_buf_size = DEF_READ_BUF_MIB * MIB;
	cfg->max_connections = DEF_MAX_CONNECTIONS;
	cfg->max_frame_size = DEF_MAX_FRAME;
	cfg->close_timeout_ms = DEF_CLOSE_TIMEOUT_MS;
	cfg->pool.allocate_timeout_ms = DEF_POOL_TIMEOUT_MS;
	cfg->pool.destroy_timeout_ms = DEF_POOL_TIMEOUT_MS;
	cfg->pool.reset_timeout_ms = DEF_POOL_TIMEOUT_MS;
	cfg->pool.stream_timeout_ms = DEF_POOL_TIMEOUT_MS;
	cfg->pool.supervisor.watch_tick_ms = DEF_WATCH_TICK_MS;
	cfg->pool.dynamic.max_workers = DEF_DYN_MAX_WORKERS;
	cfg->pool.dynamic.spawn_rate = DEF_DYN_SPAWN_RATE;
	cfg->pool.dynamic.idle_timeout_ms = DEF_DYN_IDLE_MS;
	cfg->file = xstrdup(ld, ld->file);
	cfg->log_level = xstrdup(ld, "info");
	cfg->log_encoding = xstrdup(ld, "console");
	cfg->log_output = xstrdup(ld, "stderr");
	return ld->nerrors ? -1 : 0;
}

/* ------------------------------------------------------------------------
 * API
 */

struct rr_config *
config_load(const char *file, const struct config_opts *opts,
    config_report_fn *report, void *arg)
{
	static const struct config_opts noopts;
	struct loader ld;
	struct node *root = NULL;
	char *buf;
	size_t len, i;

	memset(&ld, 0, sizeof(ld));
	ld.file = file;
	ld.report = report;
	ld.arg = arg;
	ld.opts = opts != NULL ? opts : &noopts;
	if ((ld.cfg = calloc(1, sizeof(*ld.cfg))) == NULL) {
		oom(&ld);
		msgs_flush(&ld);
		return NULL;
	}
	if (defaults(&ld) == -1)
		goto out;

	overrides_parse(&ld);
	if ((buf = read_file(&ld, file, &len)) == NULL)
		goto out;
	if (build_tree(&ld, buf, len, &root) == -1) {
		free(buf);
		goto out;
	}
	free(buf);
	for (i = 0; ld.ovr != NULL && i < ld.opts->noverrides; i++)
		override_apply(&ld, &root, i);
	walk_top(&ld, root);
	finish(&ld);
	set_workdir(&ld);
out:
	nodes_free(&ld);
	for (i = 0; ld.ovr != NULL && i < ld.opts->noverrides; i++) {
		free(ld.ovr[i].o_path);
		free(ld.ovr[i].o_value);
	}
	free(ld.ovr);
	strv_free(ld.server_cmd);
	strv_free(ld.pool_cmd);
	msgs_flush(&ld);
	if (ld.nerrors > 0) {
		config_free(ld.cfg);
		return NULL;
	}
	return ld.cfg;
}

void
config_free(struct rr_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nservers; i++) {
		struct rr_server_conf *s = &cfg->servers[i];

		free(s->name);
		free(s->addr);
		free(s->host);
		free(s->port);
		free(s->path);
		free(s->delim);
	}
	free(cfg->servers);
	strv_free(cfg->pool.command);
	strv_free(cfg->env);
	free(cfg->file);
	free(cfg->workdir);
	free(cfg->version);
	free(cfg->rpc_listen);
	free(cfg->log_level);
	free(cfg->log_encoding);
	free(cfg->log_output);
	free(cfg);
}

/*
 * Go's time.ParseDuration, ported so that every string RoadRunner accepts
 * means the same here: "[+]([0-9]*(\.[0-9]*)?unit)+" with units ns, us, µs,
 * ms, s, m, h, plus a lone "0".  Negative durations are rejected (no rrtcp
 * timeout can be negative); the result is rounded down to milliseconds.
 */
int
config_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char	*name;
		uint64_t	 ns;
	} units[] = {
		{ "ns", 1ULL },
		{ "us", 1000ULL },
		{ "\xc2\xb5s", 1000ULL },	/* U+00B5 micro sign */
		{ "\xce\xbcs", 1000ULL },	/* U+03BC Greek mu */
		{ "ms", 1000000ULL },
		{ "s", 1000000000ULL },
		{ "m", 60000000000ULL },
		{ "h", 3600000000000ULL },
	};
	const uint64_t lim = 1ULL << 63;
	uint64_t d = 0, v, f, unit;
	double scale;
	size_t ulen, i;
	int pre, post, overflow;

	if (s == NULL)
		return -1;
	if (*s == '+')
		s++;
	else if (*s == '-')
		return -1;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		v = f = 0;
		scale = 1;
		pre = post = overflow = 0;
		if (*s != '.' && !isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++, pre = 1) {
			if (v > lim / 10)
				return -1;
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > lim)
				return -1;
		}
		if (*s == '.') {
			for (s++; isdigit((unsigned char)*s); s++, post = 1) {
				if (overflow)
					continue;
				if (f > (lim - 1) / 10) {
					overflow = 1;
					continue;
				}
				f = f * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
		if (!pre && !post)
			return -1;
		for (ulen = 0; s[ulen] != '\0' && s[ulen] != '.' &&
		    !isdigit((unsigned char)s[ulen]); ulen++)
			;
		if (ulen == 0)
			return -1;	/* missing unit */
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ulen &&
			    strncmp(s, units[i].name, ulen) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;	/* unknown unit */
		s += ulen;
		unit = units[i].ns;
		if (v > lim / unit)
			return -1;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > lim)
				return -1;
		}
		d += v;
		if (d > lim)
			return -1;
	}
	if (d > lim - 1)
		return -1;
	*ms = (int64_t)(d / 1000000);
	return 0;
}

/* ------------------------------------------------------------------------
 * dump
 */

/* Go's time.Duration.String() for a whole number of milliseconds. */
static void
fmt_duration(char *buf, size_t size, int64_t ms)
{
	int64_t h, m, sec, frac;
	char s[32];
	size_t n;

	if (ms == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	if (ms < 1000) {
		snprintf(buf, size, "%" PRId64 "ms", ms);
		return;
	}
	h = ms / 3600000;
	m = ms / 60000 % 60;
	sec = ms / 1000 % 60;
	frac = ms % 1000;
	if (frac != 0) {
		snprintf(s, sizeof(s), "%" PRId64 ".%03" PRId64, sec, frac);
		for (n = strlen(s); s[n - 1] == '0'; n--)
			s[n - 1] = '\0';
	} else
		snprintf(s, sizeof(s), "%" PRId64, sec);
	if (h > 0)
		snprintf(buf, size, "%" PRId64 "h%" PRId64 "m%ss", h, m, s);
	else if (m > 0)
		snprintf(buf, size, "%" PRId64 "m%ss", m, s);
	else
		snprintf(buf, size, "%ss", s);
}

/* A double-quoted YAML string: reads back as exactly these bytes. */
static void
dump_str(FILE *fp, const char *s, size_t n)
{
	size_t i;

	fputc('"', fp);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			fputs("\\\"", fp);
			break;
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		case '\0':
			fputs("\\0", fp);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(fp, "\\x%02x", c);
			else
				fputc(c, fp);
		}
	}
	fputc('"', fp);
}

static void
dump_kv_str(FILE *fp, const char *indent, const char *key, const char *s)
{
	fprintf(fp, "%s%s: ", indent, key);
	dump_str(fp, s, strlen(s));
	fputc('\n', fp);
}

static void
dump_kv_dur(FILE *fp, const char *indent, const char *key, int64_t ms)
{
	char b[64];

	fmt_duration(b, sizeof(b), ms);
	fprintf(fp, "%s%s: %s\n", indent, key, b);
}

void
config_dump(const struct rr_config *cfg, FILE *fp)
{
	const struct rr_pool_conf *p = &cfg->pool;
	const char *eq;
	size_t i;

	fprintf(fp, "# effective configuration of %s\n", cfg->file);
	if (cfg->workdir != NULL)
		fprintf(fp, "# workdir: %s\n", cfg->workdir);
	dump_kv_str(fp, "", "version", cfg->version ? cfg->version : "3");

	fprintf(fp, "server:\n");
	dump_kv_str(fp, "  ", "relay", "pipes");
	if (cfg->env != NULL && cfg->env[0] != NULL) {
		fprintf(fp, "  env:\n");
		for (i = 0; cfg->env[i] != NULL; i++) {
			eq = strchr(cfg->env[i], '=');
			fprintf(fp, "    ");
			dump_str(fp, cfg->env[i], (size_t)(eq - cfg->env[i]));
			fprintf(fp, ": ");
			dump_str(fp, eq + 1, strlen(eq + 1));
			fputc('\n', fp);
		}
	}

	if (cfg->rpc_listen != NULL) {
		fprintf(fp, "rpc:\n");
		dump_kv_str(fp, "  ", "listen", cfg->rpc_listen);
	} else
		fprintf(fp, "# rpc: not configured (no RPC server, no "
		    "RR_RPC)\n");

	fprintf(fp, "logs:\n");
	dump_kv_str(fp, "  ", "level", cfg->log_level);
	dump_kv_str(fp, "  ", "encoding", cfg->log_encoding);
	dump_kv_str(fp, "  ", "output", cfg->log_output);

	fprintf(fp, "tcp:\n  servers:\n");
	for (i = 0; i < cfg->nservers; i++) {
		const struct rr_server_conf *s = &cfg->servers[i];

		fprintf(fp, "    ");
		dump_str(fp, s->name, strlen(s->name));
		fprintf(fp, ":\n");
		dump_kv_str(fp, "      ", "addr", s->addr ? s->addr : "");
		fprintf(fp, "      delimiter: ");
		dump_str(fp, s->delim, s->delim_len);
		fprintf(fp, "\n      max_message_size: %zu\n",
		    s->max_message_size);
	}
	fprintf(fp, "  read_buf_size: %zu  # MiB\n",
	    cfg->read_buf_size / MIB);
	fprintf(fp, "  reactors: %u\n", cfg->reactors);
	fprintf(fp, "  max_connections: %" PRIu64 "\n", cfg->max_connections);
	fprintf(fp, "  max_frame_size: %zu\n", cfg->max_frame_size);
	dump_kv_dur(fp, "  ", "close_timeout", cfg->close_timeout_ms);

	fprintf(fp, "  pool:\n    command: [");
	for (i = 0; p->command != NULL && p->command[i] != NULL; i++) {
		if (i > 0)
			fprintf(fp, ", ");
		dump_str(fp, p->command[i], strlen(p->command[i]));
	}
	fprintf(fp, "]\n");
	fprintf(fp, "    num_workers: %u\n", p->num_workers);
	fprintf(fp, "    max_jobs: %" PRIu64 "\n", p->max_jobs);
	fprintf(fp, "    max_queue_size: %" PRIu64 "\n", p->max_queue_size);
	dump_kv_dur(fp, "    ", "allocate_timeout", p->allocate_timeout_ms);
	dump_kv_dur(fp, "    ", "destroy_timeout", p->destroy_timeout_ms);
	dump_kv_dur(fp, "    ", "reset_timeout", p->reset_timeout_ms);
	dump_kv_dur(fp, "    ", "stream_timeout", p->stream_timeout_ms);
	fprintf(fp, "    debug: %s\n", p->debug ? "true" : "false");
	if (p->supervisor.enabled) {
		fprintf(fp, "    supervisor:\n");
		dump_kv_dur(fp, "      ", "watch_tick",
		    p->supervisor.watch_tick_ms);
		dump_kv_dur(fp, "      ", "ttl", p->supervisor.ttl_ms);
		dump_kv_dur(fp, "      ", "idle_ttl",
		    p->supervisor.idle_ttl_ms);
		fprintf(fp, "      max_worker_memory: %" PRIu64 "\n",
		    p->supervisor.max_worker_memory_mb);
		dump_kv_dur(fp, "      ", "exec_ttl",
		    p->supervisor.exec_ttl_ms);
	} else
		fprintf(fp, "    # supervisor: not configured (disabled)\n");
	if (p->dynamic.enabled) {
		fprintf(fp, "    dynamic_allocator:\n");
		fprintf(fp, "      max_workers: %u\n", p->dynamic.max_workers);
		fprintf(fp, "      spawn_rate: %u\n", p->dynamic.spawn_rate);
		dump_kv_dur(fp, "      ", "idle_timeout",
		    p->dynamic.idle_timeout_ms);
	} else
		fprintf(fp, "    # dynamic_allocator: not configured "
		    "(disabled)\n");
}
