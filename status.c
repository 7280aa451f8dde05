/*
 * status.c - the HTTP/1.x server of the status and metrics endpoints.
 *
 * One thread with its own event loop (ev.c) serves both listeners; it reads
 * only process-wide facts any thread may read (health.h, stats.h, mem.h),
 * so nothing a peer does here can hold a reactor or the control loop.
 * Connections live in a fixed array of STATUS_MAX_CONNS slots; a closed
 * slot keeps its memory, so an event still in the loop's batch for it finds
 * fd -1 and does nothing.  Each exchange is: read the head (capped), answer
 * once with Connection: close, flush, close.  A deadline covers it all.
 *
 * What /health and /ready mean is decided in answer_probe(); rrtcp.yaml(5)
 * STATUS says it for operators.
 */
#include "status.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "ev.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "pool.h"
#include "rpc.h"
#include "stats.h"

#define ROUTE_STATUS	0x1
#define ROUTE_METRICS	0x2
#define MAX_LISTENERS	8

/* --- the request parser (pure) ------------------------------------------- */

static const char *
find_line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl;
}

int
status_parse_request(const char *buf, size_t len, struct status_request *rq)
{
	const char *p = buf, *end = buf + len, *nl, *sp1, *sp2, *le;
	size_t mlen;

	memset(rq, 0, sizeof(*rq));
	if ((nl = find_line_end(p, end)) == NULL)
		return -2;
	le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	/* METHOD SP target SP HTTP/1.x */
	if ((sp1 = memchr(p, ' ', (size_t)(le - p))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1))) == NULL ||
	    sp2 == sp1 + 1 || sp1 == p)
		return -400;
	if (le - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0 ||
	    sp2[6] < '0' || sp2[6] > '9' || sp2[7] != '.' ||
	    sp2[8] < '0' || sp2[8] > '9')
		return -400;
	if (sp2[6] != '1' || (sp2[8] != '0' && sp2[8] != '1'))
		return -505;
	for (const char *t = sp1 + 1; t < sp2; t++)
		if ((unsigned char)*t <= 0x20 || *t == 0x7f)
			return -400;
	mlen = (size_t)(sp1 - p);
	if (mlen == 3 && memcmp(p, "GET", 3) == 0)
		rq->head = 0;
	else if (mlen == 4 && memcmp(p, "HEAD", 4) == 0)
		rq->head = 1;
	else {
		for (const char *t = p; t < sp1; t++)
			if (*t < 'A' || *t > 'Z')
				return -400;
		return -405;
	}
	rq->minor = sp2[8] - '0';
	rq->path = sp1 + 1;
	rq->pathlen = (size_t)(sp2 - sp1 - 1);
	{
		const char *q = memchr(rq->path, '?', rq->pathlen);

		if (q != NULL) {
			rq->query = q + 1;
			rq->querylen = rq->pathlen - (size_t)(q + 1 - rq->path);
			rq->pathlen = (size_t)(q - rq->path);
		}
	}
	/* Header lines up to the blank one; each must be "name: value". */
	for (p = nl + 1;;) {
		const char *colon;

		if ((nl = find_line_end(p, end)) == NULL)
			return -2;
		le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		if (le == p)
			return (int)(nl + 1 - buf);
		colon = memchr(p, ':', (size_t)(le - p));
		if (colon == NULL || colon == p)
			return -400;
		for (const char *t = p; t < colon; t++)
			if ((unsigned char)*t <= 0x20 || *t == 0x7f)
				return -400;
		p = nl + 1;
	}
}

int
status_query_plugins(const char *q, size_t len, const char **other,
    size_t *otherlen)
{
	const char *end = q + len;
	int n = 0;

	*other = NULL;
	*otherlen = 0;
	while (q != NULL && q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pe = amp != NULL ? amp : end;

		if (pe - q > 7 && memcmp(q, "plugin=", 7) == 0) {
			n++;
			if (!(pe - q == 10 && memcmp(q + 7, "tcp", 3) == 0) &&
			    *other == NULL) {
				*other = q + 7;
				*otherlen = (size_t)(pe - q - 7);
			}
		}
		q = amp != NULL ? amp + 1 : end;
	}
	return n;
}

/* --- the server ------------------------------------------------------------ */

struct hconn {
	struct ev_io	 h_io;
	struct ev_timer	 h_timer;	/* the exchange's deadline */
	int		 h_routes;	/* of the listener that accepted it */
	char		 h_in[STATUS_MAX_HEAD];
	size_t		 h_inlen;
	struct rr_buf	 h_out;		/* the answer, while unsent */
	int		 h_answered;
};

struct hlistener {
	struct ev_io	 l_io;
	struct ev_timer	 l_pause;	/* out of descriptors */
	int		 l_routes;
};

static struct {
	struct ev		*loop;
	pthread_t		 thread;
	int			 running;
	_Atomic int		 stop;
	int			 unavailable;	/* status.unavailable_status_code */
	struct hlistener	 ls[MAX_LISTENERS];
	int			 nls;
	struct hconn		*conns;		/* STATUS_MAX_CONNS slots */
	int			 nconns;
} H;

static void
hconn_close(struct hconn *h)
{
	if (h->h_io.fd == -1)
		return;
	ev_timer_cancel(H.loop, &h->h_timer);
	ev_del(H.loop, &h->h_io);
	close(h->h_io.fd);
	h->h_io.fd = -1;
	buf_free(&h->h_out);
	H.nconns--;
}

static void
hconn_flush(struct hconn *h)
{
	int err;
	size_t sent = net_send(h->h_io.fd, buf_rptr(&h->h_out),
	    buf_len(&h->h_out), &err);

	buf_consume(&h->h_out, sent);
	if (err != 0 || buf_len(&h->h_out) == 0) {
		if (err == 0)
			shutdown(h->h_io.fd, SHUT_WR);
		hconn_close(h);
	}
}

static const char *
reason_phrase(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return code < 300 ? "OK" : code < 500 ? "Client Error" :
	    "Server Error";
	}
}

/* Queues the whole answer and starts sending it. */
static void
respond(struct hconn *h, int minor, int head, int code, const char *ctype,
    const char *body, size_t blen)
{
	char hdr[320];
	int n;

	n = snprintf(hdr, sizeof(hdr), "HTTP/1.%d %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s\r\n", minor, code,
	    reason_phrase(code), ctype, blen,
	    code == 405 ? "Allow: GET, HEAD\r\n" : "");
	h->h_answered = 1;
	if (buf_append(&h->h_out, hdr, (size_t)n, SIZE_MAX) == -1 ||
	    (!head && blen > 0 && buf_append(&h->h_out, body, blen,
	    SIZE_MAX) == -1)) {
		hconn_close(h);
		return;
	}
	hconn_flush(h);
}

static void
respond_text(struct hconn *h, int minor, int head, int code, const char *text)
{
	respond(h, minor, head, code, "text/plain; charset=utf-8", text,
	    strlen(text));
}

/* /ready: serving, not draining, a worker in service (sampled lately). */
static const char *
not_ready(int64_t now)
{
	struct stats_pool p;

	if (!health_serving())
		return "not serving yet";
	if (health_draining())
		return "draining";
	stats_pool(&p);
	if (!p.sampled || now - p.at_ms > STATUS_STALE_MS)
		return "worker states unknown (control loop stalled)";
	if (p.in_service == 0)
		return "no worker ready";
	return NULL;
}

/* /health: serving, every reactor ticking, the pool not stuck empty. */
static const char *
not_healthy(int64_t now)
{
	struct stats_pool p;
	int64_t oldest;

	if (!health_serving())
		return "not serving yet";
	if (health_draining())
		return NULL;	/* RoadRunner: 200 while shutting down */
	if (stats_reactors(&oldest) == 0)
		return "no reactor running";
	if (now - oldest > STATUS_STALE_MS)
		return "a reactor stopped turning";
	stats_pool(&p);
	if (!p.sampled || now - p.at_ms > STATUS_STALE_MS)
		return "the control loop stopped turning";
	if (p.empty_since_ms != 0 && now - p.empty_since_ms > STATUS_STALE_MS)
		return "no worker in service";
	return NULL;
}

static void
answer_probe(struct hconn *h, const struct status_request *rq, int ready)
{
	const char *other, *why;
	size_t olen;
	char body[192];
	int code;

	status_query_plugins(rq->query, rq->querylen, &other, &olen);
	if (other != NULL) {
		snprintf(body, sizeof(body), "plugin: %.*s not found\n",
		    (int)(olen > 64 ? 64 : olen), other);
		respond_text(h, rq->minor, rq->head, 404, body);
		return;
	}
	why = ready ? not_ready(ev_clock_ms()) : not_healthy(ev_clock_ms());
	code = why == NULL ? 200 : H.unavailable;
	if (why == NULL)
		snprintf(body, sizeof(body), "plugin: tcp, status: 200%s\n",
		    !ready && health_draining() ? ", service is shutting down" :
		    "");
	else
		snprintf(body, sizeof(body), "plugin: tcp, status: %d, "
		    "reason: %s\n", code, why);
	respond_text(h, rq->minor, rq->head, code, body);
}

static int
path_is(const struct status_request *rq, const char *p)
{
	return rq->pathlen == strlen(p) && memcmp(rq->path, p, rq->pathlen) == 0;
}

static void
answer(struct hconn *h, const struct status_request *rq)
{
	if ((h->h_routes & ROUTE_STATUS) && path_is(rq, "/health")) {
		answer_probe(h, rq, 0);
	} else if ((h->h_routes & ROUTE_STATUS) && path_is(rq, "/ready")) {
		answer_probe(h, rq, 1);
	} else if ((h->h_routes & ROUTE_METRICS) && path_is(rq, "/metrics")) {
		struct rr_buf page = { 0 };

		if (metrics_render(&page) == -1)
			respond_text(h, rq->minor, rq->head, 500,
			    "cannot build the page\n");
		else
			respond(h, rq->minor, rq->head, 200,
			    METRICS_CONTENT_TYPE, (const char *)buf_rptr(&page),
			    buf_len(&page));
		buf_free(&page);
	} else
		respond_text(h, rq->minor, rq->head, 404, "not found\n");
}

static void
hconn_read(struct hconn *h)
{
	struct status_request rq;

	while (!h->h_answered && h->h_io.fd != -1) {
		ssize_t n;
		int rc;

		if (h->h_inlen == sizeof(h->h_in)) {
			respond_text(h, 1, 0, 431, "request head too large\n");
			return;
		}
		n = read(h->h_io.fd, h->h_in + h->h_inlen,
		    sizeof(h->h_in) - h->h_inlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			hconn_close(h);
			return;
		}
		h->h_inlen += (size_t)n;
		rc = status_parse_request(h->h_in, h->h_inlen, &rq);
		if (rc == -2)
			continue;
		if (rc < 0) {
			respond_text(h, 1, 0, -rc, rc == -405 ? "only GET and "
			    "HEAD\n" : rc == -505 ? "HTTP/1.0 or 1.1 only\n" :
			    "bad request\n");
			return;
		}
		answer(h, &rq);
	}
}

static void
on_hconn(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct hconn *h = io->arg;

	if (io->fd == -1)
		return;		/* closed earlier in this batch */
	if (h->h_answered) {
		if (events & (EV_WRITE | EV_HUP))
			hconn_flush(h);
		return;
	}
	if (events & (EV_READ | EV_HUP))
		hconn_read(h);
}

static void
on_deadline(struct ev *loop, struct ev_timer *t)
{
	hconn_close(t->arg);
}

static void
on_listener_resume(struct ev *loop, struct ev_timer *t)
{
	struct hlistener *l = t->arg;

	ev_attach(loop, &l->l_io, EV_READ);
}

/*
 * At the cap, the oldest connection still sending its head goes: a probe
 * sends its request at once, so idle or slow peers cannot lock it out by
 * holding every slot until their deadline.  Answers being sent stay.
 */
static void
evict_oldest(void)
{
	struct hconn *old = NULL;

	for (int i = 0; i < STATUS_MAX_CONNS; i++) {
		struct hconn *h = &H.conns[i];

		if (h->h_io.fd != -1 && !h->h_answered && (old == NULL ||
		    h->h_timer.when < old->h_timer.when))
			old = h;
	}
	if (old != NULL)
		hconn_close(old);
}

static void
on_accept(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct hlistener *l = io->arg;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		struct hconn *h = NULL;
		int fd = net_accept(io->fd, &ss, &sslen);

		if (fd == NET_ACCEPT_AGAIN)
			return;
		if (fd == NET_ACCEPT_PAUSE) {
			ev_del(loop, &l->l_io);
			ev_timer_arm(loop, &l->l_pause, 1000);
			return;
		}
		if (H.nconns >= STATUS_MAX_CONNS)
			evict_oldest();
		for (int i = 0; i < STATUS_MAX_CONNS && H.nconns <
		    STATUS_MAX_CONNS; i++)
			if (H.conns[i].h_io.fd == -1) {
				h = &H.conns[i];
				break;
			}
		if (h == NULL) {
			close(fd);	/* over the cap: that is all it gets */
			continue;
		}
		h->h_inlen = 0;
		h->h_answered = 0;
		h->h_routes = l->l_routes;
		if (ev_add(loop, &h->h_io, fd, EV_READ | EV_WRITE | EV_HUP |
		    EV_EDGE, on_hconn, h) == -1) {
			close(fd);
			continue;
		}
		H.nconns++;
		ev_timer_arm(loop, &h->h_timer, STATUS_TIMEOUT_MS);
	}
}

static void
on_wake(struct ev *loop, void *arg)
{
	if (atomic_load(&H.stop))
		ev_stop(loop);
}

static void *
status_main(void *arg)
{
	ev_run(H.loop);
	return NULL;
}

/* Binds host:port for routes; merges with a listener on the same address. */
static int
add_listeners(const char *name, const char *addr, const char *host,
    const char *port, int routes, char *err, size_t errlen)
{
	struct rr_server_conf srv = { 0 };
	int fds[MAX_LISTENERS], n;

	srv.name = (char *)(uintptr_t)name;
	srv.addr = (char *)(uintptr_t)addr;
	srv.host = (char *)(uintptr_t)host;
	srv.port = (char *)(uintptr_t)port;
	n = net_listen(&srv, 0, 1, fds, MAX_LISTENERS - H.nls, err, errlen);
	if (n == -1)
		return -1;
	for (int i = 0; i < n; i++) {
		struct hlistener *l = &H.ls[H.nls++];

		l->l_routes = routes;
		l->l_io.fd = fds[i];
		l->l_io.fn = on_accept;
		l->l_io.arg = l;
		ev_timer_init(&l->l_pause, on_listener_resume, l);
	}
	return 0;
}

/* --- the pool sampler (control thread: pool_snapshot is its alone) ----- */

static struct ev	*sample_loop;
static struct ev_timer	 sample_timer;

static void
on_sample(struct ev *loop, struct ev_timer *t)
{
	size_t max = (size_t)pool_size() + 16, n;
	struct rpc_worker_state *ws = calloc(max, sizeof(*ws));
	struct stats_pool p = { .sampled = 1, .at_ms = ev_now(loop) };

	n = ws != NULL ? pool_snapshot(ws, max) : 0;
	for (size_t i = 0; i < n; i++) {
		if (ws[i].status >= 0 && ws[i].status < STATS_NSTATES)
			p.by_state[ws[i].status]++;
		if (ws[i].status == WS_READY || ws[i].status == WS_WORKING)
			p.in_service++;
	}
	free(ws);
	stats_pool_publish(&p);
	ev_timer_arm(loop, t, STATS_SAMPLE_MS);
}

static void
sampler_start(struct ev *control)
{
	sample_loop = control;
	ev_timer_init(&sample_timer, on_sample, NULL);
	ev_timer_arm(control, &sample_timer, 0);
}

static void
sampler_stop(void)
{
	if (sample_loop != NULL)
		ev_timer_cancel(sample_loop, &sample_timer);
	sample_loop = NULL;
}

int
status_start(struct ev *control, const struct rr_config *cfg, char *err,
    size_t errlen)
{
	int same = cfg->status_addr != NULL && cfg->metrics_addr != NULL &&
	    strcmp(cfg->status_host, cfg->metrics_host) == 0 &&
	    strcmp(cfg->status_port, cfg->metrics_port) == 0;

	if (cfg->status_addr == NULL && cfg->metrics_addr == NULL)
		return 0;
	H.unavailable = cfg->status_unavailable_code;
	if ((H.loop = ev_new(64, NULL)) == NULL ||
	    (H.conns = calloc(STATUS_MAX_CONNS, sizeof(*H.conns))) == NULL) {
		snprintf(err, errlen, "status server: out of memory");
		return -1;
	}
	for (int i = 0; i < STATUS_MAX_CONNS; i++) {
		H.conns[i].h_io.fd = -1;
		ev_timer_init(&H.conns[i].h_timer, on_deadline, &H.conns[i]);
	}
	if (cfg->status_addr != NULL && add_listeners("status",
	    cfg->status_addr, cfg->status_host, cfg->status_port,
	    ROUTE_STATUS | (same ? ROUTE_METRICS : 0), err, errlen) == -1)
		return -1;
	if (cfg->metrics_addr != NULL && !same && add_listeners("metrics",
	    cfg->metrics_addr, cfg->metrics_host, cfg->metrics_port,
	    ROUTE_METRICS, err, errlen) == -1)
		return -1;
	for (int i = 0; i < H.nls; i++)
		ev_attach(H.loop, &H.ls[i].l_io, EV_READ);
	ev_set_wake(H.loop, on_wake, NULL);
	sampler_start(control);
	if (pthread_create(&H.thread, NULL, status_main, NULL) != 0) {
		snprintf(err, errlen, "status server: cannot start its thread");
		return -1;
	}
	H.running = 1;
	if (cfg->status_addr != NULL)
		log_info("status listening", "addr=%s", cfg->status_addr);
	if (cfg->metrics_addr != NULL)
		log_info("metrics listening", "addr=%s", cfg->metrics_addr);
	return 0;
}

void
status_stop(void)
{
	if (H.loop == NULL)
		return;
	sampler_stop();
	if (H.running) {
		atomic_store(&H.stop, 1);
		ev_wake(H.loop);
		pthread_join(H.thread, NULL);
		H.running = 0;
	}
	for (int i = 0; i < STATUS_MAX_CONNS && H.conns != NULL; i++)
		hconn_close(&H.conns[i]);
	for (int i = 0; i < H.nls; i++)
		close(H.ls[i].l_io.fd);
	H.nls = 0;
	free(H.conns);
	H.conns = NULL;
	ev_free(H.loop);
	H.loop = NULL;
}
