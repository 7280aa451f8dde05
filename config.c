/*
 * config.c - RoadRunner's .rr.yaml -> struct rr_config.
 *
 * The public side of the loader.  config_yaml.c turns the file (and the -o
 * overrides) into a node tree; this file walks that tree section by section
 * against tables of known keys, reads each value with config_value.c,
 * applies RoadRunner's defaults and checks what no single value shows (no
 * servers, two servers on one address, sizes that cannot be framed).  Every
 * problem goes through config_diag.c, which reports them all in line order;
 * config_load() fails only at the end, so one run shows all errors.
 *
 * The loader's files, each calling only those below it:
 *   config.c        the schema walk, checks, config_load()/config_free()
 *   config_keys.c   the known keys of each section; unknown-key hints
 *   config_value.c  typed scalars: strings, integers, booleans, durations,
 *                   sizes, commands, addresses, with file:line errors
 *   config_yaml.c   the node tree: libyaml, anchors and merge keys, $VAR
 *                   expansion, -o overrides
 *   config_diag.c   the loader's state; diagnostics held, sorted, reported
 * config_dump.c prints a loaded struct rr_config and needs none of them.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "json.h"
#include "config_diag.h"
#include "config_keys.h"
#include "config_side.h"
#include "config_value.h"
#include "config_yaml.h"

#define MAX_WORKERS	500		/* RoadRunner's num_workers limit */
#define POOL_MAX_WORKERS 1024		/* tcp.pool.max_workers: the pool's own cap */
#define DEF_WORKER_LINES 1000		/* logs.worker_lines_per_second */
#define MAX_SPAWN_RATE	100		/* RoadRunner's spawn_rate limit */
/*
 * A goridge frame carries its payload length in 32 bits.  A request's
 * payload is the event context then the message: the context is at most
 * CTX_FIXED_MAX bytes (keys, quoted remote address, uuid and event name;
 * about 160 in practice) plus the JSON-quoted server name.
 */
#define FRAME_LEN_MAX	UINT32_MAX
#define CTX_FIXED_MAX	300

/* RoadRunner's schema for a key under tcp.servers: ^[a-zA-Z0-9._-]+$ */
#define SERVER_NAME_MAX	64
#define SERVER_NAME_OK	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			"0123456789._-"

#define DEF_DELIM		"\r\n"
#define DEF_MAX_MESSAGE		(1 * MIB)
#define DEF_WRITE_TIMEOUT	60000	/* ms */
#define DEF_MAX_BUFFER_MEMORY	(256 * MIB)
#define OUTPUT_SLACK		(256 * 1024)	/* over max_frame_size */
#define DEF_READ_BUF_MIB	1
#define DEF_MAX_CONNECTIONS	100000
#define DEF_MAX_FRAME		(64 * MIB)
#define DEF_CLOSE_TIMEOUT_MS	10000
#define DEF_POOL_TIMEOUT_MS	60000
#define DEF_WATCH_TICK_MS	5000
#define DEF_DYN_MAX_WORKERS	10
#define DEF_DYN_SPAWN_RATE	5
#define DEF_DYN_IDLE_MS		60000


static int
ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
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

	if (value_need_map(ld, "env", map) == -1 || node_is_null(map))
		return;
	for (i = 0; i + 1 < map->n_nkids; i += 2) {
		k = map->n_kids[i];
		v = map->n_kids[i + 1];
		if (keys_check(ld, k, "server.env") == -1)
			continue;
		if (k->n_len == 0 || strchr(k->n_str, '=') != NULL) {
			diag(ld, CONFIG_ERROR, k->n_line, "env: invalid "
			    "variable name \"%s\"", ESC(k, eb));
			continue;
		}
		if (!node_is_null(v) &&
		    value_need_scalar(ld, k->n_str, v) == -1)
			continue;
		if (!node_is_null(v) && strlen(v->n_str) != v->n_len) {
			diag(ld, CONFIG_ERROR, v->n_line, "%s: contains a NUL "
			    "byte", k->n_str);
			continue;
		}
		if (asprintf(&entry, "%s=%s", k->n_str,
		    node_is_null(v) ? "" : v->n_str) == -1) {
			diag_oom(ld);
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
			value_strv_push(ld, &cfg->env, &ld->nenv, entry);
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

	if (value_need_map(ld, "server", map) == -1) {
		ld->cmd_bad = 1;
		return;
	}
	keys_match(ld, map, "server", f, S_N);
	if (value_command(ld, "command", f[S_COMMAND].f_val,
	    &ld->server_cmd) == -1)
		ld->cmd_bad = 1;
	walk_env(ld, f[S_ENV].f_val);
	if (!node_is_empty(f[S_USER].f_val))
		diag(ld, CONFIG_WARN, f[S_USER].f_key->n_line, "server.user: "
		    "not supported by rrtcp, ignored (workers run as rrtcp's "
		    "own user)");
	if (!node_is_empty(f[S_GROUP].f_val))
		diag(ld, CONFIG_WARN, f[S_GROUP].f_key->n_line, "server.group: "
		    "not supported by rrtcp, ignored (RoadRunner ignores it "
		    "too)");
	if (!node_is_empty(f[S_ON_INIT].f_val))
		diag(ld, CONFIG_WARN, f[S_ON_INIT].f_key->n_line,
		    "server.on_init: not supported by rrtcp, ignored");
	/* relay_timeout only matters for socket relays: accepted, unused */
	if (value_str(ld, "relay", f[S_RELAY].f_val, &relay) == 0 &&
	    *relay != '\0' && strcmp(relay, "pipes") != 0)
		diag(ld, CONFIG_ERROR, f[S_RELAY].f_val->n_line, "relay: only "
		    "\"pipes\" is supported by rrtcp, got \"%s\"",
		    diag_esc(relay, strlen(relay), eb, sizeof(eb)));
	free(relay);
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
	if (value_need_map(ld, "supervisor", map) == -1 || node_is_null(map))
		return;
	sv->enabled = 1;
	keys_match(ld, map, "tcp.pool.supervisor", f, V_N);
	value_duration(ld, "watch_tick", f[V_WATCH_TICK].f_val,
	    &sv->watch_tick_ms);
	value_duration(ld, "ttl", f[V_TTL].f_val, &sv->ttl_ms);
	value_duration(ld, "idle_ttl", f[V_IDLE_TTL].f_val, &sv->idle_ttl_ms);
	value_uint(ld, "max_worker_memory", f[V_MAX_MEMORY].f_val,
	    UINT64_MAX / MIB, &sv->max_worker_memory_mb);
	value_duration(ld, "exec_ttl", f[V_EXEC_TTL].f_val, &sv->exec_ttl_ms);
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

	if (value_need_map(ld, "dynamic_allocator", map) == -1 ||
	    node_is_null(map))
		return;
	dy->enabled = 1;
	keys_match(ld, map, "tcp.pool.dynamic_allocator", f, D_N);
	if (value_uint(ld, "max_workers", f[D_MAX_WORKERS].f_val, UINT_MAX,
	    &v) == 0 && v > 0)
		dy->max_workers = (unsigned)v;
	if (value_uint(ld, "spawn_rate", f[D_SPAWN_RATE].f_val, MAX_SPAWN_RATE,
	    &v) == 0 && v > 0)
		dy->spawn_rate = (unsigned)v;
	value_duration(ld, "idle_timeout", f[D_IDLE_TIMEOUT].f_val,
	    &dy->idle_timeout_ms);
	if (dy->idle_timeout_ms == 0)
		dy->idle_timeout_ms = DEF_DYN_IDLE_MS;
}

static void
walk_pool(struct loader *ld, const struct node *map)
{
	enum { P_COMMAND, P_NUM_WORKERS, P_MAX_WORKERS, P_MAX_JOBS,
	    P_MAX_QUEUE, P_ALLOCATE, P_DESTROY, P_RESET, P_STREAM, P_DEBUG,
	    P_SUPERVISOR, P_DYNAMIC, P_N };
	struct field f[P_N] = {
		[P_COMMAND] = { "command", NULL, NULL },
		[P_NUM_WORKERS] = { "num_workers", NULL, NULL },
		[P_MAX_WORKERS] = { "max_workers", NULL, NULL },
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

	if (value_need_map(ld, "pool", map) == -1) {
		ld->cmd_bad = 1;
		return;
	}
	keys_match(ld, map, "tcp.pool", f, P_N);
	if (value_command(ld, "command", f[P_COMMAND].f_val,
	    &ld->pool_cmd) == -1)
		ld->cmd_bad = 1;
	if (value_uint(ld, "num_workers", f[P_NUM_WORKERS].f_val, MAX_WORKERS,
	    &v) == 0) {
		pool->num_workers = (unsigned)v;
		ld->num_workers_set = 1;
	}
	if (value_uint(ld, "max_workers", f[P_MAX_WORKERS].f_val,
	    POOL_MAX_WORKERS, &v) == 0) {
		if (v == 0)
			diag(ld, CONFIG_ERROR, f[P_MAX_WORKERS].f_val->n_line,
			    "max_workers: must be at least 1");
		pool->max_workers = (unsigned)v;
	}
	value_uint(ld, "max_jobs", f[P_MAX_JOBS].f_val, UINT64_MAX,
	    &pool->max_jobs);
	value_uint(ld, "max_queue_size", f[P_MAX_QUEUE].f_val, UINT64_MAX,
	    &pool->max_queue_size);
	for (i = 0; i < 4; i++) {
		/* RoadRunner's InitDefaults(): 0 means the default */
		value_duration(ld, f[P_ALLOCATE + i].f_name,
		    f[P_ALLOCATE + i].f_val, tmo[i]);
		if (*tmo[i] == 0)
			*tmo[i] = DEF_POOL_TIMEOUT_MS;
	}
	value_bool(ld, "debug", f[P_DEBUG].f_val, &pool->debug);
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
			diag_oom(ld);
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
	enum { T_ADDR, T_DELIMITER, T_MAX_MESSAGE, T_IDLE, T_WRITE, T_OUTPUT,
	    T_PER_IP, T_N };
	struct field f[T_N] = {
		[T_ADDR] = { "addr", NULL, NULL },
		[T_DELIMITER] = { "delimiter", NULL, NULL },
		[T_MAX_MESSAGE] = { "max_message_size", NULL, NULL },
		[T_IDLE] = { "idle_timeout", NULL, NULL },
		[T_WRITE] = { "write_timeout", NULL, NULL },
		[T_OUTPUT] = { "max_output_buffer", NULL, NULL },
		[T_PER_IP] = { "max_connections_per_ip", NULL, NULL },
	};
	uint64_t per_ip = 0;
	struct rr_config *cfg = ld->cfg;
	struct rr_server_conf *s;
	const struct node *d;
	char *name, *section, eb[128];
	struct addr a;
	size_t i, ctx;

	if ((name = diag_strdup(ld, k->n_str)) == NULL)
		return;
	value_lower(name);		/* viper: "SMTP:" arrives as "smtp" */
	for (i = 0; i < cfg->nservers; i++) {
		if (strcmp(cfg->servers[i].name, name) == 0) {
			diag(ld, CONFIG_ERROR, k->n_line, "server \"%s\" is "
			    "already defined at line %d (server names are "
			    "case-insensitive)",
			    diag_esc(name, strlen(name), eb, sizeof(eb)),
			    cfg->servers[i].line);
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
	s->write_timeout_ms = DEF_WRITE_TIMEOUT;
	if (value_need_map(ld, name, v) == -1)
		return;
	if (asprintf(&section, "tcp.servers.%s", name) == -1) {
		diag_oom(ld);
		return;
	}
	keys_match(ld, v, section, f, T_N);
	free(section);

	value_str(ld, "addr", f[T_ADDR].f_val, &s->addr);
	if (s->addr == NULL || *s->addr == '\0')
		diag(ld, CONFIG_ERROR, f[T_ADDR].f_val ?
		    f[T_ADDR].f_val->n_line : k->n_line,
		    "empty address for the server: %s",
		    diag_esc(name, strlen(name), eb, sizeof(eb)));
	else if (value_addr(ld, "addr", s->addr, f[T_ADDR].f_val->n_line,
	    &a) == 0) {
		s->is_unix = a.is_unix;
		s->host = a.host;
		s->port = a.port;
		s->path = a.path;
	}

	/* bytes as YAML decoded them: "\r\n" is CR LF, '\r\n' 4 chars */
	d = f[T_DELIMITER].f_val;
	if (!node_is_null(d) && value_need_scalar(ld, "delimiter", d) == 0 &&
	    d->n_len > 0) {
		if ((s->delim = malloc(d->n_len + 1)) == NULL) {
			diag_oom(ld);
			return;
		}
		memcpy(s->delim, d->n_str, d->n_len + 1);
		s->delim_len = d->n_len;
	}
	if (s->delim == NULL) {
		if ((s->delim = diag_strdup(ld, DEF_DELIM)) == NULL)
			return;
		s->delim_len = strlen(DEF_DELIM);
	}
	value_duration(ld, "idle_timeout", f[T_IDLE].f_val,
	    &s->idle_timeout_ms);
	value_duration(ld, "write_timeout", f[T_WRITE].f_val,
	    &s->write_timeout_ms);
	/* 0 = the default, max_frame_size + 256 KiB (finish()). */
	value_size(ld, "max_output_buffer", f[T_OUTPUT].f_val,
	    &s->max_output_buffer);
	if (value_uint(ld, "max_connections_per_ip", f[T_PER_IP].f_val,
	    UINT32_MAX, &per_ip) == 0)
		s->max_connections_per_ip = per_ip;
	if (value_size(ld, "max_message_size", f[T_MAX_MESSAGE].f_val,
	    &s->max_message_size) != 0)
		return;
	ctx = CTX_FIXED_MAX + JSON_QUOTED_MAX(strlen(name));
	if (s->max_message_size < s->delim_len)
		diag(ld, CONFIG_ERROR, f[T_MAX_MESSAGE].f_val->n_line,
		    "max_message_size: %zu is shorter than the delimiter",
		    s->max_message_size);
	else if (s->max_message_size > FRAME_LEN_MAX - ctx)
		diag(ld, CONFIG_ERROR, f[T_MAX_MESSAGE].f_val->n_line,
		    "max_message_size: %zu does not fit in a goridge frame "
		    "with its event context (at most %zu for this server)",
		    s->max_message_size, (size_t)(FRAME_LEN_MAX - ctx));
}

static void
walk_servers(struct loader *ld, const struct node *map)
{
	char eb[128];
	size_t i;

	if (value_need_map(ld, "servers", map) == -1) {
		ld->servers_bad = 1;
		return;
	}
	if (node_is_null(map))
		return;
	for (i = 0; i + 1 < map->n_nkids; i += 2) {
		const struct node *k = map->n_kids[i];

		if (keys_check(ld, k, "tcp.servers") == -1)
			continue;
		if (k->n_len == 0) {
			diag(ld, CONFIG_ERROR, k->n_line, "tcp.servers: empty "
			    "server name");
			continue;
		}
		if (strspn(k->n_str, SERVER_NAME_OK) != k->n_len) {
			diag(ld, CONFIG_ERROR, k->n_line, "tcp.servers: server "
			    "name \"%s\" may hold only letters, digits, \".\", "
			    "\"_\" and \"-\"", ESC(k, eb));
			continue;
		}
		if (k->n_len > SERVER_NAME_MAX) {
			diag(ld, CONFIG_ERROR, k->n_line, "tcp.servers: server "
			    "name \"%s\" is longer than %d bytes", ESC(k, eb),
			    SERVER_NAME_MAX);
			continue;
		}
		walk_one_server(ld, k, map->n_kids[i + 1]);
	}
}

static void
walk_tcp(struct loader *ld, const struct node *map)
{
	enum { C_SERVERS, C_READ_BUF, C_POOL, C_REACTORS, C_MAX_CONN,
	    C_MAX_FRAME, C_CLOSE_TIMEOUT, C_DRAIN_DELAY, C_MAX_BUFMEM, C_FENCE,
	    C_N };
	struct field f[C_N] = {
		[C_SERVERS] = { "servers", NULL, NULL },
		[C_READ_BUF] = { "read_buf_size", NULL, NULL },
		[C_POOL] = { "pool", NULL, NULL },
		[C_REACTORS] = { "reactors", NULL, NULL },
		[C_MAX_CONN] = { "max_connections", NULL, NULL },
		[C_MAX_FRAME] = { "max_frame_size", NULL, NULL },
		[C_CLOSE_TIMEOUT] = { "close_timeout", NULL, NULL },
		[C_DRAIN_DELAY] = { "drain_delay", NULL, NULL },
		[C_MAX_BUFMEM] = { "max_buffer_memory", NULL, NULL },
		[C_FENCE] = { "fence", NULL, NULL },
	};
	struct rr_config *cfg = ld->cfg;
	char *fence = NULL;
	uint64_t v;

	if (value_need_map(ld, "tcp", map) == -1) {
		ld->servers_bad = 1;
		return;
	}
	if (node_is_null(map))
		return;
	keys_match(ld, map, "tcp", f, C_N);
	if (f[C_SERVERS].f_key != NULL)
		ld->tcp_line = f[C_SERVERS].f_key->n_line;
	walk_servers(ld, f[C_SERVERS].f_val);
	/* MiB, as in RoadRunner; 0 means the default (InitDefaults) */
	if (value_uint(ld, "read_buf_size", f[C_READ_BUF].f_val,
	    SIZE_MAX / MIB, &v) == 0 && v > 0)
		cfg->read_buf_size = (size_t)v * MIB;
	walk_pool(ld, f[C_POOL].f_val);
	if (value_uint(ld, "reactors", f[C_REACTORS].f_val, RR_MAX_REACTORS,
	    &v) == 0)
		cfg->reactors = (unsigned)v;
	if (value_uint(ld, "max_connections", f[C_MAX_CONN].f_val, UINT64_MAX,
	    &v) == 0) {
		if (v == 0)
			diag(ld, CONFIG_ERROR, f[C_MAX_CONN].f_val->n_line,
			    "max_connections: must be at least 1");
		cfg->max_connections = v;
	}
	if (value_size(ld, "max_frame_size", f[C_MAX_FRAME].f_val,
	    &cfg->max_frame_size) == 0) {
		if (cfg->max_frame_size > FRAME_LEN_MAX)
			diag(ld, CONFIG_ERROR, f[C_MAX_FRAME].f_val->n_line,
			    "max_frame_size: %zu is more than a goridge frame "
			    "can carry (its length is 32 bits: at most %lu)",
			    cfg->max_frame_size, (unsigned long)FRAME_LEN_MAX);
		else if (cfg->max_frame_size < RR_MIN_FRAME_SIZE)
			diag(ld, CONFIG_ERROR, f[C_MAX_FRAME].f_val->n_line,
			    "max_frame_size: %zu is too small for a worker's "
			    "handshake (at least %d)", cfg->max_frame_size,
			    RR_MIN_FRAME_SIZE);
	}
	value_duration(ld, "close_timeout", f[C_CLOSE_TIMEOUT].f_val,
	    &cfg->close_timeout_ms);
	if (cfg->close_timeout_ms == 0)
		cfg->close_timeout_ms = DEF_CLOSE_TIMEOUT_MS;
	/* 0 (the default) stops accepting at the signal, as RoadRunner. */
	value_duration(ld, "drain_delay", f[C_DRAIN_DELAY].f_val,
	    &cfg->drain_delay_ms);
	if (value_size(ld, "max_buffer_memory", f[C_MAX_BUFMEM].f_val,
	    &cfg->max_buffer_memory) == 0 && cfg->max_buffer_memory < MIB)
		diag(ld, CONFIG_ERROR, f[C_MAX_BUFMEM].f_val->n_line,
		    "max_buffer_memory: %zu is less than 1 MiB",
		    cfg->max_buffer_memory);
	if (value_str(ld, "fence", f[C_FENCE].f_val, &fence) == 0 &&
	    fence != NULL) {
		if (strcmp(fence, "always") == 0)
			cfg->fence_always = 1;
		else if (strcmp(fence, "on_stray") != 0)
			diag(ld, CONFIG_ERROR, f[C_FENCE].f_val->n_line,
			    "fence: \"%s\" is neither on_stray nor always",
			    fence);
		free(fence);
	}
}

static void
walk_top(struct loader *ld, const struct node *root)
{
	enum { K_VERSION, K_SERVER, K_TCP, K_RPC, K_LOGS, K_STATUS, K_METRICS,
	    K_N };
	struct field f[K_N] = {
		[K_VERSION] = { "version", NULL, NULL },
		[K_SERVER] = { "server", NULL, NULL },
		[K_TCP] = { "tcp", NULL, NULL },
		[K_RPC] = { "rpc", NULL, NULL },
		[K_LOGS] = { "logs", NULL, NULL },
		[K_STATUS] = { "status", NULL, NULL },
		[K_METRICS] = { "metrics", NULL, NULL },
	};
	struct rr_config *cfg = ld->cfg;
	char eb[128];

	if (!node_is_null(root) && root->n_type != NODE_MAP) {
		diag(ld, CONFIG_ERROR, root->n_line, "expected a map of "
		    "sections at the top level, got %s", node_type_name(root));
		return;
	}
	keys_match_top(ld, root, f, K_N);

	if (node_is_null(f[K_VERSION].f_val)) {
		diag(ld, CONFIG_ERROR, f[K_VERSION].f_key ?
		    f[K_VERSION].f_key->n_line : LINE_NONE, "missing version");
	} else if (value_str(ld, "version", f[K_VERSION].f_val,
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
	config_walk_rpc(ld, f[K_RPC].f_val, (unsigned)ncpu());
	config_walk_logs(ld, f[K_LOGS].f_val);
	config_walk_status(ld, &f[K_STATUS]);
	config_walk_metrics(ld, &f[K_METRICS]);
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
	for (i = 0; i < cfg->nservers; i++)
		if (cfg->servers[i].max_output_buffer == 0)
			cfg->servers[i].max_output_buffer =
			    cfg->max_frame_size + OUTPUT_SLACK;

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
	if (cfg->pool.max_workers > 0 &&
	    cfg->pool.num_workers > cfg->pool.max_workers)
		diag(ld, CONFIG_ERROR, LINE_NONE, "tcp.pool.num_workers: %u "
		    "workers, more than tcp.pool.max_workers (%u)",
		    cfg->pool.num_workers, cfg->pool.max_workers);
	if (cfg->reactors == 0) {
		cfg->reactors = (unsigned)ncpu();
		if (cfg->reactors > RR_MAX_REACTORS) {
			diag(ld, CONFIG_INFO, LINE_NONE, "tcp.reactors: %u "
			    "online CPUs, using %d reactors (the most rrtcp "
			    "runs)", cfg->reactors, RR_MAX_REACTORS);
			cfg->reactors = RR_MAX_REACTORS;
		}
	}
	/* callers get an empty vector rather than NULL */
	if (cfg->env == NULL && (cfg->env = calloc(1, sizeof(char *))) == NULL)
		diag_oom(ld);
}


static void
set_workdir(struct loader *ld)
{
	struct rr_config *cfg = ld->cfg;
	char *tmp;

	if (ld->opts->workdir != NULL) {
		cfg->workdir = diag_strdup(ld, ld->opts->workdir);
		return;
	}
	if ((tmp = diag_strdup(ld, ld->file)) == NULL)
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
	cfg->max_buffer_memory = DEF_MAX_BUFFER_MEMORY;
	cfg->pool.allocate_timeout_ms = DEF_POOL_TIMEOUT_MS;
	cfg->pool.destroy_timeout_ms = DEF_POOL_TIMEOUT_MS;
	cfg->pool.reset_timeout_ms = DEF_POOL_TIMEOUT_MS;
	cfg->pool.stream_timeout_ms = DEF_POOL_TIMEOUT_MS;
	cfg->pool.max_workers = POOL_MAX_WORKERS;
	cfg->pool.supervisor.watch_tick_ms = DEF_WATCH_TICK_MS;
	cfg->pool.dynamic.max_workers = DEF_DYN_MAX_WORKERS;
	cfg->pool.dynamic.spawn_rate = DEF_DYN_SPAWN_RATE;
	cfg->pool.dynamic.idle_timeout_ms = DEF_DYN_IDLE_MS;
	cfg->file = diag_strdup(ld, ld->file);
	cfg->log_level = diag_strdup(ld, "info");
	cfg->log_encoding = diag_strdup(ld, "console");
	cfg->log_output = diag_strdup(ld, "stderr");
	cfg->worker_lines = DEF_WORKER_LINES;
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

	memset(&ld, 0, sizeof(ld));
	ld.file = file;
	ld.report = report;
	ld.arg = arg;
	ld.opts = opts != NULL ? opts : &noopts;
	if ((ld.cfg = calloc(1, sizeof(*ld.cfg))) == NULL) {
		diag_oom(&ld);
		diag_flush(&ld);
		return NULL;
	}
	if (defaults(&ld) == -1)
		goto out;

	tree_overrides_parse(&ld);
	if (tree_read(&ld, &root) == -1)
		goto out;
	tree_overrides_apply(&ld, &root);
	walk_top(&ld, root);
	finish(&ld);
	set_workdir(&ld);
out:
	tree_free(&ld);
	value_strv_free(ld.server_cmd);
	value_strv_free(ld.pool_cmd);
	diag_flush(&ld);
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
	value_strv_free(cfg->pool.command);
	value_strv_free(cfg->env);
	free(cfg->file);
	free(cfg->workdir);
	free(cfg->version);
	free(cfg->rpc_listen);
	free(cfg->status_addr);
	free(cfg->status_host);
	free(cfg->status_port);
	free(cfg->metrics_addr);
	free(cfg->metrics_host);
	free(cfg->metrics_port);
	free(cfg->log_level);
	free(cfg->log_encoding);
	free(cfg->log_output);
	free(cfg);
}
