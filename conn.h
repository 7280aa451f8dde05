/*
 * conn.h - reactors and client connections.
 *
 * A reactor is one thread with its own epoll set, its own SO_REUSEPORT
 * listeners and the connections it accepted; a connection never moves.
 * Each connection is a small state machine: it dispatches CONNECTED, then one
 * DATA event per delimited message, then exactly one CLOSE, one at a time.
 */
#ifndef RRTCP_CONN_H
#define RRTCP_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "ev.h"

struct rr_config;
struct rr_server_conf;
struct rr_worker;

enum conn_event {
	CEV_NONE,
	CEV_CONNECTED,
	CEV_DATA,
	CEV_CLOSE
};

enum conn_state {
	CONN_IDLE,		/* nothing in flight: reading or writing the client */
	CONN_WAITING,		/* an event waits for an idle worker */
	CONN_EXEC,		/* a request is with a worker */
	CONN_DONE		/* finished; freed before the loop sleeps */
};

/* What a worker answered (PROTOCOL.md 4.4). */
enum conn_reply {
	REPLY_CONTINUE,
	REPLY_WRITE,
	REPLY_WRITECLOSE,
	REPLY_CLOSE		/* CLOSE and any unknown context */
};

struct rr_reactor;

struct rr_conn {
	struct ev_io		 c_io;
	uint64_t		 c_id;
	struct rr_reactor	*c_r;
	const struct rr_server_conf *c_srv;
	enum conn_state		 c_state;
	enum conn_event		 c_event;	/* waiting or in flight */
	struct rr_worker	*c_worker;	/* while CONN_EXEC */
	struct rr_buf		 c_in;		/* client bytes not yet answered */
	size_t			 c_msglen;	/* bytes of c_in in the DATA in flight */
	size_t			 c_scan;	/* delimiter search resumes here */
	struct rr_buf		 c_out;		/* reply bytes the socket did not take */
	struct ev_timer		 c_timer;	/* exec_ttl, close_timeout */
	int64_t			 c_wait_until;	/* allocate_timeout deadline while waiting */
	int64_t			 c_wait_since;	/* when it started waiting (ms) */
	TAILQ_ENTRY(rr_conn)	 c_wait;	/* reactor wait queue */
	TAILQ_ENTRY(rr_conn)	 c_link;	/* all connections of the reactor */
	unsigned		 c_readable:1;	/* socket may have bytes (edge seen) */
	unsigned		 c_eof:1;	/* client sent FIN (read returned 0) */
	unsigned		 c_rdhup:1;	/* peer hung up: read until EOF */
	unsigned		 c_closed:1;	/* our socket is closed */
	unsigned		 c_close_after_flush:1; /* WRITECLOSE */
	unsigned		 c_close_sent:1; /* CLOSE event dispatched */
	unsigned		 c_counted:1;	/* counted against max_queue_size */
	uint8_t			 c_retries;	/* re-runs of the event after stop requests */
	uint16_t		 c_ctxlen;	/* length of c_ctx */
	char			 c_ctx[];	/* {"remote_addr":..,"event":" */
};

TAILQ_HEAD(conn_list, rr_conn);

struct rr_listener {
	struct ev_io		 l_io;
	struct rr_reactor	*l_r;
	const struct rr_server_conf *l_srv;
	struct ev_timer		 l_pause;	/* EMFILE back-off */
};

struct rr_reactor {
	int			 r_id;
	struct ev		*r_loop;
	pthread_t		 r_thread;
	const struct rr_config	*r_cfg;		/* read by this thread only */
	_Atomic(const struct rr_config *) r_cfg_next; /* set on reload */
	struct rr_listener	*r_listeners;
	int			 r_nlisteners;
	struct conn_list	 r_conns;
	struct conn_list	 r_waitq;	/* arrival order = deadline order */
	struct ev_timer		 r_wait_timer;	/* deadline of the oldest waiter */
	struct conn_list	 r_garbage;	/* freed before sleeping */
	_Atomic int		 r_waiting;	/* length of r_waitq, for the pool */
	_Atomic int64_t		 r_head_since;	/* c_wait_since of r_waitq's head */
	uint64_t		 r_nconns;
	uint8_t			*r_scratch;	/* request header + context */
	size_t			 r_scratch_len;
	int			 r_draining;
	int			 r_drained;
	pthread_mutex_t		 r_cmd_mtx;	/* tcp.Close requests from RPC */
	char			(*r_close_uuids)[37];
	size_t			 r_nclose;
};

/* Process-wide connection count, checked against tcp.max_connections. */
extern _Atomic uint64_t conn_count;

int	reactor_init(struct rr_reactor *r, int id, const struct rr_config *cfg);
int	reactor_add_listener(struct rr_reactor *r,
	    const struct rr_server_conf *srv, int fd);
int	reactor_start(struct rr_reactor *r);
/* Any thread: stop accepting, close idle connections, finish the rest. */
void	reactor_drain(struct rr_reactor *r);
/* Any thread: leave the loop (after draining or on timeout). */
void	reactor_stop(struct rr_reactor *r);
void	reactor_join(struct rr_reactor *r);
/* Set by rrtcp.c: called (any thread) when a reactor has no connection left. */
extern void (*reactor_drained_hook)(void);

/* Control thread, after SIGHUP: limits and timeouts of cfg apply from the
 * reactor's next wake-up.  cfg must stay alive, and its servers equal. */
void	reactor_set_config(struct rr_reactor *r, const struct rr_config *cfg);

/* Any thread: close the connection with this uuid if it lives here (tcp.Close). */
void	reactor_close_uuid(struct rr_reactor *r, const char *uuid);

/* Called by relay.c when the worker answered the event in flight. */
void	conn_on_reply(struct rr_conn *c, enum conn_reply kind,
	    const uint8_t *body, size_t len);
/* The worker answered and is done with; give it back and move on. */
void	conn_exec_done(struct rr_conn *c, struct rr_worker *w);
/* The exchange failed (worker error frame, crash, bad frame, timeout). */
void	conn_exec_failed(struct rr_conn *c, const char *reason);
/* The worker asked to stop (3.5): run the same event on another worker. */
void	conn_exec_retry(struct rr_conn *c);

const char *conn_event_str(enum conn_event ev);

#endif
