/*
 * fuzz_rpc.c - libFuzzer target for rpc.c, through its public API only: a
 * real server on a unix socket, driven one loop iteration at a time.
 *
 * Each input is used twice:
 * 1. as the whole byte stream of one RPC connection (then EOF).  The target
 *    parses the same bytes with frame_decode() to know which requests are
 *    well-formed; the replies must be exactly those, in order, each an HL 5
 *    frame echoing seq and method, flagged with the codec the request
 *    picked (plus ERROR), and the server must close the connection;
 * 2. as one well-framed request: byte 0 = flags, byte 1 picks a method,
 *    the rest is the body, so the JSON and gob argument decoders and the
 *    reply encoders see every input even when the fuzzer has not found a
 *    valid CRC.  Exactly one reply must come back; a JSON reply body must
 *    parse, a gob one must be a sequence of whole length-prefixed messages.
 * Any violated property calls abort(), so the fuzzer and the corpus replay
 * (tests/fuzz/replay.c) both stop on it.
 */
#include "rpc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cJSON.h>

#include "ev.h"
#include "frame.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_PAYLOAD	((16u << 20) - FRAME_HDR_MAX)	/* rpc.c's limit */
#define MAX_STEPS	100000				/* a hang, not a slow input */

/* --- handlers ------------------------------------------------------------- */

static const char *const plugins[] = { "tcp", "http" };

static int
h_true(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_BOOL;
	out->b = 1;
	return 0;
}

static int
h_reset(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	if (arg->is_string && strcmp(arg->s, "tcp") == 0) {
		out->type = RV_BOOL;
		out->b = 1;
		return 0;
	}
	snprintf(err, errlen, "no such plugin: %s", arg->is_string ? arg->s : "");
	return -1;
}

static int
h_list(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_STRINGS;
	out->strs = plugins;
	out->nstrs = arg->present && arg->is_bool && !arg->b ? 0 : 2;
	return 0;
}

/* Workers made of the argument's bytes: odd values, NaN, the name itself. */
static int
h_workers(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	static struct rpc_worker_state ws[4];
	static char name[64];
	uint64_t v[6] = { 0 };
	size_t n = 0;

	out->type = RV_WORKERS;
	out->workers = ws;
	out->nworkers = 0;
	if (!arg->is_string)
		return 0;
	memcpy(v, arg->s, arg->slen < sizeof(v) ? arg->slen : sizeof(v));
	snprintf(name, sizeof(name), "%s", arg->s);
	n = arg->slen % 5;
	for (size_t i = 0; i < n; i++) {
		ws[i].pid = (int64_t)(v[0] + i);
		ws[i].status = (int64_t)v[1];
		ws[i].num_execs = v[2];
		ws[i].created = (int64_t)v[3];
		ws[i].memory = v[4];
		memcpy(&ws[i].cpu, &v[5], sizeof(double));
		ws[i].status_str = i == 0 ? name : "ready";
	}
	out->nworkers = n;
	return 0;
}

static int
h_null(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_NULL;
	return 0;
}

static int
h_version(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_STRING;
	out->s = arg->is_string ? arg->s : "2023.3.0";
	return 0;
}

static const struct rpc_method methods[] = {
	{ "tcp.Close", h_true },
	{ "resetter.Reset", h_reset },
	{ "resetter.List", h_list },
	{ "informer.List", h_list },
	{ "informer.Workers", h_workers },
	{ "informer.Jobs", h_null },
	{ "rpc.Version", h_version },
};

/* Mode 2's method names: the real ones and the three kinds of miss. */
static const char *const names[] = {
	"tcp.Close", "resetter.Reset", "resetter.List", "informer.List",
	"informer.Workers", "informer.Jobs", "rpc.Version", "tcp.Nope",
	"nope.Close", "tcpClose", "",
};
#define NNAMES	(sizeof(names) / sizeof(names[0]))

/* --- the server, stepped by hand ------------------------------------------ */

static struct ev	*loop;
static struct ev_timer	 stop_timer;
static char		 sock_path[108];

static void
on_stop(struct ev *l, struct ev_timer *t)
{
	ev_stop(l);
}

static void
cleanup(void)
{
	rpc_close();
	ev_free(loop);
}

static void
init(void)
{
	char a[128], err[256];

	log_setup(LOG_ERROR, 0);	/* bad frames are the point: no warns */
	if ((loop = ev_new(64, NULL)) == NULL)
		abort();
	ev_timer_init(&stop_timer, on_stop, NULL);
	snprintf(sock_path, sizeof(sock_path), "/tmp/rrtcp-fuzz-rpc-%d.sock",
	    (int)getpid());
	snprintf(a, sizeof(a), "unix://%s", sock_path);
	if (rpc_serve(loop, a, methods, sizeof(methods) / sizeof(methods[0]),
	    NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_rpc: %s\n", err);
		abort();
	}
	atexit(cleanup);
}

/* One loop iteration: the 0 ms timer runs after the ready fd callbacks. */
static void
step(void)
{
	ev_timer_arm(loop, &stop_timer, 0);
	ev_run(loop);
}

struct out {
	uint8_t	*p;
	size_t	 n, cap;
	int	 reset;	/* the server closed with our bytes unread */
};

/*
 * Sends in[0..n) on a fresh connection, then EOF, and collects everything
 * the server writes until it closes.
 */
static void
converse(const uint8_t *in, size_t n, struct out *o)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t sent = 0;
	int fd, shut = 0;

	memset(o, 0, sizeof(*o));
	strcpy(sun.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		abort();
	for (int steps = 0;; steps++) {
		if (steps > MAX_STEPS)
			abort();	/* the server neither answered nor closed */
		while (sent < n) {
			ssize_t w = send(fd, in + sent, n - sent, MSG_NOSIGNAL);

			if (w > 0)
				sent += (size_t)w;
			else if (w == -1 && errno == EAGAIN)
				break;
			else {
				o->reset = 1;	/* EPIPE: it closed first */
				sent = n;
			}
		}
		if (sent == n && !shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		step();
		for (;;) {
			ssize_t r;

			if (o->cap - o->n < 65536) {
				o->cap = o->cap ? o->cap * 2 : 65536;
				if ((o->p = realloc(o->p, o->cap)) == NULL)
					abort();
			}
			r = read(fd, o->p + o->n, o->cap - o->n);
			if (r > 0) {
				o->n += (size_t)r;
				continue;
			}
			if (r == -1 && errno == EAGAIN)
				break;
			if (r == -1)
				o->reset = 1;
			close(fd);
			return;
		}
	}
}

static uint8_t
pick_codec(uint8_t flags)
{
	static const uint8_t order[] = { FRAME_CODEC_PROTO, FRAME_CODEC_JSON,
	    FRAME_CODEC_RAW, FRAME_CODEC_MSGPACK, FRAME_CODEC_GOB };

	for (size_t i = 0; i < sizeof(order); i++)
		if (flags & order[i])
			return order[i];
	return FRAME_CODEC_GOB;
}

/*
 * Checks that rep[*pos..) starts with a reply to request q and returns the
 * reply's body, or NULL when no whole frame is there.
 */
static const uint8_t *
check_reply(const struct out *o, size_t *pos, const struct frame *q,
    struct frame *r)
{
	const char *why = NULL;
	ssize_t n;

	n = frame_decode(o->p + *pos, o->n - *pos, SIZE_MAX >> 1, r, &why);
	if (n == FRAME_NEED_MORE)
		return NULL;
	if (n < 0 || o->p[*pos] != 0x15 || r->nopts != 2 ||
	    r->opts[0] != q->opts[0] || r->opts[1] != q->opts[1] ||
	    r->opts[1] > r->len ||
	    memcmp(r->payload, q->payload, q->opts[1]) != 0 ||
	    (r->flags & ~FRAME_ERROR) != pick_codec(q->flags))
		abort();
	/* Only JSON and gob get past the codec check. */
	if (!(r->flags & FRAME_ERROR) && (r->flags & ~FRAME_ERROR) !=
	    FRAME_CODEC_JSON && (r->flags & ~FRAME_ERROR) != FRAME_CODEC_GOB)
		abort();
	*pos += (size_t)n;
	return r->payload + r->opts[1];
}

static int
gob_uint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
	unsigned b, k;

	if (*pos >= n)
		return -1;
	b = p[(*pos)++];
	*v = b;
	if (b < 0x80)
		return 0;
	k = 256 - b;
	if (k > 8 || n - *pos < k)
		return -1;
	for (*v = 0; k > 0; k--)
		*v = *v << 8 | p[(*pos)++];
	return 0;
}

/* A good reply body: valid JSON, or whole gob messages with a type id. */
static void
check_body(uint8_t codec, const uint8_t *b, size_t n)
{
	if (codec == FRAME_CODEC_JSON) {
		char *s = malloc(n + 1);
		cJSON *j;

		if (s == NULL)
			abort();
		memcpy(s, b, n);
		s[n] = '\0';
		if ((j = cJSON_ParseWithLength(s, n)) == NULL)
			abort();
		cJSON_Delete(j);
		free(s);
		return;
	}
	for (size_t pos = 0; pos < n;) {
		uint64_t len, id;
		size_t mp = 0;

		if (gob_uint(b, n, &pos, &len) == -1 || len == 0 ||
		    len > n - pos || gob_uint(b + pos, len, &mp, &id) == -1 ||
		    id == 0)
			abort();
		pos += len;
	}
	if (n == 0)
		abort();
}

static void
check_stream(const uint8_t *data, size_t size)
{
	struct frame q, r;
	struct out o;
	size_t ipos = 0, opos = 0, answered = 0, expected = 0;
	const uint8_t *body;

	converse(data, size, &o);
	/* Replies match the well-formed requests, in order. */
	for (;;) {
		ssize_t n = frame_decode(data + ipos, size - ipos, MAX_PAYLOAD,
		    &q, NULL);

		if (n <= 0 || q.nopts != 2 || q.opts[1] > q.len)
			break;
		ipos += (size_t)n;
		expected++;
		if ((body = check_reply(&o, &opos, &q, &r)) == NULL)
			break;
		answered++;
		if (!(r.flags & FRAME_ERROR))
			check_body(r.flags, body, r.len - r.opts[1]);
	}
	if (opos != o.n && answered == expected)
		abort();	/* bytes after the last reply */
	/* Only a server that closed on us may have dropped replies. */
	if (answered != expected && !o.reset)
		abort();
	free(o.p);
}

static void
check_single(const uint8_t *data, size_t size)
{
	static uint8_t *buf;
	static size_t cap;
	const char *m;
	struct frame q, r;
	struct out o;
	uint32_t opts[2];
	size_t ml, blen, hl, pos = 0;
	const uint8_t *body;
	const char *why;

	if (size < 2)
		return;
	m = names[data[1] % NNAMES];
	ml = strlen(m);
	blen = size - 2;
	if (cap < FRAME_HDR_MAX + ml + blen) {
		cap = FRAME_HDR_MAX + ml + blen;
		if ((buf = realloc(buf, cap)) == NULL)
			abort();
	}
	opts[0] = (uint32_t)size * 2654435761u;
	opts[1] = (uint32_t)ml;
	hl = frame_encode_header(buf, data[0], 0, opts, 2,
	    (uint32_t)(ml + blen));
	memcpy(buf + hl, m, ml);
	memcpy(buf + hl + ml, data + 2, blen);
	if (frame_decode(buf, hl + ml + blen, MAX_PAYLOAD, &q, &why) <= 0)
		abort();
	converse(buf, hl + ml + blen, &o);
	if ((body = check_reply(&o, &pos, &q, &r)) == NULL || pos != o.n)
		abort();	/* exactly one reply */
	if (!(r.flags & FRAME_ERROR))
		check_body(r.flags, body, r.len - r.opts[1]);
	free(o.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (loop == NULL)
		init();
	check_stream(data, size);
	check_single(data, size);
	return 0;
}
