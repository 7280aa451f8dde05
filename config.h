/*
 * config.h - RoadRunner's .rr.yaml (libyaml) -> struct rr_config.
 *
 * Reads the keys of rrtcp-protocol(7) 3.10 and 4.1 plus rrtcp's own extensions,
 * fills defaults, validates, and reports every problem as "file:line: msg"
 * through a callback before failing.  No sockets, no processes, no globals.
 */
#ifndef RRTCP_CONFIG_H
#define RRTCP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* tcp.reactors above this is an error: one thread and listener set each. */
#define RR_MAX_REACTORS		64
/* tcp.max_frame_size below this is an error: a worker's pid handshake and
 * control frames must fit. */
#define RR_MIN_FRAME_SIZE	1024

/* rpc.* limits (rrtcp; RoadRunner has none).  max_connections defaults to
 * room for one connection per worker plus RR_RPC_SPARE_CONNS. */
#define RR_RPC_SPARE_CONNS	64
#define RR_RPC_DEF_MAX_FRAME	(1024 * 1024)
#define RR_RPC_MIN_FRAME	1024
#define RR_RPC_MAX_FRAME	(16 * 1024 * 1024) /* = RPC_MAX_INPUT */
#define RR_RPC_DEF_READ_TIMEOUT	10000	/* ms */

struct rr_server_conf {
	char		*name;		/* key under tcp.servers, lower-cased */
	char		*addr;		/* as configured, after $VAR expansion */
	int		 is_unix;	/* unix:///path */
	char		*host;		/* "" = any IPv4; IPv6 without brackets */
	char		*port;		/* decimal port */
	char		*path;		/* unix socket path (is_unix) */
	char		*delim;		/* delimiter bytes (default "\r\n") */
	size_t		 delim_len;
	size_t		 max_message_size; /* rrtcp: cap on input awaiting a delimiter */
	/* rrtcp limits for a public server (RR has none): */
	int64_t		 idle_timeout_ms;  /* no byte from the client; 0 = off */
	int64_t		 write_timeout_ms; /* output pending, none taken; 0 = off */
	size_t		 max_output_buffer; /* bytes queued for one client */
	uint64_t	 max_connections_per_ip; /* 0 = off */
	int		 line;		/* line of the server's key */
};

struct rr_supervisor_conf {
	int		 enabled;	/* the section exists */
	int64_t		 watch_tick_ms;	/* default 5s */
	int64_t		 ttl_ms;	/* 0 = off */
	int64_t		 idle_ttl_ms;
	int64_t		 exec_ttl_ms;
	uint64_t	 max_worker_memory_mb;
};

struct rr_dynamic_conf {
	int		 enabled;	/* the section exists */
	unsigned	 max_workers;	/* default 10 */
	unsigned	 spawn_rate;	/* default 5, at most 100 */
	int64_t		 idle_timeout_ms; /* default 1m */
};

struct rr_pool_conf {
	char		**command;	/* argv, NULL-terminated: tcp.pool.command or server.command */
	unsigned	 num_workers;	/* 0 in YAML -> online CPUs; > 500 is an error */
	unsigned	 max_workers;	/* cap for AddWorker and dynamic growth, 1..1024 */
	uint64_t	 max_jobs;	/* 0 = unlimited */
	uint64_t	 max_queue_size; /* 0 = unlimited (bounded by max_connections) */
	int64_t		 allocate_timeout_ms;	/* default 60s */
	int64_t		 destroy_timeout_ms;	/* default 60s */
	int64_t		 reset_timeout_ms;	/* default 60s */
	int64_t		 stream_timeout_ms;	/* default 60s */
	int		 debug;
	struct rr_supervisor_conf supervisor;
	struct rr_dynamic_conf dynamic;
};

struct rr_config {
	char		*file;		/* path as given */
	char		*workdir;	/* -w, else the config file's directory */
	char		*version;	/* top-level version */
	char		**env;		/* server.env as "KEY=value", keys upper-cased, NULL-terminated */
	char		*rpc_listen;	/* rpc.listen, NULL when absent */
	uint64_t	 rpc_max_connections; /* rpc.max_connections */
	size_t		 rpc_max_frame_size; /* rpc.max_frame_size: request payload */
	int64_t		 rpc_read_timeout_ms; /* rpc.read_timeout: a frame's deadline */

	struct rr_server_conf *servers;
	size_t		 nservers;
	size_t		 read_buf_size;	/* bytes; YAML value is MiB (RR), default 1 */
	struct rr_pool_conf pool;

	/* rrtcp extensions under tcp: */
	unsigned	 reactors;	/* tcp.reactors: 0 in YAML -> online CPUs */
	uint64_t	 max_connections; /* tcp.max_connections, default 100000 */
	size_t		 max_frame_size; /* tcp.max_frame_size: cap on a worker frame, default 64 MiB */
	int64_t		 close_timeout_ms; /* tcp.close_timeout: bound on a CLOSE exec (Q11), default 10s */
	int64_t		 drain_delay_ms; /* tcp.drain_delay: serving on after SIGTERM
					 * while readiness says draining, default 0 */
	size_t		 max_buffer_memory; /* tcp.max_buffer_memory: bytes held for
					 * clients and RPC peers, default 256 MiB */
	int		 fence_always;	/* tcp.fence: always (else on_stray) */

	/* status: and metrics: (RR's plugins; NULL address = section absent) */
	char		*status_addr;	/* status.address, host:port */
	char		*status_host;	/* its parts, for listening */
	char		*status_port;
	int		 status_unavailable_code; /* default 503 */
	char		*metrics_addr;	/* metrics.address, host:port */
	char		*metrics_host;
	char		*metrics_port;

	/* logs: (RR's section) */
	char		*log_level;	/* logs.level: debug|info|warn|error, default info */
	char		*log_encoding;	/* logs.encoding: console|json, default console (logfmt) */
	char		*log_output;	/* logs.output: stderr|stdout|path, default stderr */
	/* rrtcp extension under logs: */
	uint64_t	 worker_lines;	/* logs.worker_lines_per_second: stderr lines
					 * logged per worker, 0 = unlimited, default 1000 */
};

enum config_level {
	CONFIG_INFO,
	CONFIG_WARN,
	CONFIG_ERROR
};

/* Receives each diagnostic, already formatted as "file:line: message". */
typedef void config_report_fn(void *arg, enum config_level level,
    const char *text);

struct config_opts {
	const char	*workdir;	/* -w, or NULL */
	char *const	*overrides;	/* -o "key.path=value" strings */
	size_t		 noverrides;
};

/*
 * Loads and validates file.  Every error, warning and info line goes through
 * report.  Returns NULL if there was at least one error.
 */
struct rr_config *config_load(const char *file, const struct config_opts *opts,
		    config_report_fn *report, void *arg);
void		 config_free(struct rr_config *cfg);

/* Parses a Go duration ("1m30s", "500ms", "2h"); returns 0 or -1. */
int		 config_parse_duration(const char *s, int64_t *ms);

/* Writes the effective configuration as YAML (for -T). */
void		 config_dump(const struct rr_config *cfg, FILE *fp);

#endif
