/*
 * config_side.c - the sections of .rr.yaml beside tcp: rpc (with rrtcp's RPC
 * limits), logs, status and metrics.  Part of the schema walk (config.c).
 */
#include "config_side.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_diag.h"
#include "config_keys.h"
#include "config_value.h"
#include "config_yaml.h"
#include "log.h"

#define DEF_RPC_LISTEN		"tcp://127.0.0.1:6001"

void
config_walk_rpc(struct loader *ld, const struct node *map, unsigned ncpus)
{
	enum { R_LISTEN, R_MAX_CONN, R_MAX_FRAME, R_READ_TIMEOUT, R_N };
	struct field f[R_N] = {
		[R_LISTEN] = { "listen", NULL, NULL },
		[R_MAX_CONN] = { "max_connections", NULL, NULL },
		[R_MAX_FRAME] = { "max_frame_size", NULL, NULL },
		[R_READ_TIMEOUT] = { "read_timeout", NULL, NULL },
	};
	struct rr_config *cfg = ld->cfg;
	struct addr a;
	uint64_t v;

	/* rrtcp's limits.  Every worker may keep one RPC connection open
	 * (PHP's RPC client does), so the default leaves room for the most
	 * workers the pool can have (num_workers as finish() resolves it). */
	v = ld->num_workers_set && cfg->pool.num_workers > 0 ?
	    cfg->pool.num_workers : (uint64_t)ncpus;
	if (cfg->pool.dynamic.enabled)
		v += cfg->pool.dynamic.max_workers;
	cfg->rpc_max_connections = v + RR_RPC_SPARE_CONNS;
	cfg->rpc_max_frame_size = RR_RPC_DEF_MAX_FRAME;
	cfg->rpc_read_timeout_ms = RR_RPC_DEF_READ_TIMEOUT;

	if (value_need_map(ld, "rpc", map) == -1 || node_is_null(map))
		return;
	keys_match(ld, map, "rpc", f, R_N);
	if (value_uint(ld, "max_connections", f[R_MAX_CONN].f_val,
	    UINT32_MAX, &v) == 0) {
		if (v == 0)
			diag(ld, CONFIG_ERROR, f[R_MAX_CONN].f_val->n_line,
			    "max_connections: must be at least 1");
		cfg->rpc_max_connections = v;
	}
	if (value_size(ld, "max_frame_size", f[R_MAX_FRAME].f_val,
	    &cfg->rpc_max_frame_size) == 0 &&
	    (cfg->rpc_max_frame_size < RR_RPC_MIN_FRAME ||
	    cfg->rpc_max_frame_size > RR_RPC_MAX_FRAME))
		diag(ld, CONFIG_ERROR, f[R_MAX_FRAME].f_val->n_line,
		    "max_frame_size: %zu is out of range (%d bytes to %d MiB)",
		    cfg->rpc_max_frame_size, RR_RPC_MIN_FRAME,
		    RR_RPC_MAX_FRAME / MIB);
	if (value_duration(ld, "read_timeout", f[R_READ_TIMEOUT].f_val,
	    &cfg->rpc_read_timeout_ms) == 0 && cfg->rpc_read_timeout_ms <= 0)
		diag(ld, CONFIG_ERROR, f[R_READ_TIMEOUT].f_val->n_line,
		    "read_timeout: must be more than 0 (a frame must not wait "
		    "for ever)");
	/* the rpc plugin's InitDefaults(): listen defaults when empty */
	if (value_str(ld, "listen", f[R_LISTEN].f_val, &cfg->rpc_listen) == -1)
		return;
	if (cfg->rpc_listen != NULL && *cfg->rpc_listen == '\0') {
		free(cfg->rpc_listen);
		cfg->rpc_listen = NULL;
	}
	if (cfg->rpc_listen == NULL) {
		cfg->rpc_listen = diag_strdup(ld, DEF_RPC_LISTEN);
		return;
	}
	if (value_addr(ld, "listen", cfg->rpc_listen,
	    f[R_LISTEN].f_val->n_line, &a) == 0)
		value_addr_clear(&a);
}

/*
 * status.address / metrics.address: host:port (RR's status and metrics
 * plugins listen on TCP only).  Fills *addr, *host and *port, or reports.
 */
static void
observe_addr(struct loader *ld, const char *sect, const struct field *f,
    char **addr, char **host, char **port)
{
	struct addr a;

	if (value_str(ld, "address", f->f_val, addr) != 0)
		return;
	if (value_addr(ld, "address", *addr, f->f_val->n_line, &a) == -1)
		return;
	if (a.is_unix)
		diag(ld, CONFIG_ERROR, f->f_val->n_line, "address: %s listens "
		    "on TCP only (host:port)", sect);
	else if ((*host = diag_strdup(ld, a.host ? a.host : "")) != NULL)
		*port = diag_strdup(ld, a.port);
	value_addr_clear(&a);
}

/* RR's status plugin: /health and /ready (status.c). */
void
config_walk_status(struct loader *ld, const struct field *sect)
{
	const struct node *map = sect->f_val;
	enum { S_ADDRESS, S_CODE, S_N };
	struct field f[S_N] = {
		[S_ADDRESS] = { "address", NULL, NULL },
		[S_CODE] = { "unavailable_status_code", NULL, NULL },
	};
	struct rr_config *cfg = ld->cfg;
	uint64_t v;

	cfg->status_unavailable_code = 503;
	if (sect->f_key == NULL || value_need_map(ld, "status", map) == -1)
		return;
	if (!node_is_null(map))
		keys_match(ld, map, "status", f, S_N);
	if (node_is_null(f[S_ADDRESS].f_val)) {
		diag(ld, CONFIG_ERROR, sect->f_key->n_line, "status: address is "
		    "required (host:port)");
		return;
	}
	observe_addr(ld, "status", &f[S_ADDRESS], &cfg->status_addr,
	    &cfg->status_host, &cfg->status_port);
	if (value_uint(ld, "unavailable_status_code", f[S_CODE].f_val, 599,
	    &v) == 0) {
		if (v < 100)
			diag(ld, CONFIG_ERROR, f[S_CODE].f_val->n_line,
			    "unavailable_status_code: %llu is not an HTTP "
			    "status (100 to 599)", (unsigned long long)v);
		cfg->status_unavailable_code = (int)v;
	}
}

/* RR's metrics plugin: GET /metrics (metrics.c). */
void
config_walk_metrics(struct loader *ld, const struct field *sect)
{
	const struct node *map = sect->f_val;
	enum { M_ADDRESS, M_COLLECT, M_N };
	struct field f[M_N] = {
		[M_ADDRESS] = { "address", NULL, NULL },
		[M_COLLECT] = { "collect", NULL, NULL },
	};
	struct rr_config *cfg = ld->cfg;

	if (sect->f_key == NULL || value_need_map(ld, "metrics", map) == -1)
		return;
	if (!node_is_null(map))
		keys_match(ld, map, "metrics", f, M_N);
	if (f[M_COLLECT].f_val != NULL)
		diag(ld, CONFIG_WARN, f[M_COLLECT].f_val->n_line, "collect: "
		    "application metrics are not supported by rrtcp; ignored");
	if (node_is_null(f[M_ADDRESS].f_val)) {
		diag(ld, CONFIG_ERROR, sect->f_key->n_line, "metrics: address is "
		    "required (host:port)");
		return;
	}
	observe_addr(ld, "metrics", &f[M_ADDRESS], &cfg->metrics_addr,
	    &cfg->metrics_host, &cfg->metrics_port);
}

void
config_walk_logs(struct loader *ld, const struct node *map)
{
	enum { L_LEVEL, L_ENCODING, L_OUTPUT, L_MODE, L_WORKER_LINES,
	    L_ERR_OUTPUT, L_LINE_ENDING, L_CHANNELS, L_FILE_LOGGER, L_N };
	struct field f[L_N] = {
		[L_LEVEL] = { "level", NULL, NULL },
		[L_ENCODING] = { "encoding", NULL, NULL },
		[L_OUTPUT] = { "output", NULL, NULL },
		[L_MODE] = { "mode", NULL, NULL },
		[L_WORKER_LINES] = { "worker_lines_per_second", NULL, NULL },
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

	if (value_need_map(ld, "logs", map) == -1 || node_is_null(map))
		return;
	keys_match(ld, map, "logs", f, L_N);
	if (value_str(ld, "level", f[L_LEVEL].f_val, &cfg->log_level) == 0) {
		value_lower(cfg->log_level);
		for (i = 0; i < 4; i++)
			if (strcmp(cfg->log_level, levels[i]) == 0)
				break;
		if (i == 4)
			diag(ld, CONFIG_ERROR, f[L_LEVEL].f_val->n_line,
			    "level: expected debug, info, warn or error, got "
			    "\"%s\"", ESC(f[L_LEVEL].f_val, eb));
	}
	if (value_str(ld, "encoding", f[L_ENCODING].f_val,
	    &cfg->log_encoding) == 0) {
		value_lower(cfg->log_encoding);
		if (strcmp(cfg->log_encoding, "console") != 0 &&
		    strcmp(cfg->log_encoding, "json") != 0)
			diag(ld, CONFIG_ERROR, f[L_ENCODING].f_val->n_line,
			    "encoding: expected console or json, got \"%s\"",
			    ESC(f[L_ENCODING].f_val, eb));
	}
	if (value_str(ld, "output", f[L_OUTPUT].f_val, &cfg->log_output) == 0 &&
	    *cfg->log_output == '\0')
		diag(ld, CONFIG_ERROR, f[L_OUTPUT].f_val->n_line, "output: "
		    "expected stderr, stdout or a file path");
	value_uint(ld, "worker_lines_per_second", f[L_WORKER_LINES].f_val,
	    UINT32_MAX, &cfg->worker_lines);
	/* logs.mode (development, production, raw) has no rrtcp meaning */
	for (i = L_ERR_OUTPUT; i < L_N; i++)
		if (f[i].f_key != NULL)
			diag(ld, CONFIG_WARN, f[i].f_key->n_line, "logs.%s: "
			    "not supported by rrtcp, ignored", f[i].f_name);
}
