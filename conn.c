/*
 * conn.c - reactor threads and client connections.
 *
 * Each reactor owns an epoll set (ev.c), its SO_REUSEPORT listeners and every
 * connection it accepted.  Sockets are registered once, edge-triggered, for
 * EPOLLIN|EPOLLOUT|EPOLLRDHUP, so steady state needs no epoll_ctl at all:
 * EPOLLIN sets c_readable, and conn_advance() reads only when it needs the
 * next message (while an event is with a worker the socket is left alone and
 * the kernel applies back-pressure, as RR does).  EPOLLOUT flushes c_out.
 *
 * conn_advance() is the whole state machine: it dispatches CONNECTED once,
 * then one DATA per delimited message (the delimiter is searched across read
 * boundaries, PROTOCOL.md 4.6 rrtcp policy), then exactly one CLOSE whatever
 * ended the connection (4.7 rrtcp policy).  Only one event per connection is
 * ever waiting or in flight.  Connections are freed in the before-sleep hook,
 * never inside a callback.
 */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "pool.h"
#include "relay.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

#define IN_MIN_CAP	2048		/* first c_in allocation */
#define READ_CHUNK	16384		/* bytes asked of read() at most */
#define OUT_HIGH_WATER	(256 * 1024)	/* pause dispatching above this */
#define MAXEVENTS	256
#define CONN_MAX_RETRIES 3		/* re-runs after Worker::stop() */
#define CONN_MAX_RETRIES_STR "3"

_Atomic uint64_t conn_count;
static _Atomic uint64_t events_in_progress;	/* only with max_queue_size */
static _Atomic uint64_t next_conn_id = 1;
void (*reactor_drained_hook)(void);

static void	conn_advance(struct rr_conn *c);
static void	conn_dispatch(struct rr_conn *c, enum conn_event ev);

const char *
conn_event_str(enum conn_event ev)
{
	static const char *const names[] = { "NONE", "CONNECTED", "DATA",
	    "CLOSE" };
	return names[ev];
}

static unsigned long long
cid(const struct rr_conn *c)
{
	return (unsigned long long)c->c_id;
}

/* --- closing ----------------------------------------------------------- */

/* Closes the socket; the CLOSE event follows from conn_advance(). */
static void
conn_close_socket(struct rr_conn *c, int level, const char *reason)
{
	char q[LOG_QMAX];

	if (c->c_closed)
		return;
	log_emit(level, "connection closed", "conn=%llu server=%s reason=%s",
	    cid(c), c->c_srv->name, log_q(q, sizeof(q), reason,
	    strlen(reason)));
	close(c->c_io.fd);
	c->c_io.fd = -1;
	c->c_closed = 1;
	c->c_readable = 0;
	buf_free(&c->c_out);
}

static void
conn_finish(struct rr_conn *c)
{
	struct rr_reactor *r = c->c_r;

	if (c->c_state == CONN_DONE)
		return;
	c->c_state = CONN_DONE;
	ev_timer_cancel(r->r_loop, &c->c_timer);
	TAILQ_REMOVE(&r->r_conns, c, c_link);
	TAILQ_INSERT_TAIL(&r->r_garbage, c, c_link);
}

static void
conn_free(struct rr_conn *c)
{
	buf_free(&c->c_in);
	buf_free(&c->c_out);
	free(c);
	atomic_fetch_sub_explicit(&conn_count, 1, memory_order_relaxed);
}

/* --- client I/O -------------------------------------------------------- */

/*
 * Sends what the socket takes now.  Returns the bytes sent; on an error the
 * socket is closed (c_closed says so).
 */
static size_t
conn_send(struct rr_conn *c, const uint8_t *p, size_t n)
{
	size_t sent = 0;

	while (sent < n) {
		ssize_t w = send(c->c_io.fd, p + sent, n - sent, MSG_NOSIGNAL);

		if (w > 0)
			sent += (size_t)w;
		else if (w == -1 && errno == EINTR)
			continue;
		else if (w == -1 && errno == EAGAIN)
			break;
		else {
			char why[96];
			snprintf(why, sizeof(why), "write: %s", strerror(errno));
			conn_close_socket(c, LOG_DEBUG, why);
			break;
		}
	}
	return sent;
}

/* Writes reply bytes: straight to the socket, the rest into c_out. */
static void
conn_write(struct rr_conn *c, const uint8_t *p, size_t n)
{
	size_t sent;

	if (c->c_closed || n == 0)
		return;
	if (buf_len(&c->c_out) == 0) {
		sent = conn_send(c, p, n);
		if (c->c_closed)
			return;
		p += sent;
		n -= sent;
	}
	if (n > 0 && buf_append(&c->c_out, p, n,
	    c->c_r->r_cfg->max_frame_size + OUT_HIGH_WATER) == -1)
		conn_close_socket(c, LOG_WARN, "output buffer limit exceeded");
}

static void
conn_flush(struct rr_conn *c)
{
	size_t len = buf_len(&c->c_out), sent;

	if (c->c_closed || len == 0)
		return;
	sent = conn_send(c, buf_rptr(&c->c_out), len);
	if (c->c_closed)
		return;		/* conn_close_socket freed c_out */
	buf_consume(&c->c_out, sent);
	if (buf_len(&c->c_out) == 0 && c->c_out.cap > 65536)
		buf_free(&c->c_out);	/* a big reply is not kept around */
}

/* Reads one chunk.  Returns bytes read, 0 on EOF, -1 on EAGAIN, -2 on error. */
static ssize_t
conn_read(struct rr_conn *c)
{
	const struct rr_server_conf *srv = c->c_srv;
	size_t max = srv->max_message_size + srv->delim_len + READ_CHUNK;
	size_t want;
	ssize_t n;

	if (buf_reserve(&c->c_in, IN_MIN_CAP, IN_MIN_CAP, max) == -1)
		return -3;
	want = buf_avail(&c->c_in);
	if (want > READ_CHUNK)
		want = READ_CHUNK;
	do
		n = read(c->c_io.fd, buf_wptr(&c->c_in), want);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		c->c_in.wpos += (size_t)n;
		/* A short read emptied the socket: the next byte raises a new
		 * edge, so skip the read that would only say EAGAIN.  After
		 * RDHUP keep reading until read() reports the EOF itself. */
		if ((size_t)n < want && !c->c_rdhup)
			c->c_readable = 0;
		return n;
	}
	if (n == 0)
		return 0;
	return errno == EAGAIN ? -1 : -2;
}

/*
 * memmem() sets up a two-way search on every call, which costs more than the
 * search itself for a 1-4 byte delimiter in a short message; memchr() for
 * the first byte and a compare of the rest is what a line protocol needs.
 */
static const uint8_t *
find_delim(const uint8_t *p, size_t n, const char *delim, size_t dlen)
{
	const uint8_t *end = p + n;

	while (n >= dlen) {
		const uint8_t *hit = memchr(p, (uint8_t)delim[0], n - dlen + 1);

		if (hit == NULL)
			return NULL;
		if (memcmp(hit + 1, delim + 1, dlen - 1) == 0)
			return hit;
		p = hit + 1;
		n = (size_t)(end - p);
	}
	return NULL;
}

/* Finds the next delimited message; sets c_msglen and returns 1, or 0. */
static int
conn_find_message(struct rr_conn *c)
{
	const struct rr_server_conf *srv = c->c_srv;
	size_t len = buf_len(&c->c_in);
	const uint8_t *p = buf_rptr(&c->c_in), *hit;

	if (len < srv->delim_len)
		return 0;
	hit = find_delim(p + c->c_scan, len - c->c_scan, srv->delim,
	    srv->delim_len);
	if (hit == NULL) {
		/* Resume where a delimiter split over two reads can start. */
		c->c_scan = len - srv->delim_len + 1;
		return 0;
	}
	c->c_msglen = (size_t)(hit - p) + srv->delim_len;
	return 1;
}

static void
conn_advance(struct rr_conn *c)
{
	struct rr_reactor *r = c->c_r;

	for (;;) {
		ssize_t n;

		if (c->c_state != CONN_IDLE)
			return;
		if (c->c_closed) {
			if (!c->c_close_sent) {
				c->c_close_sent = 1;
				conn_dispatch(c, CEV_CLOSE);
			} else
				conn_finish(c);
			return;
		}
		if (buf_len(&c->c_out) > 0) {
			/* WRITECLOSE and back-pressure wait for EPOLLOUT. */
			if (c->c_close_after_flush ||
			    buf_len(&c->c_out) > OUT_HIGH_WATER)
				return;
		} else if (c->c_close_after_flush) {
			conn_close_socket(c, LOG_DEBUG, "WRITECLOSE");
			continue;
		}
		if (conn_find_message(c)) {
			conn_dispatch(c, CEV_DATA);
			return;
		}
		if (buf_len(&c->c_in) > c->c_srv->max_message_size) {
			char why[96];
			snprintf(why, sizeof(why), "message exceeds "
			    "max_message_size (%zu bytes) without a delimiter",
			    c->c_srv->max_message_size);
			buf_free(&c->c_in);
			conn_close_socket(c, LOG_WARN, why);
			continue;
		}
		if (c->c_eof) {
			if (buf_len(&c->c_in) > 0) {
				/* The rest, without its delimiter (4.6). */
				c->c_msglen = buf_len(&c->c_in);
				conn_dispatch(c, CEV_DATA);
				return;
			}
			conn_close_socket(c, LOG_DEBUG, "client closed");
			continue;
		}
		if (r->r_draining) {
			conn_close_socket(c, LOG_INFO, "server shutting down");
			continue;
		}
		if (!c->c_readable)
			return;
		n = conn_read(c);
		if (n > 0)
			continue;	/* conn_read may have cleared c_readable */
		if (n == -1) {
			c->c_readable = 0;
			return;
		}
		if (n == 0) {
			c->c_eof = 1;
			c->c_readable = 0;
			continue;
		}
		if (n == -3) {
			buf_free(&c->c_in);
			conn_close_socket(c, LOG_WARN, "out of memory");
			continue;
		}
		{
			char why[96];
			snprintf(why, sizeof(why), "read: %s", strerror(errno));
			/* A reset is the client's business: debug, like any
			 * per-connection event. */
			conn_close_socket(c, LOG_DEBUG, why);
		}
	}
}

static void
conn_on_io(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct rr_conn *c = io->arg;

	if (c->c_closed || c->c_state == CONN_DONE)
		return;
	if (events & (EV_READ | EV_HUP))
		c->c_readable = 1;
	if (events & EV_HUP)
		c->c_rdhup = 1;
	if (events & EV_WRITE) {
		conn_flush(c);
		if (c->c_closed && c->c_state == CONN_IDLE) {
			conn_advance(c);
			return;
		}
	}
	if (c->c_state == CONN_IDLE)
		conn_advance(c);
}

/* --- dispatching events to workers ---------------------------------------- */

/*
 * Fair across reactors, cheaply: a freed worker goes to the local queue
 * unless another reactor's oldest waiter has waited FAIR_SLACK_MS longer;
 * then it goes through the idle ring to that reactor.  Without this one
 * reactor could keep its workers while the other's connections starve;
 * with a strict "oldest first" rule workers would move between the
 * reactors' epoll sets on nearly every event (two epoll_ctl and a wake-up).
 */
#define FAIR_SLACK_MS	2

static struct rr_reactor *all_reactors[64];
static _Atomic int	 nall_reactors;

static int
oldest_is_here(const struct rr_reactor *r)
{
	int64_t mine = atomic_load(&r->r_head_since);
	int n = atomic_load(&nall_reactors);

	for (int i = 0; i < n; i++)
		if (all_reactors[i] != r &&
		    atomic_load(&all_reactors[i]->r_head_since) + FAIR_SLACK_MS <
		    mine)
			return 0;
	return 1;
}

static void
set_head_since(struct rr_reactor *r)
{
	struct rr_conn *head = TAILQ_FIRST(&r->r_waitq);

	/* INT64_MAX / 2: "nobody waits", and + FAIR_SLACK_MS cannot overflow. */
	atomic_store(&r->r_head_since, head ? head->c_wait_since :
	    INT64_MAX / 2);
}

static void
waitq_insert(struct rr_conn *c)
{
	struct rr_reactor *r = c->c_r;

	c->c_wait_since = ev_now(r->r_loop);
	TAILQ_INSERT_TAIL(&r->r_waitq, c, c_wait);
	set_head_since(r);
	atomic_fetch_add_explicit(&r->r_waiting, 1, memory_order_relaxed);
	/* seq_cst: publish "someone waits" before looking at the ring again,
	 * so a worker released meanwhile is not missed (pool.c). */
	pool_waiting_add(1);
}

static void
waitq_remove(struct rr_conn *c)
{
	struct rr_reactor *r = c->c_r;

	TAILQ_REMOVE(&r->r_waitq, c, c_wait);
	set_head_since(r);
	atomic_fetch_sub_explicit(&r->r_waiting, 1, memory_order_relaxed);
	pool_waiting_add(-1);
}

static void	conn_start_exec(struct rr_conn *c, struct rr_worker *w);

/* Hands idle workers to waiting events, oldest first. */
static void
serve_waiters(struct rr_reactor *r)
{
	struct rr_conn *c;
	struct rr_worker *w;

	while ((c = TAILQ_FIRST(&r->r_waitq)) != NULL && oldest_is_here(r)) {
		if ((w = pool_lease(r->r_loop)) == NULL)
			return;
		waitq_remove(c);
		conn_start_exec(c, w);
	}
}

/*
 * Every waiter of a reactor waits allocate_timeout, so the queue is in
 * deadline order and one timer for its head covers all of them.
 */
static void
on_wait_timer(struct ev *loop, struct ev_timer *t)
{
	struct rr_reactor *r = t->arg;
	struct rr_conn *c;
	char why[128];

	int expired = 0;

	while ((c = TAILQ_FIRST(&r->r_waitq)) != NULL &&
	    c->c_wait_until <= ev_now(loop)) {
		expired = 1;
		waitq_remove(c);
		snprintf(why, sizeof(why), "no free worker within "
		    "allocate_timeout (%lldms) for %s",
		    (long long)r->r_cfg->pool.allocate_timeout_ms,
		    conn_event_str(c->c_event));
		c->c_state = CONN_IDLE;
		pool_note_starved();
		conn_exec_failed(c, why);
	}
	if ((c = TAILQ_FIRST(&r->r_waitq)) != NULL)
		ev_timer_arm(loop, t, c->c_wait_until - ev_now(loop));
	/* Another reactor may hold the oldest waiter now. */
	if (expired)
		pool_kick();
}

static void
on_conn_timer(struct ev *loop, struct ev_timer *t)
{
	struct rr_conn *c = t->arg;
	const struct rr_config *cfg = c->c_r->r_cfg;
	char why[128];

	if (c->c_state == CONN_EXEC && c->c_worker != NULL) {
		struct rr_worker *w = c->c_worker;
		int is_close = c->c_event == CEV_CLOSE;

		snprintf(why, sizeof(why), is_close ?
		    "no answer to CLOSE within close_timeout (%lldms)" :
		    "exec_ttl exceeded (%lldms)", (long long)(is_close ?
		    cfg->close_timeout_ms : cfg->pool.supervisor.exec_ttl_ms));
		c->c_worker = NULL;
		pool_retire(w, WS_EXEC_TTL, 1, why);
		conn_exec_failed(c, why);
	}
}

static void
conn_start_exec(struct rr_conn *c, struct rr_worker *w)
{
	const struct rr_config *cfg = c->c_r->r_cfg;
	int64_t ttl = c->c_event == CEV_CLOSE ? cfg->close_timeout_ms :
	    cfg->pool.supervisor.exec_ttl_ms;

	c->c_state = CONN_EXEC;
	if (relay_send(c, w) == -1) {
		/* That worker is gone; try the next one. */
		c->c_state = CONN_IDLE;
		conn_dispatch(c, c->c_event);
		return;
	}
	if (ttl > 0)
		ev_timer_arm(c->c_r->r_loop, &c->c_timer, ttl);
}

static void
conn_dispatch(struct rr_conn *c, enum conn_event ev)
{
	struct rr_reactor *r = c->c_r;
	struct rr_worker *w;

	/* CLOSE is owed to every connection (4.7): never refused here. */
	if (c->c_event == CEV_NONE && ev != CEV_CLOSE &&
	    r->r_cfg->pool.max_queue_size > 0) {
		/* RR: this many events waiting or running already -> fail. */
		if (atomic_fetch_add(&events_in_progress, 1) >=
		    r->r_cfg->pool.max_queue_size) {
			atomic_fetch_sub(&events_in_progress, 1);
			c->c_event = ev;
			c->c_state = CONN_IDLE;
			conn_exec_failed(c, "max_queue_size reached");
			return;
		}
		c->c_counted = 1;
	}
	c->c_event = ev;
	/* Arrival order: nobody overtakes an event that already waits, here
	 * or on another reactor. */
	if (pool_waiting_total() == 0 && (w = pool_lease(r->r_loop)) != NULL) {
		conn_start_exec(c, w);
		return;
	}
	c->c_state = CONN_WAITING;
	waitq_insert(c);
	c->c_wait_until = ev_now(r->r_loop) + r->r_cfg->pool.allocate_timeout_ms;
	if (!ev_timer_armed(&r->r_wait_timer))
		ev_timer_arm(r->r_loop, &r->r_wait_timer,
		    r->r_cfg->pool.allocate_timeout_ms);
	serve_waiters(r);
}

/* The event no longer counts against max_queue_size. */
static void
release_queue_slot(struct rr_conn *c)
{
	if (c->c_counted) {
		atomic_fetch_sub(&events_in_progress, 1);
		c->c_counted = 0;
	}
}

void
conn_on_reply(struct rr_conn *c, enum conn_reply kind, const uint8_t *body,
    size_t len)
{
	/* Before the client can see the answer and send again (RR frees the
	 * slot when the worker call returns). */
	release_queue_slot(c);
	if (c->c_event == CEV_CLOSE)
		return;		/* the answer to CLOSE is ignored (4.5) */
	switch (kind) {
	case REPLY_CONTINUE:
		break;
	case REPLY_WRITE:
		conn_write(c, body, len);
		break;
	case REPLY_WRITECLOSE:
		conn_write(c, body, len);
		c->c_close_after_flush = 1;
		break;
	case REPLY_CLOSE:
		conn_close_socket(c, LOG_DEBUG, "worker answered CLOSE");
		break;
	}
}

static void
conn_event_over(struct rr_conn *c)
{
	ev_timer_cancel(c->c_r->r_loop, &c->c_timer);
	if (c->c_event == CEV_DATA) {
		buf_consume(&c->c_in, c->c_msglen);
		c->c_msglen = 0;
		c->c_scan = 0;
	}
	c->c_event = CEV_NONE;
	c->c_worker = NULL;
	c->c_state = CONN_IDLE;
	c->c_retries = 0;
	release_queue_slot(c);
}

void
conn_exec_done(struct rr_conn *c, struct rr_worker *w)
{
	if (c != NULL)
		conn_event_over(c);
	if (w != NULL && pool_finish(w)) {
		struct ev *loop = atomic_load(&w->w_holder);
		struct rr_reactor *wr = ev_data(loop);
		struct rr_conn *next = TAILQ_FIRST(&wr->r_waitq);

		/* Straight to the local head if it is the oldest waiter
		 * anywhere; else through the ring to whoever is. */
		if (next != NULL && oldest_is_here(wr)) {
			waitq_remove(next);
			atomic_store(&w->w_status, WS_WORKING);
			conn_start_exec(next, w);
		} else
			pool_release(w);
	}
	if (c != NULL)
		conn_advance(c);
}

void
conn_exec_failed(struct rr_conn *c, const char *reason)
{
	char q[LOG_QMAX];

	if (c->c_event == CEV_CLOSE) {
		log_info("CLOSE event not delivered", "conn=%llu reason=%s",
		    cid(c), log_q(q, sizeof(q), reason, strlen(reason)));
		conn_event_over(c);
		conn_finish(c);
		return;
	}
	/* The message that failed is dropped with the connection. */
	conn_event_over(c);
	conn_close_socket(c, LOG_WARN, reason);
	conn_advance(c);
}

void
conn_exec_retry(struct rr_conn *c)
{
	ev_timer_cancel(c->c_r->r_loop, &c->c_timer);
	c->c_state = CONN_IDLE;
	/* RR re-runs forever; a worker that stops on this very event would
	 * cycle the whole pool.  Three tries, then the event fails. */
	if (++c->c_retries > CONN_MAX_RETRIES) {
		conn_exec_failed(c, "every worker asked to stop on this event "
		    "(tried " CONN_MAX_RETRIES_STR " times)");
		return;
	}
	conn_dispatch(c, c->c_event);
}

/* --- accepting ------------------------------------------------------------ */

static void
on_listener_resume(struct ev *loop, struct ev_timer *t)
{
	struct rr_listener *l = t->arg;

	if (!l->l_r->r_draining)
		ev_attach(loop, &l->l_io, EV_READ | EV_EDGE);
	/* Edge-triggered: connections queued meanwhile raise no new edge. */
	l->l_io.fn(loop, &l->l_io, EV_READ);
}

static void
conn_new(struct rr_listener *l, int fd, struct sockaddr_storage *ss,
    socklen_t sslen)
{
	struct rr_reactor *r = l->l_r;
	const struct rr_server_conf *srv = l->l_srv;
	char addr[NET_ADDRSTRLEN], uuid[NET_UUIDLEN + 1];
	size_t cap = 96 + NET_ADDRSTRLEN + NET_UUIDLEN +
	    JSON_QUOTED_MAX(strlen(srv->name)), len;
	struct rr_conn *c;
	int one = 1;

	if ((c = calloc(1, sizeof(*c) + cap)) == NULL) {
		log_warn("connection refused", "server=%s reason=\"out of memory\"",
		    srv->name);
		close(fd);
		return;
	}
	net_format_addr((struct sockaddr *)ss, sslen, addr, sizeof(addr));
	net_uuid(uuid);
	len = json_ctx_prefix(c->c_ctx, cap, addr, srv->name,
	    strlen(srv->name), uuid);
	c->c_ctxlen = (uint16_t)len;
	c->c_id = atomic_fetch_add_explicit(&next_conn_id, 1,
	    memory_order_relaxed);
	c->c_r = r;
	c->c_srv = srv;
	c->c_state = CONN_IDLE;
	ev_timer_init(&c->c_timer, on_conn_timer, c);
	if (ss->ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ev_add(r->r_loop, &c->c_io, fd, EV_READ | EV_WRITE | EV_HUP | EV_EDGE, conn_on_io, c) == -1) {
		log_warn("connection refused", "server=%s reason=epoll", srv->name);
		close(fd);
		free(c);
		return;
	}
	atomic_fetch_add_explicit(&conn_count, 1, memory_order_relaxed);
	TAILQ_INSERT_TAIL(&r->r_conns, c, c_link);
	r->r_nconns++;
	log_debug("connection accepted", "conn=%llu server=%s remote=%s uuid=%s",
	    cid(c), srv->name, addr, uuid);
	/* Not readable yet: epoll_ctl ADD reports bytes that are already
	 * there, and an idle connection then never allocates c_in. */
	conn_dispatch(c, CEV_CONNECTED);
}

static void
on_accept(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct rr_listener *l = io->arg;
	struct rr_reactor *r = l->l_r;
	static _Atomic int64_t last_limit_log;

	while (!r->r_draining) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		int fd = accept4(io->fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return;
			/* EMFILE/ENFILE/ENOBUFS: pause ~1 s, never stop for
			 * good (Q16). */
			log_warn("accept failed, pausing 1s", "server=%s error=%s",
			    l->l_srv->name, strerror(errno));
			ev_del(loop, &l->l_io);
			ev_timer_arm(loop, &l->l_pause, 1000);
			return;
		}
		if (atomic_load_explicit(&conn_count, memory_order_relaxed) >=
		    r->r_cfg->max_connections) {
			int64_t now = ev_now(loop);
			if (atomic_exchange(&last_limit_log, now) + 1000 <= now)
				log_warn("connection refused", "server=%s "
				    "reason=\"max_connections reached\" limit=%llu",
				    l->l_srv->name, (unsigned long long)
				    r->r_cfg->max_connections);
			close(fd);
			continue;
		}
		conn_new(l, fd, &ss, sslen);
	}
}

/* --- the reactor thread --------------------------------------------------- */

static void
check_drained(struct rr_reactor *r)
{
	if (r->r_draining && !r->r_drained && TAILQ_EMPTY(&r->r_conns)) {
		r->r_drained = 1;
		if (reactor_drained_hook)
			reactor_drained_hook();
	}
}

static void
before_sleep(struct ev *loop, void *arg)
{
	struct rr_reactor *r = arg;
	struct rr_conn *c;

	while ((c = TAILQ_FIRST(&r->r_garbage)) != NULL) {
		TAILQ_REMOVE(&r->r_garbage, c, c_link);
		conn_free(c);
	}
	check_drained(r);
}

static void
start_draining(struct rr_reactor *r)
{
	struct rr_conn *c, *tmp;

	r->r_draining = 1;
	for (int i = 0; i < r->r_nlisteners; i++) {
		struct rr_listener *l = &r->r_listeners[i];
		ev_timer_cancel(r->r_loop, &l->l_pause);
		ev_del(r->r_loop, &l->l_io);
	}
	/* Idle connections close now; busy ones when their event is done. */
	TAILQ_FOREACH_SAFE(c, &r->r_conns, c_link, tmp)
		if (c->c_state == CONN_IDLE)
			conn_advance(c);
}

/* The uuid sits at the end of the context prefix: ..."uuid":"U","event":" */
static const char *
conn_uuid(const struct rr_conn *c)
{
	return c->c_ctx + c->c_ctxlen - (NET_UUIDLEN + sizeof("\",\"event\":\"") - 1);
}

void
reactor_set_config(struct rr_reactor *r, const struct rr_config *cfg)
{
	atomic_store(&r->r_cfg_next, cfg);
	ev_wake(r->r_loop);
}

void
reactor_close_uuid(struct rr_reactor *r, const char *uuid)
{
	char (*p)[37];

	pthread_mutex_lock(&r->r_cmd_mtx);
	/* Bounded: beyond 4096 queued requests the oldest wins. */
	if (r->r_nclose < 4096 && (p = realloc(r->r_close_uuids,
	    (r->r_nclose + 1) * sizeof(*p))) != NULL) {
		r->r_close_uuids = p;
		snprintf(p[r->r_nclose++], 37, "%s", uuid);
	}
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
	for (size_t i = 0; i < n; i++) {
		struct rr_conn *c;

		TAILQ_FOREACH(c, &r->r_conns, c_link) {
			if (c->c_closed ||
			    memcmp(conn_uuid(c), list[i], NET_UUIDLEN) != 0)
				continue;
			/* An event in flight finishes; its reply goes nowhere
			 * and the CLOSE event follows (4.8). */
			conn_close_socket(c, LOG_INFO, "closed by tcp.Close");
			if (c->c_state == CONN_IDLE)
				conn_advance(c);
			break;
		}
	}
	free(list);
}

static _Atomic int drain_requested;
static _Atomic int stop_requested;

static void
on_wake(struct ev *loop, void *arg)
{
	struct rr_reactor *r = arg;

	if (atomic_load(&stop_requested)) {
		ev_stop(loop);
		return;
	}
	{
		const struct rr_config *next = atomic_exchange(&r->r_cfg_next,
		    NULL);
		if (next != NULL)
			r->r_cfg = next;
	}
	if (atomic_load(&drain_requested) && !r->r_draining)
		start_draining(r);
	run_close_requests(r);
	serve_waiters(r);
}

int
reactor_init(struct rr_reactor *r, int id, const struct rr_config *cfg)
{
	size_t longest = 0;

	memset(r, 0, sizeof(*r));
	r->r_id = id;
	r->r_cfg = cfg;
	TAILQ_INIT(&r->r_conns);
	TAILQ_INIT(&r->r_waitq);
	TAILQ_INIT(&r->r_garbage);
	ev_timer_init(&r->r_wait_timer, on_wait_timer, r);
	atomic_store(&r->r_head_since, INT64_MAX / 2);
	if (atomic_load(&nall_reactors) < 64)
		all_reactors[atomic_fetch_add(&nall_reactors, 1)] = r;
	pthread_mutex_init(&r->r_cmd_mtx, NULL);
	for (size_t i = 0; i < cfg->nservers; i++)
		if (strlen(cfg->servers[i].name) > longest)
			longest = strlen(cfg->servers[i].name);
	r->r_scratch_len = 64 + 128 + NET_ADDRSTRLEN + NET_UUIDLEN +
	    JSON_QUOTED_MAX(longest);
	if ((r->r_scratch = malloc(r->r_scratch_len)) == NULL)
		return -1;
	if ((r->r_loop = ev_new(MAXEVENTS, r)) == NULL)
		return -1;
	ev_set_before_sleep(r->r_loop, before_sleep, r);
	ev_set_wake(r->r_loop, on_wake, r);
	pool_register_loop(r->r_loop, &r->r_waiting);
	return 0;
}

int
reactor_add_listener(struct rr_reactor *r, const struct rr_server_conf *srv,
    int fd)
{
	struct rr_listener *ls = realloc(r->r_listeners,
	    (size_t)(r->r_nlisteners + 1) * sizeof(*ls)), *l;

	if (ls == NULL)
		return -1;
	r->r_listeners = ls;
	l = &ls[r->r_nlisteners++];
	memset(l, 0, sizeof(*l));
	l->l_r = r;
	l->l_srv = srv;
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
	atomic_store(&drain_requested, 1);
	ev_wake(r->r_loop);
}

void
reactor_stop(struct rr_reactor *r)
{
	atomic_store(&stop_requested, 1);
	ev_wake(r->r_loop);
}

void
reactor_join(struct rr_reactor *r)
{
	struct rr_conn *c;

	pthread_join(r->r_thread, NULL);
	while ((c = TAILQ_FIRST(&r->r_garbage)) != NULL) {
		TAILQ_REMOVE(&r->r_garbage, c, c_link);
		conn_free(c);
	}
	while ((c = TAILQ_FIRST(&r->r_conns)) != NULL) {
		TAILQ_REMOVE(&r->r_conns, c, c_link);
		if (!c->c_closed)
			close(c->c_io.fd);
		conn_free(c);
	}
	for (int i = 0; i < r->r_nlisteners; i++)
		close(r->r_listeners[i].l_io.fd);
	free(r->r_listeners);
	free(r->r_scratch);
	free(r->r_close_uuids);
	pthread_mutex_destroy(&r->r_cmd_mtx);
	pool_unregister_loop(r->r_loop);
	ev_free(r->r_loop);
}
