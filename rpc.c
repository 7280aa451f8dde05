/*
 * rpc.c - the goridge RPC server (rrtcp-protocol(7) section 5).
 *
 * Owns the RPC listener(s), accepting, the RPC connections and their
 * driver, method lookup and dispatch, and net/rpc's error texts.  What a
 * method does is left to the handlers the caller registers; the JSON and
 * gob codecs to rpc_codec.c; the address syntax to rpc_addr.c; frame bytes
 * to frame.c; sockets to net.c.  The CLI's blocking client is rpc_client.c.
 *
 * Threading: everything runs on the one loop given to rpc_serve() (the
 * control loop); the server state is a single static instance.  Handlers are
 * synchronous and must not block, so pipelined requests are answered in
 * arrival order.
 *
 * Frame, both directions (HL 5, always two options):
 *
 *   +---- 12-byte goridge header ----+--------+------------+--------+------+
 *   | 15 | flags | len | crc | 00 00 |  seq   | len(method)| method | body |
 *   +--------------------------------+--------+------------+--------+------+
 *                                      u32 LE    u32 LE     \__ len bytes __/
 *
 * Limits (rrtcp.yaml(5) RPC; RoadRunner has none): at most s_max_conns
 * connections, the rest are closed as they are accepted; a request payload
 * over s_max_frame is answered with an error as soon as its header is in and
 * never buffered; a frame must be whole within s_read_timeout of its first
 * byte.  So input buffers hold at most one frame each, and a buffer that
 * grew for a big frame is given back once the frame is answered.
 *
 * Request flags pick the codec (PROTO, JSON, RAW, MSGPACK, GOB, none = GOB,
 * in that order).  A reply carries the picked codec bit, plus ERROR (0x40)
 * with the error text as body; options and method are echoed.
 */
#include "rpc.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "ev.h"
#include "frame.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "rpc_addr.h"
#include "rpc_codec.h"
#include "tailq.h"

#define RPC_OUT_HIGH	(1u << 20)	/* stop answering above this */
#define RPC_READ_CHUNK	16384
#define RPC_MAX_LISTEN	8		/* getaddrinfo results bound */
#define RPC_FRAMES_PER_WAKEUP 64	/* fairness between RPC peers */
#define RPC_ERRLEN	1024		/* handler error text */
#define RPC_KEEP_CAP	(64u << 10)	/* buffer kept between frames */
#define RPC_REFUSED_LOG_MS 1000		/* one refusal line per second */


struct rpc_conn {
	struct ev_io		 c_io;		/* first: epoll hands us this */
	struct ev_timer		 c_resume;	/* continues after the per-wakeup cap */
	struct ev_timer		 c_deadline;	/* partial frame, or closing, too long */
	struct rr_buf		 c_in;		/* request bytes, <= one frame */
	struct rr_buf		 c_out;		/* encoded replies not yet written */
	size_t			 c_mem;		/* buffer bytes reported (mem.h) */
	int			 c_readable;	/* no EAGAIN since the last EPOLLIN */
	int			 c_eof;		/* peer shut its write side */
	const char		*c_failed;	/* protocol error: flush, then close */
	int			 c_linger;	/* after c_failed: discard input to EOF */
	int			 c_shut;	/* lingering: our write side is shut */
	unsigned long long	 c_id;
	char			 c_peer[NET_ADDRSTRLEN];
	TAILQ_ENTRY(rpc_conn)	 c_link;
};

/*
 * The one server.  The s_arg, s_body and s_msg scratch buffers are reused by
 * every request (the loop is single-threaded) so a steady stream of calls
 * costs no allocation.
 */
static struct {
	struct ev		*s_loop;	/* NULL when not serving */
	struct ev_io		 s_lis[RPC_MAX_LISTEN];
	int			 s_nlis;
	int			 s_paused;	/* accept failed; waiting on s_pause */
	struct ev_timer		 s_pause;
	char			*s_addr;	/* as given, for log lines */
	char			*s_unix_path;	/* unlinked on close */
	const struct rpc_method	*s_methods;
	size_t			 s_nmethods;
	void			*s_ctx;
	TAILQ_HEAD(, rpc_conn)	 s_conns;
	size_t			 s_nconns;
	uint64_t		 s_max_conns;	/* rpc.max_connections */
	size_t			 s_max_frame;	/* rpc.max_frame_size */
	int64_t			 s_read_timeout; /* rpc.read_timeout, ms */
	int64_t			 s_refused_at;	/* last refusal line, 0 = none */
	unsigned long long	 s_refused;	/* refusals since that line */
	unsigned long long	 s_next_id;
	struct rr_buf		 s_arg;		/* NUL-terminated argument copy */
	struct rr_buf		 s_body;	/* reply body being encoded */
	struct rr_buf		 s_msg;		/* one gob message being encoded */
} srv = {
	.s_conns = TAILQ_HEAD_INITIALIZER(srv.s_conns),
	.s_max_conns = RR_RPC_SPARE_CONNS,
	.s_max_frame = RR_RPC_DEF_MAX_FRAME,
	.s_read_timeout = RR_RPC_DEF_READ_TIMEOUT,
};

static void	rpc_conn_drive(struct rpc_conn *c);

/*
 * Gives back the storage of a buffer that grew for a big frame or reply
 * once little of it is in use, so a peer that sent one large request does
 * not keep its peak.  On allocation failure the big buffer stays.
 */
static void
rpc_buf_trim(struct rr_buf *b)
{
	struct rr_buf	 nb = { 0 };
	size_t		 n = buf_len(b);

	if (b->cap <= RPC_KEEP_CAP || n > RPC_KEEP_CAP / 2)
		return;
	if (n > 0 && buf_append(&nb, buf_rptr(b), n, RPC_KEEP_CAP) == -1)
		return;
	buf_free(b);
	*b = nb;
}

/* --- requests ------------------------------------------------------------- */


/*
 * Finds method m (n bytes, not NUL-terminated).  On failure writes the
 * net/rpc error text into srv.s_body and returns NULL.  Like net/rpc, the
 * service is the part before the last dot, and both texts quote the whole
 * request name.
 */
static const struct rpc_method *
rpc_lookup(const char *m, size_t n)
{
	const char	*dot = NULL, *pfx;
	size_t		 slen, i;
	int		 service_known = 0;

	for (i = 0; i < n; i++)
		if (m[i] == '.')
			dot = m + i;
	if (dot == NULL)
		pfx = "rpc: service/method request ill-formed: ";
	else {
		slen = (size_t)(dot - m);
		for (i = 0; i < srv.s_nmethods; i++) {
			const char *name = srv.s_methods[i].name;
			const char *d = strrchr(name, '.');

			if (strlen(name) == n && memcmp(name, m, n) == 0)
				return &srv.s_methods[i];
			if (d != NULL && (size_t)(d - name) == slen &&
			    memcmp(name, m, slen) == 0)
				service_known = 1;
		}
		pfx = service_known ? "rpc: can't find method " :
		    "rpc: can't find service ";
	}
	/* Left empty when out of memory; the caller then closes. */
	if (buf_append(&srv.s_body, pfx, strlen(pfx), RPC_MAX_OUTPUT) == -1 ||
	    buf_append(&srv.s_body, m, n, RPC_MAX_OUTPUT) == -1)
		buf_consume(&srv.s_body, buf_len(&srv.s_body));
	return NULL;
}

/* Appends one reply frame (header, method, body) to c_out. */
static int
rpc_reply(struct rpc_conn *c, uint32_t seq, uint8_t flags, const uint8_t *m,
    uint32_t mlen, const struct rr_buf *body)
{
	uint8_t		 hdr[FRAME_HDR_MAX];
	uint32_t	 opts[2] = { seq, mlen };
	size_t		 blen = buf_len(body), hl;

	if (blen > RPC_MAX_OUTPUT) {
		errno = ENOBUFS;
		return -1;
	}
	hl = frame_encode_header(hdr, flags, 0, opts, 2,
	    (uint32_t)(mlen + blen));
	if (buf_append(&c->c_out, hdr, hl, RPC_MAX_OUTPUT) == -1 ||
	    buf_append(&c->c_out, m, mlen, RPC_MAX_OUTPUT) == -1 ||
	    buf_append(&c->c_out, buf_rptr(body), blen, RPC_MAX_OUTPUT) == -1)
		return -1;
	return 0;
}


/*
 * Answers one request frame (two options).  Returns 0, or -1 with a reason
 * in *why when the connection must be closed without a reply.
 */
static int
rpc_request(struct rpc_conn *c, const struct frame *f, const char **why)
{
	const struct rpc_method	*meth;
	const uint8_t		*m = f->payload, *body;
	uint32_t		 seq = f->opts[0], mlen = f->opts[1];
	uint8_t			 codec = rpc_codec_pick(f->flags);
	size_t			 blen;
	struct rpc_arg		 arg;
	struct rpc_value	 val;
	char			 err[RPC_ERRLEN];
	int			 rc;

	if (mlen > f->len) {
		*why = "method length over the payload";
		return -1;
	}
	body = m + mlen;
	blen = f->len - mlen;
	buf_consume(&srv.s_body, buf_len(&srv.s_body));
	if (log_enabled(LOG_DEBUG)) {
		char q[LOG_QMAX];

		log_debug("rpc call", "conn=%llu method=%s codec=%s seq=%u",
		    c->c_id, log_q(q, sizeof(q), (const char *)m, mlen),
		    rpc_codec_str(codec), seq);
	}

	/* net/rpc looks the method up before the codec reads the body. */
	if ((meth = rpc_lookup((const char *)m, mlen)) == NULL)
		goto error_body;

	err[0] = '\0';
	rc = rpc_codec_decode_arg(codec, body, blen, &arg, &srv.s_arg, err,
	    sizeof(err));
	if (rc == 0) {
		memset(&val, 0, sizeof(val));
		err[0] = '\0';
		rc = meth->fn(srv.s_ctx, &arg, &val, err, sizeof(err));
		if (rc != 0 && err[0] == '\0')
			snprintf(err, sizeof(err), "%s failed", meth->name);
	}
	if (rc != 0) {
		if (buf_append(&srv.s_body, err, strlen(err),
		    RPC_MAX_OUTPUT) == -1)
			goto nomem;
		goto error_body;
	}
	/* s_arg is untouched until here: a handler may reply with arg->s. */
	rc = rpc_codec_encode_value(codec, &srv.s_body, &val, &srv.s_msg);
	if (rc == -1 || rpc_reply(c, seq, codec, m, mlen, &srv.s_body) == -1)
		goto nomem;
	goto done;

error_body:
	if (buf_len(&srv.s_body) == 0 || rpc_reply(c, seq, codec | FRAME_ERROR,
	    m, mlen, &srv.s_body) == -1)
		goto nomem;
done:
	/* The reply is in c_out: the scratch buffers are free to shrink. */
	buf_consume(&srv.s_body, buf_len(&srv.s_body));
	buf_consume(&srv.s_arg, buf_len(&srv.s_arg));
	rpc_buf_trim(&srv.s_body);
	rpc_buf_trim(&srv.s_arg);
	rpc_buf_trim(&srv.s_msg);
	return 0;
nomem:
	*why = errno == ENOBUFS ? "reply over the output limit" :
	    "out of memory";
	return -1;
}

/*
 * A request whose header announces a payload over s_max_frame (f: a valid
 * header, payload not read).  net/rpc would read it whole; we answer at once
 * with an error, options [seq, 0] and no method name (clients take the body
 * after len(method) bytes and match by seq), then linger: our side is shut
 * and the rest of the frame is read and dropped, so the peer sees the reply
 * rather than a reset.  Returns 1 while the options are not in yet, else -1.
 */
static int
rpc_conn_oversize(struct rpc_conn *c, const struct frame *f)
{
	const uint8_t	*p = buf_rptr(&c->c_in) + FRAME_HDR_MIN;
	char		 text[160];
	uint32_t	 seq;
	int		 n;

	if (buf_len(&c->c_in) < f->hdr_len)
		return 1;
	seq = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
	n = snprintf(text, sizeof(text), "rpc: request of %u bytes is over "
	    "the server's rpc.max_frame_size of %zu bytes", f->len,
	    srv.s_max_frame);
	buf_consume(&srv.s_body, buf_len(&srv.s_body));
	/* Without memory for the reply the peer just sees the close. */
	if (buf_append(&srv.s_body, text, (size_t)n, RPC_MAX_OUTPUT) == 0)
		(void)rpc_reply(c, seq, rpc_codec_pick(f->flags) | FRAME_ERROR,
		    (const uint8_t *)"", 0, &srv.s_body);
	buf_consume(&srv.s_body, buf_len(&srv.s_body));
	c->c_failed = "request frame over rpc.max_frame_size";
	c->c_linger = 1;
	return -1;
}

/* --- connections ---------------------------------------------------------- */

/* Reports c's buffers to the process-wide count (tcp.max_buffer_memory). */
static void
rpc_account(struct rpc_conn *c)
{
	mem_update(&c->c_mem, c->c_in.cap + c->c_out.cap);
}

static void
rpc_conn_free(struct rpc_conn *c)
{
	ev_timer_cancel(srv.s_loop, &c->c_resume);
	ev_timer_cancel(srv.s_loop, &c->c_deadline);
	ev_del(srv.s_loop, &c->c_io);
	close(c->c_io.fd);
	TAILQ_REMOVE(&srv.s_conns, c, c_link);
	srv.s_nconns--;
	buf_free(&c->c_in);
	buf_free(&c->c_out);
	rpc_account(c);
	free(c);
}

/*
 * Closes c from its own callback (the loop touches nothing of it after the
 * callback returns, and its timer is cancelled here).  Protocol problems are
 * warnings: a broken client is worth knowing about; a normal hang-up is not.
 */
static void
rpc_conn_close(struct rpc_conn *c, int warn, const char *reason)
{
	char	 q[LOG_QMAX];

	log_q(q, sizeof(q), reason, strlen(reason));
	if (warn)
		log_warn("rpc connection closed", "conn=%llu peer=%s reason=%s",
		    c->c_id, c->c_peer, q);
	else
		log_debug("rpc connection closed", "conn=%llu peer=%s reason=%s",
		    c->c_id, c->c_peer, q);
	rpc_conn_free(c);
}

/*
 * Writes c_out until done or EAGAIN (EPOLLOUT brings us back).  Returns 0,
 * or -1 with errno on a write error.
 */
static int
rpc_conn_flush(struct rpc_conn *c)
{
	size_t	 n;
	int	 e;

	if (buf_len(&c->c_out) == 0)
		return 0;	/* (no storage yet: no NULL + 0) */
	n = net_send(c->c_io.fd, buf_rptr(&c->c_out), buf_len(&c->c_out), &e);
	buf_consume(&c->c_out, n);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * Answers complete frames in c_in.  Returns 1 when it needs more input, 0
 * when it stopped for output back-pressure or the per-wakeup budget, -1
 * when the peer broke the protocol (c_failed says how): nothing more is
 * read or answered, but the replies to the frames before the bad one still
 * go out, as net/rpc writes each reply before reading the next request.
 */
static int
rpc_conn_process(struct rpc_conn *c, int *budget)
{
	struct frame	 f;
	const char	*why = NULL;
	ssize_t		 r;

	while (buf_len(&c->c_out) < RPC_OUT_HIGH) {
		if (*budget == 0)
			return 0;
		if (buf_len(&c->c_in) == 0)
			return 1;	/* (no storage yet: no NULL + 0) */
		/* The length is judged here, against s_max_frame, so that an
		 * oversized request can be told apart and answered. */
		r = frame_decode(buf_rptr(&c->c_in), buf_len(&c->c_in),
		    UINT32_MAX, &f, &why);
		if (r == FRAME_NEED_MORE && f.total == 0)
			return 1;	/* the fixed header is not in yet */
		if (r == FRAME_BAD) {
			c->c_failed = why;
			return -1;
		}
		/* net/rpc's codec fails the header: no reply, connection gone. */
		if (f.nopts != 2) {
			c->c_failed = "request frame without 2 options";
			return -1;
		}
		if (f.len > srv.s_max_frame)
			return rpc_conn_oversize(c, &f);
		if (r == FRAME_NEED_MORE)
			return 1;
		if (rpc_request(c, &f, &why) == -1) {
			c->c_failed = why;
			return -1;
		}
		buf_consume(&c->c_in, (size_t)r);
		(*budget)--;
		/* The read deadline is per frame: the next one starts now. */
		if (buf_len(&c->c_in) == 0)
			ev_timer_cancel(srv.s_loop, &c->c_deadline);
		else
			ev_timer_arm(srv.s_loop, &c->c_deadline,
			    srv.s_read_timeout);
	}
	return 0;
}

/*
 * After an oversized request was answered: shuts our side and drops what
 * the peer still sends until its EOF, at most a budget of reads per wakeup;
 * the deadline armed here ends it for a peer that neither finishes nor
 * closes.  Closing with unread input would send a reset, which may destroy
 * the error reply before the peer reads it.
 */
static void
rpc_conn_linger(struct rpc_conn *c)
{
	uint8_t	 sink[RPC_READ_CHUNK];
	ssize_t	 n;

	if (!c->c_shut) {
		c->c_shut = 1;
		shutdown(c->c_io.fd, SHUT_WR);
		buf_free(&c->c_in);
		ev_timer_arm(srv.s_loop, &c->c_deadline, srv.s_read_timeout);
	}
	for (int i = 0; i < RPC_FRAMES_PER_WAKEUP && c->c_readable; i++) {
		n = read(c->c_io.fd, sink, sizeof(sink));
		if (n > 0)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			rpc_conn_close(c, 1, c->c_failed);
			return;
		}
		if (errno == EAGAIN)
			c->c_readable = 0;
	}
	if (c->c_readable)
		ev_timer_arm(srv.s_loop, &c->c_resume, 0);
}

/*
 * A frame took longer than read_timeout, or a failed connection could not
 * finish its replies or its lingering close in that time.  Time spent not
 * reading because the peer does not read its replies is not the peer's
 * delay in sending, so then the deadline starts again.
 */
static void
rpc_on_deadline(struct ev *loop, struct ev_timer *t)
{
	struct rpc_conn *c = t->arg;

	if (c->c_failed != NULL) {
		rpc_conn_close(c, 1, c->c_failed);
		return;
	}
	if (buf_len(&c->c_out) >= RPC_OUT_HIGH ||
	    ev_timer_armed(&c->c_resume)) {
		ev_timer_arm(loop, t, srv.s_read_timeout);
		return;
	}
	rpc_conn_close(c, 1, "request frame not complete within "
	    "rpc.read_timeout");
}

static void
rpc_on_resume(struct ev *loop, struct ev_timer *t)
{
	rpc_conn_drive(t->arg);
}

/*
 * The whole connection: answer what is buffered, write, read more, until
 * the socket says EAGAIN.  Edge-triggered, so reads go on until EAGAIN;
 * when the frame budget runs out first, a 0 ms timer brings us back (no new
 * edge would).  While replies pile up past RPC_OUT_HIGH nothing is read or
 * answered, so a client that does not read its replies gets TCP
 * back-pressure instead of our memory; EPOLLOUT resumes it.
 */
static void
rpc_conn_drive(struct rpc_conn *c)
{
	int	 budget = RPC_FRAMES_PER_WAKEUP, rc;
	size_t	 want, in_cap;
	ssize_t	 n;

	for (;;) {
		rc = c->c_failed != NULL ? -1 : rpc_conn_process(c, &budget);
		rpc_buf_trim(&c->c_in);
		if (rpc_conn_flush(c) == -1) {
			if (c->c_failed != NULL)
				rpc_conn_close(c, 1, c->c_failed);
			else
				rpc_conn_close(c, 0, strerror(errno));
			return;
		}
		rpc_buf_trim(&c->c_out);
		if (rc == -1) {
			if (buf_len(&c->c_out) > 0) {
				/* EPOLLOUT finishes the flush, or the
				 * deadline gives up on it. */
				if (!ev_timer_armed(&c->c_deadline))
					ev_timer_arm(srv.s_loop,
					    &c->c_deadline, srv.s_read_timeout);
			} else if (c->c_linger)
				rpc_conn_linger(c);
			else
				rpc_conn_close(c, 1, c->c_failed);
			return;
		}
		if (buf_len(&c->c_out) >= RPC_OUT_HIGH)
			return;
		if (rc == 0) {
			if (budget > 0)
				continue;	/* output drained: go on */
			ev_timer_arm(srv.s_loop, &c->c_resume, 0);
			return;
		}
		if (!c->c_readable)
			break;
		/* c_in holds part of one frame (the rest was answered), whose
		 * size process() has checked, so it never needs more. */
		in_cap = srv.s_max_frame + FRAME_HDR_MAX;
		want = in_cap > buf_len(&c->c_in) ?
		    in_cap - buf_len(&c->c_in) : 0;
		if (want > RPC_READ_CHUNK)
			want = RPC_READ_CHUNK;
		if (want == 0 || buf_reserve(&c->c_in, want, 4096,
		    in_cap) == -1) {
			c->c_failed = want == 0 ?
			    "input over rpc.max_frame_size" : "out of memory";
			continue;
		}
		rpc_account(c);
		n = read(c->c_io.fd, buf_wptr(&c->c_in), want);
		if (n > 0) {
			c->c_in.wpos += (size_t)n;
			if (!ev_timer_armed(&c->c_deadline))
				ev_timer_arm(srv.s_loop, &c->c_deadline,
				    srv.s_read_timeout);
		} else if (n == 0) {
			c->c_eof = 1;
			c->c_readable = 0;
		} else if (errno == EAGAIN)
			c->c_readable = 0;
		else if (errno != EINTR) {
			rpc_conn_close(c, 0, strerror(errno));
			return;
		}
	}
	/* Like net/rpc: after EOF, answer what came in full, then close. */
	if (c->c_eof && buf_len(&c->c_out) == 0) {
		rpc_conn_close(c, buf_len(&c->c_in) > 0, buf_len(&c->c_in) > 0 ?
		    "EOF inside a request frame" : "closed by peer");
		return;
	}
	/* Waiting for the next call: a PHP worker's connection may idle for
	 * hours, and costs no buffer meanwhile. */
	if (buf_len(&c->c_in) == 0)
		buf_free(&c->c_in);
	if (buf_len(&c->c_out) == 0)
		buf_free(&c->c_out);
	rpc_account(c);
}

static void
rpc_conn_on_io(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct rpc_conn *c = io->arg;

	if (events & (EV_READ | EV_HUP))
		c->c_readable = 1;
	rpc_conn_drive(c);
}

/* --- listening ------------------------------------------------------------ */

static void	rpc_on_accept(struct ev *loop, struct ev_io *io,
		    uint32_t events);

/*
 * Over rpc.max_connections: the peer is accepted (so it does not wait in
 * the backlog) and closed at once.  One line a second at most says so,
 * with how many were refused since the previous line.
 */
static void
rpc_refuse(int fd, const struct sockaddr_storage *ss, socklen_t sslen)
{
	char	 peer[NET_ADDRSTRLEN];
	int64_t	 now = ev_now(srv.s_loop);

	close(fd);
	srv.s_refused++;
	if (srv.s_refused_at != 0 &&
	    now - srv.s_refused_at < RPC_REFUSED_LOG_MS)
		return;
	net_format_addr((const struct sockaddr *)ss, sslen, peer,
	    sizeof(peer));
	log_warn("rpc connection refused", "peer=%s reason=\"over "
	    "rpc.max_connections\" max_connections=%llu refused=%llu", peer,
	    (unsigned long long)srv.s_max_conns, srv.s_refused);
	srv.s_refused_at = now;
	srv.s_refused = 0;
}

static void
rpc_conn_new(int fd, const struct sockaddr_storage *ss, socklen_t sslen)
{
	struct rpc_conn	*c;
	int		 one = 1;

	if (srv.s_nconns >= srv.s_max_conns) {
		rpc_refuse(fd, ss, sslen);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("rpc connection refused", "reason=\"out of memory\"");
		close(fd);
		return;
	}
	c->c_id = ++srv.s_next_id;
	net_format_addr((const struct sockaddr *)ss, sslen, c->c_peer,
	    sizeof(c->c_peer));
	ev_timer_init(&c->c_resume, rpc_on_resume, c);
	ev_timer_init(&c->c_deadline, rpc_on_deadline, c);
	if (ss->ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ev_add(srv.s_loop, &c->c_io, fd, EV_READ | EV_WRITE | EV_HUP | EV_EDGE, rpc_conn_on_io, c) == -1) {
		log_warn("rpc connection refused", "reason=%s",
		    strerror(errno));
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&srv.s_conns, c, c_link);
	srv.s_nconns++;
	log_debug("rpc connection accepted", "conn=%llu peer=%s", c->c_id,
	    c->c_peer);
	c->c_readable = 1;	/* the request may have come with the handshake */
	rpc_conn_drive(c);
}

static void
rpc_on_pause_end(struct ev *loop, struct ev_timer *t)
{
	srv.s_paused = 0;
	/* Edge-triggered: connections queued meanwhile raise no new edge. */
	for (int i = 0; i < srv.s_nlis && !srv.s_paused; i++)
		rpc_on_accept(loop, &srv.s_lis[i], EV_READ);
}

static void
rpc_on_accept(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 peer[NET_ADDRSTRLEN], q[LOG_QMAX];
	const char		*why;
	int			 fd;

	while (!srv.s_paused) {
		sslen = sizeof(ss);
		if ((fd = net_accept(io->fd, &ss, &sslen)) >= 0) {
			rpc_conn_new(fd, &ss, sslen);
			continue;
		}
		if (fd == NET_ACCEPT_AGAIN)
			return;
		/* EMFILE and friends: retry in a second, never stop for
		 * good (Q16); one log line per pause. */
		why = strerror(errno);
		log_q(q, sizeof(q), why, strlen(why));
		if (sslen > 0) {
			net_format_addr((struct sockaddr *)&ss, sslen, peer,
			    sizeof(peer));
			log_warn("rpc connection refused, pausing accept 1s",
			    "peer=%s reason=%s", peer, q);
		} else
			log_warn("rpc accept failed, pausing 1s", "reason=%s",
			    q);
		srv.s_paused = 1;
		ev_timer_arm(loop, &srv.s_pause, 1000);
		return;
	}
}

static int
rpc_listen_unix(const char *path, char *err, size_t errlen)
{
	char	 why[512];
	int	 fd;

	if ((fd = net_listen_unix(path, why, sizeof(why))) == -1) {
		snprintf(err, errlen, "rpc: %s", why);
		return -1;
	}
	if ((srv.s_unix_path = strdup(path)) == NULL) {
		snprintf(err, errlen, "rpc: out of memory");
		close(fd);
		unlink(path);
		return -1;
	}
	srv.s_lis[srv.s_nlis++].fd = fd;
	return 0;
}

static int
rpc_listen_tcp(const char *hp, char *err, size_t errlen)
{
	struct rr_server_conf conf = { 0 };
	char		 host[RPC_ADDR_HOSTLEN], port[RPC_ADDR_PORTLEN];
	char		 why[256];
	int		 fds[RPC_MAX_LISTEN], n;

	if (rpc_addr_split_hostport(hp, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		snprintf(err, errlen, "rpc: bad address \"%s\" (want "
		    "tcp://host:port or unix:///path)", srv.s_addr);
		return -1;
	}
	conf.addr = srv.s_addr;
	conf.host = host[0] ? host : NULL;	/* "" is every address, as Go */
	conf.port = port;
	n = net_listen(&conf, 0, 0, fds, RPC_MAX_LISTEN - srv.s_nlis, why,
	    sizeof(why));
	if (n == -1) {
		snprintf(err, errlen, "rpc: %s", why);
		return -1;
	}
	for (int i = 0; i < n; i++)
		srv.s_lis[srv.s_nlis++].fd = fds[i];
	return 0;
}

/*
 * methods (and ctx) are borrowed: they must stay valid until rpc_close().
 */
int
rpc_serve(struct ev *loop, const char *addr, const struct rpc_method *methods,
    size_t nmethods, void *ctx, char *err, size_t errlen)
{
	const char	*hp, *path;
	char		 q[LOG_QMAX];
	int		 rc;

	if (srv.s_loop != NULL) {
		snprintf(err, errlen, "rpc: already serving %s", srv.s_addr);
		return -1;
	}
	if ((srv.s_addr = strdup(addr)) == NULL) {
		snprintf(err, errlen, "rpc: out of memory");
		return -1;
	}
	srv.s_loop = loop;
	srv.s_methods = methods;
	srv.s_nmethods = nmethods;
	srv.s_ctx = ctx;
	srv.s_nlis = 0;
	srv.s_paused = 0;
	srv.s_refused_at = 0;
	srv.s_refused = 0;
	ev_timer_init(&srv.s_pause, rpc_on_pause_end, NULL);
	/* For accept's out-of-descriptors refusal; startup may have opened
	 * it already, and without one accept still pauses, just less cleanly. */
	if (net_reserve_spare() == -1)
		log_warn("rpc spare descriptor not reserved", "error=%s",
		    strerror(errno));
	if ((path = rpc_addr_unix_path(addr)) != NULL)
		rc = rpc_listen_unix(path, err, errlen);
	else if ((hp = rpc_addr_tcp_part(addr)) != NULL)
		rc = rpc_listen_tcp(hp, err, errlen);
	else {
		snprintf(err, errlen, "rpc: invalid Protocol in \"%s\" (want "
		    "tcp://host:port or unix:///path)", addr);
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < srv.s_nlis; i++)
		if (ev_add(loop, &srv.s_lis[i], srv.s_lis[i].fd, EV_READ | EV_EDGE, rpc_on_accept, NULL) == -1) {
			snprintf(err, errlen, "rpc: epoll: %s", strerror(errno));
			/* Only the registered ones are deleted in rpc_close(). */
			for (int j = i; j < srv.s_nlis; j++)
				close(srv.s_lis[j].fd);
			srv.s_nlis = i;
			rc = -1;
		}
	if (rc == -1) {
		rpc_close();
		return -1;
	}
	log_info("rpc listening", "addr=%s", log_q(q, sizeof(q), addr,
	    strlen(addr)));
	return 0;
}

/*
 * Frees everything at once, so call it when the loop is not running, or
 * from a timer callback (timers run after the iteration's fd callbacks, so
 * no pending epoll event can still point at a freed connection), and always
 * before ev_free() of the loop.
 */
void
rpc_close(void)
{
	struct rpc_conn	*c;

	if (srv.s_loop == NULL)
		return;
	while ((c = TAILQ_FIRST(&srv.s_conns)) != NULL)
		rpc_conn_free(c);
	for (int i = 0; i < srv.s_nlis; i++) {
		ev_del(srv.s_loop, &srv.s_lis[i]);
		close(srv.s_lis[i].fd);
	}
	srv.s_nlis = 0;
	ev_timer_cancel(srv.s_loop, &srv.s_pause);
	/* Go's UnixListener.Close unlinks the socket it created. */
	if (srv.s_unix_path != NULL)
		unlink(srv.s_unix_path);
	free(srv.s_unix_path);
	free(srv.s_addr);
	srv.s_unix_path = srv.s_addr = NULL;
	buf_free(&srv.s_arg);
	buf_free(&srv.s_body);
	buf_free(&srv.s_msg);
	srv.s_loop = NULL;
}

void
rpc_configure(const struct rr_config *cfg)
{
	if (cfg->rpc_max_connections > 0)
		srv.s_max_conns = cfg->rpc_max_connections;
	if (cfg->rpc_max_frame_size > 0)
		srv.s_max_frame = cfg->rpc_max_frame_size;
	if (cfg->rpc_read_timeout_ms > 0)
		srv.s_read_timeout = cfg->rpc_read_timeout_ms;
}

size_t
rpc_buffered(void)
{
	struct rpc_conn	*c;
	size_t		 n = srv.s_arg.cap + srv.s_body.cap + srv.s_msg.cap;

	TAILQ_FOREACH(c, &srv.s_conns, c_link)
		n += c->c_in.cap + c->c_out.cap;
	return n;
}
