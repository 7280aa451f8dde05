/*
 * conn.c - client connections of one reactor.
 *
 * Sockets are registered once, edge-triggered, for reading, writing and the
 * peer's half-close, so steady state needs no registration changes: a read
 * edge sets c_readable, and conn_advance() reads only when it needs the next
 * message (while an event is with a worker the socket is left alone and the
 * kernel applies back-pressure, as RR does).  A write edge flushes c_out.
 *
 * conn_advance() moves an OPEN connection on: it dispatches one DATA per
 * delimited message (the delimiter is searched across read boundaries,
 * rrtcp-protocol(7) 4.6), and ends the connection once the client or the
 * server is done.  Connections are freed before the loop sleeps, never
 * inside a callback.
 */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ipcount.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "net.h"

#define IN_MIN_CAP	2048		/* first c_in allocation */
#define READ_CHUNK	16384		/* bytes asked of read() at most */
#define OUT_HIGH_WATER	(256 * 1024)	/* pause dispatching above this */
#define BUF_KEEP	65536		/* an empty buffer over this is freed */
#define CONN_MAX_RETRIES 3		/* re-runs after Worker::stop() */
#define CONN_MAX_RETRIES_STR "3"

_Atomic uint64_t conn_count;
static _Atomic uint64_t events_in_progress;	/* only with max_queue_size */
static _Atomic uint64_t next_conn_id = 1;

static void	conn_advance(struct rr_conn *c);
static void	conn_dispatch(struct rr_conn *c, enum conn_event ev);

#define CONN_OF(p, member) \
	((struct rr_conn *)(void *)((char *)(p) - offsetof(struct rr_conn, member)))

const char *
conn_event_str(enum conn_event ev)
{
	static const char *const names[] = { "NONE", "CONNECTED", "DATA",
	    "CLOSE" };
	return names[ev];
}

const char *
conn_state_str(enum conn_state st)
{
	static const char *const names[] = { "open", "flushing", "close_owed",
	    "closing", "done" };
	return names[st];
}

static unsigned long long
cid(const struct rr_conn *c)
{
	return (unsigned long long)c->c_id;
}

static const struct rr_config *
cfg_of(const struct rr_conn *c)
{
	return c->c_set->cs_cfg;
}

/* c's server's counters on this reactor, or NULL when not counted. */
static struct stats_server *
srv_stats(const struct rr_conn *c)
{
	return stats_srv(c->c_set->cs_stats,
	    (size_t)(c->c_srv - cfg_of(c)->servers));
}

/* The one way a connection's state changes. */
static void
set_state(struct rr_conn *c, enum conn_state to)
{
	if (log_enabled(LOG_DEBUG))
		log_debug("connection state", "conn=%llu from=%s to=%s",
		    cid(c), conn_state_str(c->c_state), conn_state_str(to));
	c->c_state = to;
}

/* --- ending ------------------------------------------------------------- */

static void
conn_finish(struct rr_conn *c)
{
	struct conn_set *cs = c->c_set;

	set_state(c, CONN_DONE);
	TAILQ_REMOVE(&cs->cs_conns, c, c_link);
	TAILQ_INSERT_TAIL(&cs->cs_garbage, c, c_link);
}

static void
conn_free(struct rr_conn *c)
{
	ipcount_give(c->c_ipslot);
	free(c->c_end_reason);
	buf_free(&c->c_in);
	buf_free(&c->c_out);
	mem_update(&c->c_mem, 0);
	free(c);
	atomic_fetch_sub_explicit(&conn_count, 1, memory_order_relaxed);
}

static void	shed(struct conn_set *cs);

/* Reports c's buffers to the process-wide count; over the limit, the most
 * expensive connections of this reactor go. */
static void
conn_account(struct rr_conn *c)
{
	size_t before = c->c_mem;

	mem_update(&c->c_mem, c->c_in.cap + c->c_out.cap);
	if (c->c_mem > before && mem_over())
		shed(c->c_set);
}

/*
 * Closes the socket.  The client must not take a cut reply for a whole one:
 * with reply bytes unsent, or cut set (the caller drops it under a running
 * event), the connection is reset.
 */
static void
close_socket(struct rr_conn *c, enum stats_close class, int level,
    const char *reason, int cut)
{
	char q[LOG_QMAX], extra[64] = "";
	size_t unsent = buf_len(&c->c_out);
	int pid = relay_worker_pid(&c->c_x);
	struct stats_server *ss = srv_stats(c);

	if (ss != NULL)
		stats_add(&ss->ss_closed[class], 1);

	if (unsent > 0 || cut) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->c_io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (level < LOG_WARN)
			level = LOG_WARN;	/* lost reply bytes are news */
		snprintf(extra, sizeof(extra), " unsent=%zu reset=1", unsent);
	}
	if (pid != 0)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		    " worker=%d", pid);
	log_emit(level, "connection closed", "conn=%llu server=%s reason=%s%s",
	    cid(c), c->c_srv->name, log_q(q, sizeof(q), reason,
	    strlen(reason)), extra);
	close(c->c_io.fd);
	c->c_io.fd = -1;
	c->c_readable = 0;
	buf_free(&c->c_out);
	if (c->c_slot == SLOT_FREE)
		buf_free(&c->c_in);	/* nothing more is read or sent */
	set_state(c, CONN_CLOSE_OWED);
	conn_account(c);
}

void
conn_close(struct rr_conn *c, enum stats_close class, int level,
    const char *reason)
{
	if (c->c_state != CONN_OPEN && c->c_state != CONN_FLUSHING)
		return;
	close_socket(c, class, level, reason, 0);
	if (c->c_slot == SLOT_FREE)
		conn_dispatch(c, CEV_CLOSE);
}

/* No more events from this client: close once the output is out. */
static void
conn_end(struct rr_conn *c, enum stats_close class, int level,
    const char *reason)
{
	if (buf_len(&c->c_out) == 0 || c->c_state != CONN_OPEN ||
	    (c->c_end_reason = strdup(reason)) == NULL) {
		conn_close(c, class, level, reason);
		return;
	}
	c->c_end_level = level;
	c->c_end_class = class;
	set_state(c, CONN_FLUSHING);
}

/* --- client I/O ----------------------------------------------------------- */

/* Sends what the socket takes now; returns the bytes sent.  An error closes. */
static size_t
conn_send(struct rr_conn *c, const uint8_t *p, size_t n)
{
	int err;
	size_t sent = net_send(c->c_io.fd, p, n, &err);
	struct stats_server *ss;

	if (err != 0) {
		char why[96];

		snprintf(why, sizeof(why), "write: %s", strerror(err));
		/* What is left cannot reach this client anyway. */
		buf_free(&c->c_out);
		conn_close(c, STATS_CLOSE_CLIENT, LOG_DEBUG, why);
	}
	if (sent > 0 && (ss = srv_stats(c)) != NULL)
		stats_add(&ss->ss_bytes_out, sent);
	return sent;
}

static int
conn_has_socket(const struct rr_conn *c)
{
	return c->c_state == CONN_OPEN || c->c_state == CONN_FLUSHING;
}

/* Writes reply bytes: straight to the socket, the rest into c_out. */
static void
conn_write(struct rr_conn *c, const uint8_t *p, size_t n)
{
	size_t sent;

	if (!conn_has_socket(c) || n == 0)
		return;
	if (buf_len(&c->c_out) == 0) {
		sent = conn_send(c, p, n);
		if (!conn_has_socket(c))
			return;
		p += sent;
		n -= sent;
		c->c_out_since = ev_now(c->c_set->cs_loop);
	}
	if (n > 0 && buf_append(&c->c_out, p, n,
	    c->c_srv->max_output_buffer) == -1) {
		char why[96];

		snprintf(why, sizeof(why), "max_output_buffer exceeded (%zu "
		    "bytes)", c->c_srv->max_output_buffer);
		conn_close(c, STATS_CLOSE_LIMIT, LOG_WARN, why);
		return;
	}
	conn_account(c);
}

static void
conn_flush(struct rr_conn *c)
{
	size_t len = buf_len(&c->c_out), sent;

	if (!conn_has_socket(c) || len == 0)
		return;
	sent = conn_send(c, buf_rptr(&c->c_out), len);
	if (!conn_has_socket(c))
		return;
	if (sent > 0)
		c->c_out_since = ev_now(c->c_set->cs_loop);
	buf_consume(&c->c_out, sent);
	if (buf_len(&c->c_out) == 0 && c->c_out.cap > BUF_KEEP) {
		buf_free(&c->c_out);	/* a big reply is not kept around */
		conn_account(c);
	}
	if (c->c_state == CONN_FLUSHING && buf_len(&c->c_out) == 0) {
		char *why = c->c_end_reason;

		c->c_end_reason = NULL;
		conn_close(c, c->c_end_class, c->c_end_level, why);
		free(why);
	}
}

/* Reads one chunk.  Returns bytes read, 0 on EOF, -1 on EAGAIN, -2 on error,
 * -3 out of memory. */
static ssize_t
conn_read(struct rr_conn *c)
{
	const struct rr_server_conf *srv = c->c_srv;
	size_t max = srv->max_message_size + srv->delim_len + READ_CHUNK;
	size_t want;
	ssize_t n;

	if (buf_reserve(&c->c_in, IN_MIN_CAP, IN_MIN_CAP, max) == -1)
		return -3;
	conn_account(c);
	if (!conn_has_socket(c))
		return -1;	/* shed for memory */
	want = buf_avail(&c->c_in);
	if (want > READ_CHUNK)
		want = READ_CHUNK;
	do
		n = read(c->c_io.fd, buf_wptr(&c->c_in), want);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		struct stats_server *ss = srv_stats(c);

		if (ss != NULL)
			stats_add(&ss->ss_bytes_in, (uint64_t)n);
		c->c_in.wpos += (size_t)n;
		c->c_last_in = ev_now(c->c_set->cs_loop);
		/* A short read emptied the socket: the next byte raises a new
		 * edge, so skip the read that would only say EAGAIN.  After
		 * a hang-up keep reading until read() reports the EOF. */
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

/* An OPEN connection with no event in flight: the next step. */
static void
conn_advance(struct rr_conn *c)
{
	char why[96];

	for (;;) {
		ssize_t n;

		if (c->c_state != CONN_OPEN || c->c_slot != SLOT_FREE)
			return;
		/* Back-pressure: a client that does not read gets no more
		 * events until its output drains. */
		if (buf_len(&c->c_out) > OUT_HIGH_WATER)
			return;
		/* Shutting down: no new event, not even for a message that
		 * was read already; the event in flight has finished. */
		if (c->c_set->cs_draining) {
			conn_end(c, STATS_CLOSE_SHUTDOWN, LOG_INFO,
			    "server shutting down");
			return;
		}
		if (conn_find_message(c)) {
			conn_dispatch(c, CEV_DATA);
			return;
		}
		if (buf_len(&c->c_in) > c->c_srv->max_message_size) {
			snprintf(why, sizeof(why), "message exceeds "
			    "max_message_size (%zu bytes) without a delimiter",
			    c->c_srv->max_message_size);
			buf_free(&c->c_in);
			conn_close(c, STATS_CLOSE_LIMIT, LOG_WARN, why);
			return;
		}
		if (c->c_eof) {
			if (buf_len(&c->c_in) > 0) {
				/* The rest, without its delimiter (4.6). */
				c->c_msglen = buf_len(&c->c_in);
				conn_dispatch(c, CEV_DATA);
				return;
			}
			conn_end(c, STATS_CLOSE_CLIENT, LOG_DEBUG,
			    "client closed");
			return;
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
			conn_close(c, STATS_CLOSE_ERROR, LOG_WARN,
			    "out of memory");
			return;
		}
		snprintf(why, sizeof(why), "read: %s", strerror(errno));
		/* A reset is the client's business: debug, like any
		 * per-connection event. */
		buf_free(&c->c_out);
		conn_close(c, STATS_CLOSE_CLIENT, LOG_DEBUG, why);
		return;
	}
}

static void
conn_on_io(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct rr_conn *c = io->arg;

	if (!conn_has_socket(c))
		return;
	if (events & (EV_READ | EV_HUP))
		c->c_readable = 1;
	if (events & EV_HUP)
		c->c_rdhup = 1;
	if (events & EV_WRITE)
		conn_flush(c);
	conn_advance(c);
}

/* --- events ---------------------------------------------------------------- */

/* The event no longer counts against max_queue_size. */
static void
release_queue_slot(struct rr_conn *c)
{
	if (c->c_counted) {
		atomic_fetch_sub(&events_in_progress, 1);
		c->c_counted = 0;
	}
}

/* The event in flight is over, whatever its outcome. */
static void
event_over(struct rr_conn *c)
{
	if (c->c_event == CEV_DATA) {
		buf_consume(&c->c_in, c->c_msglen);
		c->c_msglen = 0;
		c->c_scan = 0;
		if (buf_len(&c->c_in) == 0 && c->c_in.cap > BUF_KEEP) {
			buf_free(&c->c_in);	/* a big message is gone */
			conn_account(c);
		}
	}
	c->c_event = CEV_NONE;
	c->c_slot = SLOT_FREE;
	c->c_retries = 0;
	c->c_last_in = ev_now(c->c_set->cs_loop);	/* idle from now */
	release_queue_slot(c);
}

/* After an event: CLOSE is dispatched once it is owed, else move on. */
static void
conn_next(struct rr_conn *c)
{
	if (c->c_state == CONN_CLOSE_OWED)
		conn_dispatch(c, CEV_CLOSE);
	else
		conn_advance(c);
}

/* The event could not run or failed: the connection goes with it. */
static void
event_failed(struct rr_conn *c, enum stats_fail class, const char *reason)
{
	char q[LOG_QMAX];
	struct stats_server *ss = srv_stats(c);

	if (ss != NULL)
		stats_add(&ss->ss_failed[class], 1);
	if (c->c_event == CEV_CLOSE) {
		log_info("CLOSE event not delivered", "conn=%llu reason=%s",
		    cid(c), log_q(q, sizeof(q), reason, strlen(reason)));
		event_over(c);
		conn_finish(c);
		return;
	}
	/* The message that failed is dropped with the connection; replies
	 * to earlier ones still go out first. */
	event_over(c);
	conn_end(c, STATS_CLOSE_FAILED, LOG_WARN, reason);
	conn_next(c);
}

static void
on_reply(struct rr_conn *c, const struct relay_result *res)
{
	if (c->c_event == CEV_CLOSE)
		return;		/* the answer to CLOSE is ignored (4.5) */
	switch (res->kind) {
	case REPLY_CONTINUE:
		break;
	case REPLY_WRITE:
		conn_write(c, res->body, res->len);
		break;
	case REPLY_WRITECLOSE:
		conn_write(c, res->body, res->len);
		if (c->c_state == CONN_OPEN)
			conn_end(c, STATS_CLOSE_WORKER, LOG_DEBUG,
			    "WRITECLOSE");
		break;
	case REPLY_CLOSE:
		conn_close(c, STATS_CLOSE_WORKER, LOG_DEBUG,
		    "worker answered CLOSE");
		break;
	}
}

/* relay_done_fn: the exchange of the event in flight reports. */
static void
on_event_done(struct relay_xchg *x, const struct relay_result *res)
{
	struct rr_conn *c = CONN_OF(x, c_x);
	struct stats_server *ss = srv_stats(c);
	int was_close;

	if (ss != NULL)
		stats_observe(&ss->ss_exec, stats_now_ns() - c->c_t0);
	switch (res->outcome) {
	case RELAY_REPLY:
		/* Before the client can see the answer and send again (RR
		 * frees the slot when the worker call returns). */
		release_queue_slot(c);
		on_reply(c, res);
		was_close = c->c_event == CEV_CLOSE;
		event_over(c);
		if (was_close)
			conn_finish(c);
		else
			conn_next(c);
		return;
	case RELAY_FAILED:
		event_failed(c, res->fail == RELAY_FAIL_ERROR ?
		    STATS_FAIL_WORKER_ERROR : res->fail == RELAY_FAIL_TIMEOUT ?
		    STATS_FAIL_TIMEOUT : STATS_FAIL_WORKER_FAILED, res->reason);
		return;
	case RELAY_RETRY:
		/* RR re-runs forever; a worker that stops on this very event
		 * would cycle the whole pool.  Three tries, then it fails. */
		c->c_slot = SLOT_FREE;
		if (++c->c_retries > CONN_MAX_RETRIES) {
			event_failed(c, STATS_FAIL_RETRIES, "every worker "
			    "asked to stop on this "
			    "event (tried " CONN_MAX_RETRIES_STR " times)");
			return;
		}
		conn_dispatch(c, c->c_event);
		return;
	}
}

static void	on_worker_granted(struct sched_waiter *wt, struct rr_worker *w);

/* Runs the event in flight on w (held by this reactor). */
static void
conn_start(struct rr_conn *c, struct rr_worker *w)
{
	const struct rr_config *cfg = cfg_of(c);
	int is_close = c->c_event == CEV_CLOSE;
	struct relay_request rq = {
		.ctx = c->c_ctx,
		.ctxlen = c->c_ctxlen,
		.event = conn_event_str(c->c_event),
		.body = c->c_event == CEV_DATA ? buf_rptr(&c->c_in) : NULL,
		.body_len = c->c_event == CEV_DATA ? c->c_msglen : 0,
		.ttl_ms = is_close ? cfg->close_timeout_ms :
		    cfg->pool.supervisor.exec_ttl_ms,
		.ttl_name = is_close ? "no answer to CLOSE: close_timeout" :
		    "exec_ttl",
		.fence_always = cfg->fence_always,
	};
	struct stats_server *ss = srv_stats(c);
	int64_t t = ss != NULL ? stats_now_ns() : 0;
	int rc;

	c->c_slot = SLOT_RUNNING;
	c->c_x.x_conn = c->c_id;
	rc = relay_start(&c->c_x, c->c_set->cs_loop, w, &rq, on_event_done);
	if (rc == 0) {
		if (ss != NULL) {
			stats_observe(&ss->ss_wait, t - c->c_t0);
			c->c_t0 = t;
		}
		return;
	}
	c->c_slot = SLOT_WAITING;
	if (rc == -2 || rc == -3) {
		sched_handoff(c->c_set->cs_sched, w);
		event_failed(c, STATS_FAIL_ERROR, rc == -2 ?
		    "message too large to frame" :
		    "out of memory for the request");
		return;
	}
	/* That worker is gone; ask for the next one. */
	sched_request(c->c_set->cs_sched, &c->c_waiter, on_worker_granted,
	    cfg->pool.allocate_timeout_ms);
}

static void
on_worker_granted(struct sched_waiter *wt, struct rr_worker *w)
{
	struct rr_conn *c = CONN_OF(wt, c_waiter);
	char why[128];

	if (w != NULL) {
		conn_start(c, w);
		return;
	}
	snprintf(why, sizeof(why), "no free worker within allocate_timeout "
	    "(%lldms) for %s", (long long)cfg_of(c)->pool.allocate_timeout_ms,
	    conn_event_str(c->c_event));
	event_failed(c, STATS_FAIL_NO_WORKER, why);
}

static void
conn_dispatch(struct rr_conn *c, enum conn_event ev)
{
	const struct rr_config *cfg = cfg_of(c);
	struct stats_server *ss;

	if (ev == CEV_CLOSE)
		set_state(c, CONN_CLOSING);
	/* CLOSE is owed to every connection (4.7): never refused here. */
	if (ev != CEV_CLOSE && c->c_retries == 0 &&
	    cfg->pool.max_queue_size > 0) {
		/* RR: this many events waiting or running already -> fail. */
		if (atomic_fetch_add(&events_in_progress, 1) >=
		    cfg->pool.max_queue_size) {
			atomic_fetch_sub(&events_in_progress, 1);
			c->c_event = ev;
			event_failed(c, STATS_FAIL_QUEUE_FULL,
			    "max_queue_size reached");
			return;
		}
		c->c_counted = 1;
	}
	c->c_event = ev;
	c->c_slot = SLOT_WAITING;
	if ((ss = srv_stats(c)) != NULL) {
		if (c->c_retries == 0)
			stats_add(&ss->ss_events[ev - CEV_CONNECTED], 1);
		c->c_t0 = stats_now_ns();
	}
	sched_request(c->c_set->cs_sched, &c->c_waiter, on_worker_granted,
	    cfg->pool.allocate_timeout_ms);
}

/* --- the set ----------------------------------------------------------------- */

void
conn_new(struct conn_set *cs, const struct rr_server_conf *srv, int fd,
    const struct sockaddr_storage *ss, socklen_t sslen,
    struct ipcount_slot *slot)
{
	char addr[NET_ADDRSTRLEN], uuid[NET_UUIDLEN + 1];
	size_t cap = 96 + NET_ADDRSTRLEN + NET_UUIDLEN +
	    JSON_QUOTED_MAX(strlen(srv->name)), len;
	struct rr_conn *c;
	struct stats_server *st;
	int one = 1;

	if ((c = calloc(1, sizeof(*c) + cap)) == NULL) {
		log_warn("connection refused", "server=%s reason=\"out of memory\"",
		    srv->name);
		ipcount_give(slot);
		close(fd);
		return;
	}
	c->c_ipslot = slot;
	c->c_last_in = ev_now(cs->cs_loop);
	net_format_addr((const struct sockaddr *)ss, sslen, addr, sizeof(addr));
	net_uuid(uuid);
	len = json_ctx_prefix(c->c_ctx, cap, addr, srv->name,
	    strlen(srv->name), uuid);
	c->c_ctxlen = (uint16_t)len;
	c->c_id = atomic_fetch_add_explicit(&next_conn_id, 1,
	    memory_order_relaxed);
	c->c_set = cs;
	c->c_srv = srv;
	c->c_state = CONN_OPEN;
	c->c_slot = SLOT_FREE;
	if (ss->ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ev_add(cs->cs_loop, &c->c_io, fd, EV_READ | EV_WRITE | EV_HUP |
	    EV_EDGE, conn_on_io, c) == -1) {
		log_warn("connection refused", "server=%s reason=\"cannot watch "
		    "the socket\"", srv->name);
		ipcount_give(slot);
		close(fd);
		free(c);
		return;
	}
	atomic_fetch_add_explicit(&conn_count, 1, memory_order_relaxed);
	TAILQ_INSERT_TAIL(&cs->cs_conns, c, c_link);
	cs->cs_nconns++;
	if ((st = srv_stats(c)) != NULL)
		stats_add(&st->ss_accepted, 1);
	log_debug("connection accepted", "conn=%llu server=%s remote=%s uuid=%s",
	    cid(c), srv->name, addr, uuid);
	/* Not readable yet: registering reports bytes that are already there,
	 * and an idle connection then never allocates c_in. */
	conn_dispatch(c, CEV_CONNECTED);
}

/*
 * Over tcp.max_buffer_memory: closes this reactor's connections that hold
 * the most, until the process is under the limit again.  Only one that
 * holds at least the average of all connections is an offender: when the
 * big holders live on another reactor, a small client here is left alone
 * and that reactor sheds them (at its next allocation or tick).
 */
static void
shed(struct conn_set *cs)
{
	char why[160];

	while (mem_over()) {
		struct rr_conn *c, *big = NULL;
		uint64_t n = atomic_load_explicit(&conn_count,
		    memory_order_relaxed);

		TAILQ_FOREACH(c, &cs->cs_conns, c_link)
			if (conn_has_socket(c) && c->c_mem > 0 &&
			    (big == NULL || c->c_mem > big->c_mem))
				big = c;
		if (big == NULL || (uint64_t)big->c_mem * (n ? n : 1) <
		    mem_held())
			return;
		snprintf(why, sizeof(why), "tcp.max_buffer_memory (%zu bytes) "
		    "reached; this connection held %zu", mem_limit(),
		    big->c_mem);
		conn_close(big, STATS_CLOSE_LIMIT, LOG_WARN, why);
	}
}

/* How often the timeouts are checked: a quarter of the shortest, 50 ms to
 * 1 s, so a timeout fires at most 25 % (or 1 s) late. */
static int64_t
tick_ms(const struct rr_config *cfg)
{
	int64_t t = 1000;

	for (size_t i = 0; i < cfg->nservers; i++) {
		const struct rr_server_conf *s = &cfg->servers[i];
		if (s->idle_timeout_ms > 0 && s->idle_timeout_ms / 4 < t)
			t = s->idle_timeout_ms / 4;
		if (s->write_timeout_ms > 0 && s->write_timeout_ms / 4 < t)
			t = s->write_timeout_ms / 4;
	}
	return t < 50 ? 50 : t;
}

/* idle_timeout and write_timeout, checked for every connection. */
static void
on_tick(struct ev *loop, struct ev_timer *t)
{
	struct conn_set *cs = t->arg;
	int64_t now = ev_now(loop);
	struct rr_conn *c, *next;
	uint64_t pending = 0;
	char why[96];

	for (c = TAILQ_FIRST(&cs->cs_conns); c != NULL; c = next) {
		const struct rr_server_conf *s = c->c_srv;

		next = TAILQ_NEXT(c, c_link);
		if (!conn_has_socket(c))
			continue;
		if (s->write_timeout_ms > 0 && buf_len(&c->c_out) > 0 &&
		    now - c->c_out_since >= s->write_timeout_ms) {
			snprintf(why, sizeof(why), "write_timeout (%lldms): the "
			    "client takes no output", (long long)
			    s->write_timeout_ms);
			conn_close(c, STATS_CLOSE_TIMEOUT, LOG_INFO, why);
		} else if (s->idle_timeout_ms > 0 && c->c_state == CONN_OPEN &&
		    c->c_slot == SLOT_FREE &&
		    now - c->c_last_in >= s->idle_timeout_ms) {
			snprintf(why, sizeof(why), "idle_timeout (%lldms): no "
			    "bytes from the client", (long long)
			    s->idle_timeout_ms);
			conn_end(c, STATS_CLOSE_TIMEOUT, LOG_INFO, why);
		}
		pending += buf_len(&c->c_out);
	}
	stats_heartbeat(cs->cs_stats, now, pending);
	if (mem_over())
		shed(cs);
	ev_timer_arm(loop, t, tick_ms(cs->cs_cfg));
}

void
conn_set_init(struct conn_set *cs, struct ev *loop, struct sched *s,
    const struct rr_config *cfg)
{
	memset(cs, 0, sizeof(*cs));
	cs->cs_loop = loop;
	cs->cs_sched = s;
	cs->cs_cfg = cfg;
	TAILQ_INIT(&cs->cs_conns);
	TAILQ_INIT(&cs->cs_garbage);
	ev_timer_init(&cs->cs_tick, on_tick, cs);
	ev_timer_arm(loop, &cs->cs_tick, tick_ms(cfg));
}

void
conn_set_collect(struct conn_set *cs)
{
	struct rr_conn *c;

	while ((c = TAILQ_FIRST(&cs->cs_garbage)) != NULL) {
		TAILQ_REMOVE(&cs->cs_garbage, c, c_link);
		conn_free(c);
	}
}

void
conn_set_destroy(struct conn_set *cs)
{
	struct rr_conn *c;

	conn_set_collect(cs);
	while ((c = TAILQ_FIRST(&cs->cs_conns)) != NULL) {
		/* destroy_timeout is over: say what is lost. */
		if (conn_has_socket(c))
			close_socket(c, STATS_CLOSE_SHUTDOWN, LOG_WARN,
			    "destroy_timeout reached", c->c_slot != SLOT_FREE);
		sched_cancel(cs->cs_sched, &c->c_waiter);
		TAILQ_REMOVE(&cs->cs_conns, c, c_link);
		conn_free(c);
	}
}

void
conn_set_drain(struct conn_set *cs)
{
	struct rr_conn *c, *next;

	cs->cs_draining = 1;
	/* Idle connections end now; busy ones when their event is done. */
	for (c = TAILQ_FIRST(&cs->cs_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_link);
		if (c->c_state == CONN_OPEN && c->c_slot == SLOT_FREE)
			conn_advance(c);
	}
}

/* The uuid sits at the end of the context prefix: ..."uuid":"U","event":" */
static const char *
conn_uuid(const struct rr_conn *c)
{
	return c->c_ctx + c->c_ctxlen - (NET_UUIDLEN + sizeof("\",\"event\":\"") - 1);
}

int
conn_set_close_uuid(struct conn_set *cs, const char *uuid)
{
	struct rr_conn *c;

	TAILQ_FOREACH(c, &cs->cs_conns, c_link) {
		if (!conn_has_socket(c) ||
		    memcmp(conn_uuid(c), uuid, NET_UUIDLEN) != 0)
			continue;
		/* An event in flight finishes; its reply goes nowhere and the
		 * CLOSE event follows (4.8). */
		conn_close(c, STATS_CLOSE_TCP_CLOSE, LOG_INFO,
		    "closed by tcp.Close");
		return 1;
	}
	return 0;
}

void
conn_set_config(struct conn_set *cs, const struct rr_config *cfg)
{
	const struct rr_config *old = cs->cs_cfg;
	struct rr_conn *c;

	/* The servers are the same, in the same order (reload refuses
	 * anything else): point every connection at the new entry. */
	TAILQ_FOREACH(c, &cs->cs_conns, c_link)
		c->c_srv = &cfg->servers[c->c_srv - old->servers];
	TAILQ_FOREACH(c, &cs->cs_garbage, c_link)
		c->c_srv = &cfg->servers[c->c_srv - old->servers];
	cs->cs_cfg = cfg;
}
