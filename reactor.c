/*
 * reactor.c - reactor threads: accepting, requests from other threads
 * (drain, stop, reload, tcp.Close), freeing finished connections.
 */
#include "reactor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ipcount.h"
#include "log.h"
#include "net.h"
#include "stats.h"

#define MAXEVENTS	256
#define MAX_CLOSE_REQS	4096	/* queued tcp.Close requests per reactor */

static const struct rr_config *
cfg_of(const struct rr_reactor *r)
{
	return r->r_conns.cs_cfg;
}

/* --- accepting ------------------------------------------------------------ */

static void
on_listener_resume(struct ev *loop, struct ev_timer *t)
{
	struct rr_listener *l = t->arg;

	if (l->l_r->r_conns.cs_draining)
		return;
	ev_attach(loop, &l->l_io, EV_READ | EV_EDGE);
	/* Edge-triggered: connections queued meanwhile raise no new edge. */
	l->l_io.fn(loop, &l->l_io, EV_READ);
}

static void
count_refused(struct ev *loop, const struct rr_server_conf *srv,
    enum stats_refuse why)
{
	struct rr_reactor *r = ev_data(loop);
	struct stats_server *ss = stats_srv(r->r_conns.cs_stats,
	    (size_t)(srv - cfg_of(r)->servers));

	if (ss != NULL)
		stats_add(&ss->ss_refused[why], 1);
}

/* One line a second at most: a flood must not flood the log too. */
static void
refuse_per_ip(struct ev *loop, const struct rr_server_conf *srv, int fd,
    const struct sockaddr_storage *ss, socklen_t sslen, int rc)
{
	static _Atomic int64_t last_log;
	int64_t now = ev_now(loop);
	char peer[NET_ADDRSTRLEN];

	close(fd);
	if (rc == 0)
		count_refused(loop, srv, STATS_REFUSE_PER_IP);
	if (atomic_exchange(&last_log, now) + 1000 > now)
		return;
	net_format_addr((const struct sockaddr *)ss, sslen, peer, sizeof(peer));
	log_warn("connection refused", "server=%s remote=%s reason=\"%s\" "
	    "limit=%llu", srv->name, peer, rc == 0 ?
	    "max_connections_per_ip reached" : "out of memory",
	    (unsigned long long)srv->max_connections_per_ip);
}

static void
on_accept(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct rr_listener *l = io->arg;
	struct rr_reactor *r = l->l_r;
	const struct rr_config *cfg = cfg_of(r);
	const struct rr_server_conf *srv = &cfg->servers[l->l_srv];
	static _Atomic int64_t last_limit_log;

	while (!r->r_conns.cs_draining) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		int fd = net_accept(io->fd, &ss, &sslen);

		if (fd == NET_ACCEPT_AGAIN)
			return;
		if (fd == NET_ACCEPT_PAUSE) {
			/* Out of descriptors: pause ~1 s, never stop for good
			 * (Q16).  A pending client got a clean close. */
			char peer[NET_ADDRSTRLEN] = "-";
			int e = errno;

			if (sslen > 0)
				net_format_addr((struct sockaddr *)&ss, sslen,
				    peer, sizeof(peer));
			log_warn("accept failed, pausing 1s", "server=%s "
			    "peer=%s error=\"%s\"", srv->name, peer,
			    strerror(e));
			ev_del(loop, &l->l_io);
			ev_timer_arm(loop, &l->l_pause, 1000);
			return;
		}
		if (atomic_load_explicit(&conn_count, memory_order_relaxed) >=
		    cfg->max_connections) {
			int64_t now = ev_now(loop);
			if (atomic_exchange(&last_limit_log, now) + 1000 <= now)
				log_warn("connection refused", "server=%s "
				    "reason=\"max_connections reached\" limit=%llu",
				    srv->name, (unsigned long long)
				    cfg->max_connections);
			close(fd);
			count_refused(loop, srv, STATS_REFUSE_MAX_CONN);
			continue;
		}
		if (srv->max_connections_per_ip > 0) {
			struct ipcount_slot *slot;
			int rc = ipcount_take(l->l_srv, &ss,
			    srv->max_connections_per_ip, &slot);

			if (rc != 1) {
				refuse_per_ip(loop, srv, fd, &ss, sslen, rc);
				continue;
			}
			conn_new(&r->r_conns, srv, fd, &ss, sslen, slot);
		} else
			conn_new(&r->r_conns, srv, fd, &ss, sslen, NULL);
	}
}

/* --- requests from other threads ------------------------------------------ */

static void
start_draining(struct rr_reactor *r)
{
	for (int i = 0; i < r->r_nlisteners; i++) {
		struct rr_listener *l = &r->r_listeners[i];
		ev_timer_cancel(r->r_loop, &l->l_pause);
		ev_del(r->r_loop, &l->l_io);
	}
	conn_set_drain(&r->r_conns);
}

void
reactor_set_config(struct rr_reactor *r, const struct rr_config *cfg)
{
	atomic_store(&r->r_cfg_next, cfg);
	ev_wake(r->r_loop);
}

const struct rr_config *
reactor_config_seen(const struct rr_reactor *r)
{
	return atomic_load(&r->r_cfg_seen);
}

void
reactor_close_uuid(struct rr_reactor *r, const char *uuid)
{
	char (*p)[37];

	pthread_mutex_lock(&r->r_cmd_mtx);
	if (r->r_nclose < MAX_CLOSE_REQS && (p = realloc(r->r_close_uuids,
	    (r->r_nclose + 1) * sizeof(*p))) != NULL) {
		r->r_close_uuids = p;
		snprintf(p[r->r_nclose++], 37, "%s", uuid);
	} else
		log_warn("tcp.Close request dropped", "uuid=%s reason=\"%d "
		    "requests queued\"", uuid, MAX_CLOSE_REQS);
	pthread_mutex_unlock(&r->r_cmd_mtx);
	ev_wake(r->r_loop);
}

static void
run_close_requests(struct rr_reactor *r)
{
	char (*list)[37];
	size_t n;

	pthread_mutex_lock(&r->r_cmd_mtx);
	list = r->r_close_uuids;
	n = r->r_nclose;
	r->r_close_uuids = NULL;
	r->r_nclose = 0;
	pthread_mutex_unlock(&r->r_cmd_mtx);
	for (size_t i = 0; i < n; i++)
		conn_set_close_uuid(&r->r_conns, list[i]);
	free(list);
}

static void
on_wake(struct ev *loop, void *arg)
{
	struct rr_reactor *r = arg;
	const struct rr_config *next;

	if (atomic_load(&r->r_stop)) {
		ev_stop(loop);
		return;
	}
	if ((next = atomic_exchange(&r->r_cfg_next, NULL)) != NULL) {
		conn_set_config(&r->r_conns, next);
		atomic_store(&r->r_cfg_seen, next);
	}
	if (atomic_load(&r->r_drain) && !r->r_conns.cs_draining)
		start_draining(r);
	run_close_requests(r);
	sched_serve(&r->r_sched);
}

static void
before_sleep(struct ev *loop, void *arg)
{
	struct rr_reactor *r = arg;

	conn_set_collect(&r->r_conns);
	if (r->r_conns.cs_draining && TAILQ_EMPTY(&r->r_conns.cs_conns))
		atomic_store(&r->r_drained, 1);
}

/* --- the thread ------------------------------------------------------------- */

int
reactor_init(struct rr_reactor *r, int id, const struct rr_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->r_id = id;
	atomic_store(&r->r_cfg_seen, cfg);
	pthread_mutex_init(&r->r_cmd_mtx, NULL);
	if ((r->r_loop = ev_new(MAXEVENTS, r)) == NULL)
		return -1;
	if (sched_init(&r->r_sched, r->r_loop) == -1)
		return -1;
	conn_set_init(&r->r_conns, r->r_loop, &r->r_sched, cfg);
	r->r_conns.cs_stats = stats_attach(cfg);	/* NULL: not counted */
	ev_set_before_sleep(r->r_loop, before_sleep, r);
	ev_set_wake(r->r_loop, on_wake, r);
	return 0;
}

int
reactor_add_listener(struct rr_reactor *r, size_t srv_index, int fd)
{
	struct rr_listener *ls = realloc(r->r_listeners,
	    (size_t)(r->r_nlisteners + 1) * sizeof(*ls)), *l;

	if (ls == NULL)
		return -1;
	r->r_listeners = ls;
	l = &ls[r->r_nlisteners++];
	memset(l, 0, sizeof(*l));
	l->l_r = r;
	l->l_srv = srv_index;
	l->l_io.fd = fd;
	l->l_io.fn = on_accept;
	ev_timer_init(&l->l_pause, on_listener_resume, l);
	return 0;
}

static void *
reactor_main(void *arg)
{
	struct rr_reactor *r = arg;

	/* Listeners were collected in an array that may have moved: fix the
	 * back pointers now that it is final, then register. */
	for (int i = 0; i < r->r_nlisteners; i++) {
		struct rr_listener *l = &r->r_listeners[i];
		l->l_io.arg = l;
		l->l_pause.arg = l;
		/* A shared (unix) listener wakes one reactor per connection. */
		ev_attach(r->r_loop, &l->l_io, EV_READ | EV_EDGE | EV_EXCLUSIVE);
	}
	ev_run(r->r_loop);
	return NULL;
}

int
reactor_start(struct rr_reactor *r)
{
	return pthread_create(&r->r_thread, NULL, reactor_main, r) == 0 ? 0 : -1;
}

void
reactor_drain(struct rr_reactor *r)
{
	atomic_store(&r->r_drain, 1);
	ev_wake(r->r_loop);
}

int
reactor_drained(const struct rr_reactor *r)
{
	return atomic_load(&r->r_drained);
}

void
reactor_stop(struct rr_reactor *r)
{
	atomic_store(&r->r_stop, 1);
	ev_wake(r->r_loop);
}

void
reactor_join(struct rr_reactor *r)
{
	pthread_join(r->r_thread, NULL);
	conn_set_destroy(&r->r_conns);
	stats_detach(r->r_conns.cs_stats);
	for (int i = 0; i < r->r_nlisteners; i++)
		close(r->r_listeners[i].l_io.fd);
	free(r->r_listeners);
	free(r->r_close_uuids);
	pthread_mutex_destroy(&r->r_cmd_mtx);
	sched_fini(&r->r_sched);
	ev_free(r->r_loop);
}
