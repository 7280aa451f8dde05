/*
 * conn.h - client connections.
 *
 * A connection belongs to one reactor (its conn_set) and never moves.  It
 * dispatches CONNECTED, then one DATA event per delimited message, then
 * exactly one CLOSE, one event at a time (rrtcp-protocol(7) 4.2, 4.7).
 *
 * Its life is one state machine:
 *
 *   OPEN ----------------------------+--> CLOSE_OWED --> CLOSING --> DONE
 *     |  WRITECLOSE, client EOF,     |    socket closed,  CLOSE event
 *     |  shutdown, with output left  |    CLOSE owed      waiting/running
 *     v                              |
 *   FLUSHING (output drains) --------+
 *
 * Besides the state, the one event slot says whether an event waits for a
 * worker or runs on one.  Every way a socket closes goes through
 * conn_close(); a close with reply bytes still unsent resets the connection
 * and says how many were lost.
 */
#ifndef RRTCP_CONN_H
#define RRTCP_CONN_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "ev.h"
#include "relay.h"
#include "scheduler.h"
#include "stats.h"
#include "tailq.h"

struct ipcount_slot;
struct rr_config;
struct rr_server_conf;

enum conn_state {
	CONN_OPEN,		/* reading the client, writing replies */
	CONN_FLUSHING,		/* no more events: output drains, then close */
	CONN_CLOSE_OWED,	/* socket closed, the CLOSE event is owed */
	CONN_CLOSING,		/* the CLOSE event waits or runs */
	CONN_DONE		/* finished; freed before the loop sleeps */
};

enum conn_event {
	CEV_NONE,
	CEV_CONNECTED,
	CEV_DATA,
	CEV_CLOSE
};

enum conn_slot {
	SLOT_FREE,		/* no event in flight */
	SLOT_WAITING,		/* the event waits for a worker */
	SLOT_RUNNING		/* the event runs on a worker */
};

struct conn_set;

struct rr_conn {
	struct ev_io		 c_io;
	uint64_t		 c_id;
	struct conn_set		*c_set;
	const struct rr_server_conf *c_srv;
	enum conn_state		 c_state;
	enum conn_slot		 c_slot;
	enum conn_event		 c_event;	/* waiting or running */
	struct sched_waiter	 c_waiter;
	struct relay_xchg	 c_x;
	struct rr_buf		 c_in;		/* client bytes not yet answered */
	size_t			 c_msglen;	/* bytes of c_in in the DATA in flight */
	size_t			 c_scan;	/* delimiter search resumes here */
	struct rr_buf		 c_out;		/* reply bytes the socket did not take */
	char			*c_end_reason;	/* FLUSHING: why it will close */
	int			 c_end_level;
	enum stats_close	 c_end_class;
	int64_t			 c_t0;		/* ns: dispatched, then started */
	int64_t			 c_last_in;	/* ms: a client byte or an event's end */
	int64_t			 c_out_since;	/* ms: c_out last moved or began */
	struct ipcount_slot	*c_ipslot;	/* max_connections_per_ip */
	size_t			 c_mem;		/* buffer bytes reported (mem.h) */
	TAILQ_ENTRY(rr_conn)	 c_link;	/* the set's connections or garbage */
	unsigned		 c_readable:1;	/* socket may have bytes (edge seen) */
	unsigned		 c_eof:1;	/* client sent FIN (read returned 0) */
	unsigned		 c_rdhup:1;	/* peer hung up: read until EOF */
	unsigned		 c_counted:1;	/* counted against max_queue_size */
	uint8_t			 c_retries;	/* re-runs of the event after stop requests */
	uint16_t		 c_ctxlen;	/* length of c_ctx */
	char			 c_ctx[];	/* {"remote_addr":..,"event":" */
};

TAILQ_HEAD(conn_list, rr_conn);

/* One reactor's connections. */
struct conn_set {
	struct ev		*cs_loop;
	struct sched		*cs_sched;
	const struct rr_config	*cs_cfg;	/* this reactor's view */
	struct conn_list	 cs_conns;
	struct conn_list	 cs_garbage;	/* freed before sleeping */
	uint64_t		 cs_nconns;	/* accepted, ever */
	int			 cs_draining;	/* shutting down: no new events */
	struct ev_timer		 cs_tick;	/* idle_timeout, write_timeout */
	struct stats		*cs_stats;	/* the reactor's counters, or NULL */
};

/* Process-wide connection count, checked against tcp.max_connections. */
extern _Atomic uint64_t conn_count;

void	conn_set_init(struct conn_set *cs, struct ev *loop, struct sched *s,
	    const struct rr_config *cfg);
/* Frees the connections that ended (before the loop sleeps). */
void	conn_set_collect(struct conn_set *cs);
/* The thread has stopped: close and free what is left (destroy_timeout). */
void	conn_set_destroy(struct conn_set *cs);
/* Shutting down: idle connections end now (after flushing), busy ones when
 * their event is done. */
void	conn_set_drain(struct conn_set *cs);
/* tcp.Close: closes the connection with this uuid if it is here (4.8). */
int	conn_set_close_uuid(struct conn_set *cs, const char *uuid);
/* After a reload: cfg has the same servers in the same order. */
void	conn_set_config(struct conn_set *cs, const struct rr_config *cfg);

/* Takes an accepted socket for server srv; dispatches CONNECTED.  slot
 * (may be NULL) is given back when the connection is freed. */
void	conn_new(struct conn_set *cs, const struct rr_server_conf *srv, int fd,
	    const struct sockaddr_storage *ss, socklen_t sslen,
	    struct ipcount_slot *slot);

/* Closes c's socket now for reason (logged at level, counted as class);
 * the CLOSE event follows once no event is in flight. */
void	conn_close(struct rr_conn *c, enum stats_close class, int level,
	    const char *reason);

const char *conn_event_str(enum conn_event ev);
const char *conn_state_str(enum conn_state st);

#endif
