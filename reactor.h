/*
 * reactor.h - one thread with its own event loop, its own SO_REUSEPORT
 * listeners, the connections it accepted and the scheduler that finds them
 * workers.  Other threads talk to a reactor only through the calls marked
 * "any thread", which wake it.
 */
#ifndef RRTCP_REACTOR_H
#define RRTCP_REACTOR_H

#include <pthread.h>
#include <stdatomic.h>

#include "conn.h"
#include "ev.h"
#include "scheduler.h"

struct rr_config;
struct rr_server_conf;

struct rr_listener {
	struct ev_io		 l_io;
	struct rr_reactor	*l_r;
	size_t			 l_srv;		/* index into cfg->servers */
	struct ev_timer		 l_pause;	/* out-of-descriptors back-off */
};

struct rr_reactor {
	int			 r_id;
	struct ev		*r_loop;
	pthread_t		 r_thread;
	struct sched		 r_sched;
	struct conn_set		 r_conns;
	struct rr_listener	*r_listeners;
	int			 r_nlisteners;
	_Atomic(const struct rr_config *) r_cfg_next;	/* set on reload */
	_Atomic(const struct rr_config *) r_cfg_seen;	/* the one in use */
	_Atomic int		 r_drain;	/* asked to drain */
	_Atomic int		 r_stop;	/* asked to leave the loop */
	_Atomic int		 r_drained;	/* draining and no connection left */
	pthread_mutex_t		 r_cmd_mtx;	/* tcp.Close requests from RPC */
	char			(*r_close_uuids)[37];
	size_t			 r_nclose;
};

int	reactor_init(struct rr_reactor *r, int id, const struct rr_config *cfg);
int	reactor_add_listener(struct rr_reactor *r, size_t srv_index, int fd);
int	reactor_start(struct rr_reactor *r);
/* Any thread: stop accepting, end idle connections, finish the rest. */
void	reactor_drain(struct rr_reactor *r);
/* Any thread: has a draining reactor ended every connection? */
int	reactor_drained(const struct rr_reactor *r);
/* Any thread: leave the loop (after draining or on timeout). */
void	reactor_stop(struct rr_reactor *r);
/* Control thread: joins the thread and frees what is left. */
void	reactor_join(struct rr_reactor *r);

/*
 * Control thread, after SIGHUP: limits and timeouts of cfg apply from the
 * reactor's next wake-up.  cfg must have the same servers in the same order.
 * reactor_config_seen() tells when the reactor no longer uses the old one.
 */
void	reactor_set_config(struct rr_reactor *r, const struct rr_config *cfg);
const struct rr_config *reactor_config_seen(const struct rr_reactor *r);

/* Any thread: close the connection with this uuid if it lives here. */
void	reactor_close_uuid(struct rr_reactor *r, const char *uuid);

#endif
