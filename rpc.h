/*
 * rpc.h - the goridge RPC server (rrtcp-protocol(7) section 5): HL 5 frames with
 * options [seq, len(method)], the JSON codec of PHP's Spiral\Goridge\RPC\RPC
 * and the gob subset RoadRunner's rr CLI speaks, net/rpc's error texts.
 * Served on the control loop; method handlers never block (rpc.c, with the
 * codecs in rpc_codec.c and the address syntax in rpc_addr.c).
 * Also a small blocking JSON client for rrtcp's own CLI commands
 * (rpc_client.c).
 */
#ifndef RRTCP_RPC_H
#define RRTCP_RPC_H

#include <stddef.h>
#include <stdint.h>

struct ev;
struct rr_config;

/* The argument of a call, decoded from JSON or gob. */
struct rpc_arg {
	int		 present;	/* the body was not empty */
	int		 is_string;	/* a string (else see is_bool) */
	int		 is_bool;
	const char	*s;		/* NUL-terminated copy, valid during the call */
	size_t		 slen;
	int		 b;
};

/* One worker, as informer.Workers reports it (process.State in RR). */
struct rpc_worker_state {
	int64_t		 pid;
	int64_t		 status;
	uint64_t	 num_execs;
	int64_t		 created;	/* unix nanoseconds */
	uint64_t	 memory;	/* RSS bytes */
	double		 cpu;		/* CPU time / wall time since start * 100 */
	const char	*status_str;
};

enum rpc_value_type {
	RV_BOOL,
	RV_STRING,
	RV_STRINGS,	/* []string */
	RV_WORKERS,	/* {"workers":[...]}, never null (Q17) */
	RV_NULL
};

struct rpc_value {
	enum rpc_value_type	 type;
	int			 b;
	const char		*s;
	const char *const	*strs;
	size_t			 nstrs;
	const struct rpc_worker_state *workers;
	size_t			 nworkers;
};

/*
 * A method handler: fills *out and returns 0, or returns -1 with an error
 * text in err (sent back with the ERROR flag).  Pointers in *out must stay
 * valid until the handler is called again.
 */
typedef int rpc_method_fn(void *ctx, const struct rpc_arg *arg,
    struct rpc_value *out, char *err, size_t errlen);

struct rpc_method {
	const char	*name;		/* "Service.Method", e.g. "tcp.Close" */
	rpc_method_fn	*fn;
};

/*
 * Listens on addr ("tcp://host:port" or "unix:///path") and serves calls on
 * loop.  Returns 0, or -1 with a message in err.
 */
int	rpc_serve(struct ev *loop, const char *addr,
	    const struct rpc_method *methods, size_t nmethods, void *ctx,
	    char *err, size_t errlen);
void	rpc_close(void);

/*
 * Applies cfg's rpc.* limits (rrtcp.yaml(5) RPC): max_connections to the
 * next accept, max_frame_size to the next frame, read_timeout to the next
 * deadline armed.  May be called before rpc_serve() and on every reload;
 * until it is, the limits are RR_RPC_DEF_* with 64 connections.
 */
void	rpc_configure(const struct rr_config *cfg);

/* Bytes of buffer storage the RPC server holds now (tests, stats). */
size_t	rpc_buffered(void);

/* Is addr on the loopback or a unix socket?  (Non-loopback RPC is unauthenticated.) */
int	rpc_addr_is_local(const char *addr);

/*
 * Client: one blocking JSON call.  arg_json is the JSON argument ("\"tcp\"",
 * "true").  On success returns 0 and a malloc'd reply JSON in *reply; on an
 * error reply returns 1 with the server's text in *reply; -1 on a transport
 * error with the reason in *reply.  timeout_ms bounds connect and reply.
 */
int	rpc_call(const char *addr, const char *method, const char *arg_json,
	    char **reply, int timeout_ms);

#endif
