/*
 * rpc.c - the goridge RPC server and client (PROTOCOL.md section 5).
 *
 * Owns the RPC listener(s), the RPC connections, the two codecs rrtcp speaks
 * (JSON for PHP's Spiral\Goridge\RPC, a fixed gob subset for the rr CLI) and
 * net/rpc's error texts.  What a method does is left to the handlers the
 * caller registers; frame bytes are left to frame.c.
 *
 * Threading: everything runs on the one loop given to rpc_serve() (the
 * control loop); the server state is a single static instance.  Handlers are
 * synchronous and must not block, so pipelined requests are answered in
 * arrival order.  rpc_call() is a separate blocking client for the CLI and
 * shares nothing with the server but the frame layout.
 *
 * Frame, both directions (HL 5, always two options):
 *
 *   +---- 12-byte goridge header ----+--------+------------+--------+------+
 *   | 15 | flags | len | crc | 00 00 |  seq   | len(method)| method | body |
 *   +--------------------------------+--------+------------+--------+------+
 *                                      u32 LE    u32 LE     \__ len bytes __/
 *
 * Request flags pick the codec (PROTO, JSON, RAW, MSGPACK, GOB, none = GOB,
 * in that order).  A reply carries the picked codec bit, plus ERROR (0x40)
 * with the error text as body; options and method are echoed.
 */
#include "rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "buf.h"
#include "config.h"
#include "ev.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "net.h"

#define RPC_MAX_INPUT	(16u << 20)	/* per-connection input cap */
/* A whole frame always fits in the input buffer. */
#define RPC_MAX_PAYLOAD	(RPC_MAX_INPUT - FRAME_HDR_MAX)
#define RPC_MAX_OUTPUT	(64u << 20)	/* pending replies; over it -> close */
#define RPC_OUT_HIGH	(1u << 20)	/* stop answering above this */
#define RPC_READ_CHUNK	16384
#define RPC_MAX_LISTEN	8		/* getaddrinfo results bound */
#define RPC_FRAMES_PER_WAKEUP 64	/* fairness between RPC peers */
#define RPC_ERRLEN	1024		/* handler error text */

/* gob's ids for the builtin types (encoding/gob type.go). */
#define GOB_BOOL	1
#define GOB_INT		2
#define GOB_UINT	3
#define GOB_FLOAT	4
#define GOB_BYTES	5
#define GOB_STRING	6

struct rpc_conn {
	struct ev_io		 c_io;		/* first: epoll hands us this */
	struct ev_timer		 c_resume;	/* continues after the per-wakeup cap */
	struct rr_buf		 c_in;		/* request bytes, <= RPC_MAX_INPUT */
	struct rr_buf		 c_out;		/* encoded replies not yet written */
	int			 c_readable;	/* no EAGAIN since the last EPOLLIN */
	int			 c_eof;		/* peer shut its write side */
	const char		*c_failed;	/* protocol error: flush, then close */
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
	unsigned long long	 s_next_id;
	struct rr_buf		 s_arg;		/* NUL-terminated argument copy */
	struct rr_buf		 s_body;	/* reply body being encoded */
	struct rr_buf		 s_msg;		/* one gob message being encoded */
} srv = { .s_conns = TAILQ_HEAD_INITIALIZER(srv.s_conns) };

static void	rpc_conn_drive(struct rpc_conn *c);

/* --- gob (PROTOCOL.md 5.4) ------------------------------------------------ */

/*
 * Type definitions, copied from what Go's encoder sends.  A gob reply is a
 * fresh stream, so each one repeats its definitions; they never change, so
 * they are constants rather than generated.  Our own type ids are fixed:
 * []string 65; WorkerList 66, process.State 67, []*process.State 68;
 * informer.Jobs' state 69 and its slice 70.
 */
static const char gob_strings_def[] =
	"\x0c\xff\x81\x02\x01\x02\xff\x82\x00\x01\x0c\x00\x00";

static const char gob_workers_def[] =
	/* struct 66 WorkerList{Workers 68} */
	"\x25\xff\x83\x03\x01\x01\x0a" "WorkerList"
	"\x01\xff\x84\x00\x01\x01\x01\x07" "Workers"
	"\x01\xff\x88\x00\x00\x00"
	/* slice 68 of 67 */
	"\x1f\xff\x87\x02\x01\x01\x10" "[]*process.State"
	"\x01\xff\x88\x00\x01\xff\x86\x00\x00"
	/* struct 67 process.State */
	"\x71\xff\x85\x03\x01\x02\xff\x86\x00\x01\x08\x01\x03" "Pid"
	"\x01\x04\x00\x01\x06" "Status" "\x01\x04\x00\x01\x08" "NumExecs"
	"\x01\x06\x00\x01\x07" "Created" "\x01\x04\x00\x01\x0b" "MemoryUsage"
	"\x01\x06\x00\x01\x0a" "CPUPercent" "\x01\x08\x00\x01\x07" "Command"
	"\x01\x0c\x00\x01\x09" "StatusStr" "\x01\x0c\x00\x00\x00";

/* informer.Jobs with no jobs: slice 70 of 69, struct 69, then an empty 70. */
static const char gob_jobs_empty[] =
	"\x0d\xff\x8b\x02\x01\x02\xff\x8c\x00\x01\xff\x8a\x00\x00"
	"\x7a\xff\x89\x03\x01\x02\xff\x8a\x00\x01\x09\x01\x08" "Pipeline"
	"\x01\x0c\x00\x01\x06" "Driver" "\x01\x0c\x00\x01\x05" "Queue"
	"\x01\x0c\x00\x01\x06" "Active" "\x01\x04\x00\x01\x07" "Delayed"
	"\x01\x04\x00\x01\x08" "Reserved" "\x01\x04\x00\x01\x05" "Ready"
	"\x01\x02\x00\x01\x08" "Priority" "\x01\x06\x00\x01\x0c"
	"ErrorMessage" "\x01\x0c\x00\x00\x00"
	"\x04\xff\x8c\x00\x00";

#define GOB_ID_STRINGS	65
#define GOB_ID_WORKERS	66

static int
gob_put_uint(struct rr_buf *b, uint64_t v)
{
	uint8_t	 t[9];
	size_t	 n = 0;

	/* < 0x80: one byte; else 256 - count, then big-endian bytes. */
	if (v < 0x80) {
		t[0] = (uint8_t)v;
		return buf_append(b, t, 1, RPC_MAX_OUTPUT);
	}
	for (uint64_t x = v; x != 0; x >>= 8)
		n++;
	t[0] = (uint8_t)(256 - n);
	for (size_t i = 0; i < n; i++)
		t[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return buf_append(b, t, 1 + n, RPC_MAX_OUTPUT);
}

static int
gob_put_int(struct rr_buf *b, int64_t i)
{
	/* Sign in bit 0; a negative value is complemented first. */
	if (i < 0)
		return gob_put_uint(b, (~(uint64_t)i << 1) | 1);
	return gob_put_uint(b, (uint64_t)i << 1);
}

static int
gob_put_float(struct rr_buf *b, double f)
{
	uint64_t	 bits, rev = 0;

	/* Byte-reversed so that "round" floats have short encodings. */
	memcpy(&bits, &f, sizeof(bits));
	for (int i = 0; i < 8; i++, bits >>= 8)
		rev = rev << 8 | (bits & 0xff);
	return gob_put_uint(b, rev);
}

static int
gob_put_string(struct rr_buf *b, const char *s, size_t n)
{
	if (gob_put_uint(b, n) == -1)
		return -1;
	return buf_append(b, s, n, RPC_MAX_OUTPUT);
}

/* Appends srv.s_msg to out as one message (length prefix) and empties it. */
static int
gob_flush_msg(struct rr_buf *out)
{
	size_t	 n = buf_len(&srv.s_msg);
	int	 rc;

	rc = gob_put_uint(out, n) == -1 ||
	    buf_append(out, buf_rptr(&srv.s_msg), n, RPC_MAX_OUTPUT) == -1;
	buf_consume(&srv.s_msg, n);
	return rc ? -1 : 0;
}

/* A struct field: index delta from the previous field sent, then the value. */
#define GOB_FIELD(b, idx, prev)	gob_put_uint((b), (uint64_t)((idx) - (prev)))

static int
gob_put_state(struct rr_buf *b, const struct rpc_worker_state *w)
{
	const char	*st = w->status_str != NULL ? w->status_str : "";
	int		 prev = -1;

	/* Zero fields are left out; Command (6) is always "" here. */
	if (w->pid != 0) {
		if (GOB_FIELD(b, 0, prev) == -1 || gob_put_int(b, w->pid) == -1)
			return -1;
		prev = 0;
	}
	if (w->status != 0) {
		if (GOB_FIELD(b, 1, prev) == -1 ||
		    gob_put_int(b, w->status) == -1)
			return -1;
		prev = 1;
	}
	if (w->num_execs != 0) {
		if (GOB_FIELD(b, 2, prev) == -1 ||
		    gob_put_uint(b, w->num_execs) == -1)
			return -1;
		prev = 2;
	}
	if (w->created != 0) {
		if (GOB_FIELD(b, 3, prev) == -1 ||
		    gob_put_int(b, w->created) == -1)
			return -1;
		prev = 3;
	}
	if (w->memory != 0) {
		if (GOB_FIELD(b, 4, prev) == -1 ||
		    gob_put_uint(b, w->memory) == -1)
			return -1;
		prev = 4;
	}
	if (w->cpu != 0) {
		if (GOB_FIELD(b, 5, prev) == -1 || gob_put_float(b, w->cpu) == -1)
			return -1;
		prev = 5;
	}
	if (*st != '\0') {
		if (GOB_FIELD(b, 7, prev) == -1 ||
		    gob_put_string(b, st, strlen(st)) == -1)
			return -1;
	}
	return gob_put_uint(b, 0);
}

/* Encodes a handler's reply as a complete gob stream into out. */
static int
gob_encode_value(struct rr_buf *out, const struct rpc_value *v)
{
	struct rr_buf	*m = &srv.s_msg;
	size_t		 i;

	switch (v->type) {
	case RV_BOOL:
		/* A non-struct top-level value: type id, 00, the value. */
		if (gob_put_int(m, GOB_BOOL) == -1 || gob_put_uint(m, 0) == -1 ||
		    gob_put_uint(m, v->b ? 1 : 0) == -1)
			return -1;
		break;
	case RV_STRING:
		if (gob_put_int(m, GOB_STRING) == -1 || gob_put_uint(m, 0) == -1 ||
		    gob_put_string(m, v->s ? v->s : "",
		    v->s ? strlen(v->s) : 0) == -1)
			return -1;
		break;
	case RV_STRINGS:
		if (buf_append(out, gob_strings_def, sizeof(gob_strings_def) - 1,
		    RPC_MAX_OUTPUT) == -1 ||
		    gob_put_int(m, GOB_ID_STRINGS) == -1 ||
		    gob_put_uint(m, 0) == -1 || gob_put_uint(m, v->nstrs) == -1)
			return -1;
		for (i = 0; i < v->nstrs; i++)
			if (gob_put_string(m, v->strs[i],
			    strlen(v->strs[i])) == -1)
				return -1;
		break;
	case RV_WORKERS:
		/* A struct: no 00 after the id; Workers (field 0) if any. */
		if (buf_append(out, gob_workers_def, sizeof(gob_workers_def) - 1,
		    RPC_MAX_OUTPUT) == -1 ||
		    gob_put_int(m, GOB_ID_WORKERS) == -1)
			return -1;
		if (v->nworkers > 0) {
			if (gob_put_uint(m, 1) == -1 ||
			    gob_put_uint(m, v->nworkers) == -1)
				return -1;
			for (i = 0; i < v->nworkers; i++)
				if (gob_put_state(m, &v->workers[i]) == -1)
					return -1;
		}
		if (gob_put_uint(m, 0) == -1)
			return -1;
		break;
	case RV_NULL:
		/*
		 * The only method whose JSON reply is null is informer.Jobs
		 * (rrtcp runs no jobs); the CLI decodes it into informer.Jobs,
		 * so gob gets an empty one, as RR sends.
		 */
		return buf_append(out, gob_jobs_empty, sizeof(gob_jobs_empty) - 1,
		    RPC_MAX_OUTPUT);
	default:
		errno = EINVAL;
		return -1;
	}
	return gob_flush_msg(out);
}

static int
gob_get_uint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
	uint64_t	 x = 0;
	unsigned	 b, k;

	if (*pos >= n)
		return -1;
	b = p[(*pos)++];
	if (b < 0x80) {
		*v = b;
		return 0;
	}
	k = 256 - b;	/* 0x80 would mean 128 bytes: Go rejects it too */
	if (k > 8 || n - *pos < k)
		return -1;
	while (k-- > 0)
		x = x << 8 | p[(*pos)++];
	*v = x;
	return 0;
}

static int
gob_get_int(const uint8_t *p, size_t n, size_t *pos, int64_t *v)
{
	uint64_t	 u;

	if (gob_get_uint(p, n, pos, &u) == -1)
		return -1;
	*v = (u & 1) ? (int64_t)~(u >> 1) : (int64_t)(u >> 1);
	return 0;
}

static int
arg_copy(struct rpc_arg *arg, const uint8_t *s, size_t n)
{
	buf_consume(&srv.s_arg, buf_len(&srv.s_arg));
	if (buf_reserve(&srv.s_arg, n + 1, 256, RPC_MAX_INPUT + 1) == -1)
		return -1;
	memcpy(buf_wptr(&srv.s_arg), s, n);
	buf_wptr(&srv.s_arg)[n] = '\0';
	arg->s = (const char *)buf_wptr(&srv.s_arg);
	arg->slen = n;
	return 0;
}

/*
 * Reads the argument from a gob request body: a fresh stream of messages
 * (uint length, int type id, body).  Definitions (negative ids) are skipped:
 * the CLI sends only builtin types, a bool or a string, which need none.
 * Returns 0, or -1 with a message in err.
 */
static int
gob_decode_arg(const uint8_t *p, size_t n, struct rpc_arg *arg, char *err,
    size_t errlen)
{
	size_t		 pos = 0, mpos;
	uint64_t	 mlen, u;
	int64_t		 id;
	const uint8_t	*m;

	memset(arg, 0, sizeof(*arg));
	if (n == 0)
		return 0;	/* net/rpc leaves the argument zero */
	for (;;) {
		if (pos == n) {
			snprintf(err, errlen, "gob: no value after the type "
			    "definitions");
			return -1;
		}
		if (gob_get_uint(p, n, &pos, &mlen) == -1 || mlen == 0 ||
		    mlen > n - pos) {
			snprintf(err, errlen, "gob: bad message length");
			return -1;
		}
		m = p + pos;
		pos += mlen;
		mpos = 0;
		if (gob_get_int(m, mlen, &mpos, &id) == -1) {
			snprintf(err, errlen, "gob: bad type id");
			return -1;
		}
		if (id < 0)
			continue;
		break;
	}
	if (id < GOB_BOOL || id > GOB_STRING) {
		snprintf(err, errlen, "gob: unsupported argument type id %lld "
		    "(want a bool or a string)", (long long)id);
		return -1;
	}
	/* A top-level non-struct value starts with a 00 "field delta". */
	if (gob_get_uint(m, mlen, &mpos, &u) == -1 || u != 0) {
		snprintf(err, errlen, "gob: bad singleton value");
		return -1;
	}
	if (id == GOB_BYTES || id == GOB_STRING) {
		if (gob_get_uint(m, mlen, &mpos, &u) == -1 || u > mlen - mpos) {
			snprintf(err, errlen, "gob: bad string length");
			return -1;
		}
		if (arg_copy(arg, m + mpos, (size_t)u) == -1) {
			snprintf(err, errlen, "gob: %s", strerror(errno));
			return -1;
		}
		mpos += u;
		arg->is_string = 1;
	} else if (gob_get_uint(m, mlen, &mpos, &u) == -1) {
		snprintf(err, errlen, "gob: truncated value");
		return -1;
	} else if (id == GOB_BOOL) {
		arg->is_bool = 1;
		arg->b = u != 0;
	}
	if (mpos != mlen) {
		snprintf(err, errlen, "gob: extra data in buffer");
		return -1;
	}
	arg->present = 1;
	return 0;
}

/* --- JSON ----------------------------------------------------------------- */

/*
 * Decodes a JSON argument.  *tree keeps cJSON's copy of a string alive
 * during the call; the caller deletes it.  null, like an empty body, leaves
 * the argument absent (Go's json.Unmarshal leaves the value zero).
 */
static int
json_decode_arg(const uint8_t *p, size_t n, struct rpc_arg *arg,
    cJSON **tree, char *err, size_t errlen)
{
	const char	*end = NULL, *s;
	cJSON		*j;

	memset(arg, 0, sizeof(*arg));
	*tree = NULL;
	if (n == 0)
		return 0;
	/* A NUL-terminated copy: cJSON's length checks are not to be trusted
	 * with bytes right at the end of the input buffer. */
	if (arg_copy(arg, p, n) == -1) {
		snprintf(err, errlen, "json: %s", strerror(errno));
		return -1;
	}
	s = arg->s;
	arg->s = NULL;
	arg->slen = 0;
	j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
	if (j == NULL) {
		snprintf(err, errlen, "json: invalid argument at offset %zu",
		    end != NULL && end >= s ? (size_t)(end - s) : (size_t)0);
		return -1;
	}
	while (end < s + n && (*end == ' ' || *end == '\t' || *end == '\n' ||
	    *end == '\r'))
		end++;
	if (end != s + n) {
		snprintf(err, errlen, "json: invalid character after top-level "
		    "value at offset %zu", (size_t)(end - s));
		cJSON_Delete(j);
		return -1;
	}
	*tree = j;
	if (cJSON_IsNull(j))
		return 0;
	arg->present = 1;
	if (cJSON_IsString(j)) {
		arg->is_string = 1;
		arg->s = j->valuestring;
		arg->slen = strlen(j->valuestring);
	} else if (cJSON_IsBool(j)) {
		arg->is_bool = 1;
		arg->b = cJSON_IsTrue(j);
	}
	return 0;
}

static int
json_put_quoted(struct rr_buf *b, const char *s)
{
	size_t	 n = s != NULL ? strlen(s) : 0;

	if (n > RPC_MAX_OUTPUT || buf_reserve(b, JSON_QUOTED_MAX(n), 256,
	    RPC_MAX_OUTPUT) == -1)
		return -1;
	b->wpos += json_quote((char *)buf_wptr(b), s != NULL ? s : "", n);
	return 0;
}

static int
json_put(struct rr_buf *b, const char *s)
{
	return buf_append(b, s, strlen(s), RPC_MAX_OUTPUT);
}

/*
 * Formats a float64 as Go's encoding/json does: the shortest digits that
 * read back the same value, plain notation for 1e-6 <= |f| < 1e21, else
 * exponent notation without a leading exponent zero (1e-7, 1.5e+21).
 */
static void
json_fmt_float(char *out, size_t outlen, double f)
{
	char	 e[40], digits[24], *p;
	int	 prec, x, nd = 0, neg = 0;
	size_t	 o = 0;

	if (f == 0 || f != f || f - f != 0) {
		/* Zero, NaN, Inf: Go refuses the last two; 0 keeps PHP happy. */
		snprintf(out, outlen, "0");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, f);
		if (strtod(e, NULL) == f)
			break;
	}
	p = e;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	for (; *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	x = atoi(p + 1);	/* decimal exponent */
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';

#define PUT(c)	do { if (o + 1 < outlen) out[o++] = (c); } while (0)
	if (neg)
		PUT('-');
	if ((neg ? -f : f) < 1e-6 || (neg ? -f : f) >= 1e21) {
		int	 xneg = x < 0;

		PUT(digits[0]);
		if (nd > 1) {
			PUT('.');
			for (int i = 1; i < nd; i++)
				PUT(digits[i]);
		}
		PUT('e');
		PUT(xneg ? '-' : '+');
		if (xneg)
			x = -x;
		/* strconv writes two exponent digits; json drops the 0 of e-0N. */
		if (x >= 100)
			PUT((char)('0' + x / 100));
		if (x >= 10 || !xneg)
			PUT((char)('0' + x / 10 % 10));
		PUT((char)('0' + x % 10));
	} else if (x < 0) {
		PUT('0');
		PUT('.');
		for (int i = 0; i < -x - 1; i++)
			PUT('0');
		for (int i = 0; i < nd; i++)
			PUT(digits[i]);
	} else {
		for (int i = 0; i < nd || i <= x; i++) {
			if (i == x + 1)
				PUT('.');
			PUT(i < nd ? digits[i] : '0');
		}
	}
#undef PUT
	out[o] = '\0';
}

static int
json_put_worker(struct rr_buf *b, const struct rpc_worker_state *w)
{
	char	 num[384], cpu[40];	/* 6 numbers of <= 24 chars + keys */

	/* Integers by hand: cJSON prints numbers as doubles, and a nanosecond
	 * timestamp does not survive that; PHP wants JSON integers here. */
	json_fmt_float(cpu, sizeof(cpu), w->cpu);
	snprintf(num, sizeof(num), "{\"pid\":%lld,\"status\":%lld,"
	    "\"numExecs\":%llu,\"created\":%lld,\"memoryUsage\":%llu,"
	    "\"CPUPercent\":%s,\"command\":\"\",\"statusStr\":",
	    (long long)w->pid, (long long)w->status,
	    (unsigned long long)w->num_execs, (long long)w->created,
	    (unsigned long long)w->memory, cpu);
	if (json_put(b, num) == -1 || json_put_quoted(b, w->status_str) == -1)
		return -1;
	return json_put(b, "}");
}

static int
json_encode_value(struct rr_buf *out, const struct rpc_value *v)
{
	size_t	 i;

	switch (v->type) {
	case RV_BOOL:
		return json_put(out, v->b ? "true" : "false");
	case RV_STRING:
		return json_put_quoted(out, v->s);
	case RV_STRINGS:
		if (json_put(out, "[") == -1)
			return -1;
		for (i = 0; i < v->nstrs; i++)
			if ((i > 0 && json_put(out, ",") == -1) ||
			    json_put_quoted(out, v->strs[i]) == -1)
				return -1;
		return json_put(out, "]");
	case RV_WORKERS:
		/* Never null: PHP's WorkerPool dies on {"workers":null} (Q17). */
		if (json_put(out, "{\"workers\":[") == -1)
			return -1;
		for (i = 0; i < v->nworkers; i++)
			if ((i > 0 && json_put(out, ",") == -1) ||
			    json_put_worker(out, &v->workers[i]) == -1)
				return -1;
		return json_put(out, "]}");
	case RV_NULL:
		return json_put(out, "null");
	}
	errno = EINVAL;
	return -1;
}

/* --- requests ------------------------------------------------------------- */

/* The codec of a request, in the order RR's codec tests the flag bits. */
static uint8_t
rpc_pick_codec(uint8_t flags)
{
	static const uint8_t order[] = { FRAME_CODEC_PROTO, FRAME_CODEC_JSON,
	    FRAME_CODEC_RAW, FRAME_CODEC_MSGPACK, FRAME_CODEC_GOB };

	for (size_t i = 0; i < sizeof(order); i++)
		if (flags & order[i])
			return order[i];
	return FRAME_CODEC_GOB;	/* no codec bit: gob, like the Go client */
}

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
	if (json_put(&srv.s_body, pfx) == -1 ||
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

static const char *
rpc_codec_str(uint8_t codec)
{
	switch (codec) {
	case FRAME_CODEC_PROTO:
		return "proto";
	case FRAME_CODEC_JSON:
		return "json";
	case FRAME_CODEC_RAW:
		return "raw";
	case FRAME_CODEC_MSGPACK:
		return "msgpack";
	}
	return "gob";
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
	uint8_t			 codec = rpc_pick_codec(f->flags);
	size_t			 blen;
	struct rpc_arg		 arg;
	struct rpc_value	 val;
	cJSON			*tree = NULL;
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
	switch (codec) {
	case FRAME_CODEC_JSON:
		rc = json_decode_arg(body, blen, &arg, &tree, err, sizeof(err));
		break;
	case FRAME_CODEC_GOB:
		rc = gob_decode_arg(body, blen, &arg, err, sizeof(err));
		break;
	default:
		/* Our methods take strings and bools, which these cannot carry
		 * (raw wants []byte, proto a message); msgpack RR rejects too. */
		snprintf(err, sizeof(err), "%s codec is not supported",
		    rpc_codec_str(codec));
		rc = -1;
		break;
	}
	if (rc == 0) {
		memset(&val, 0, sizeof(val));
		err[0] = '\0';
		rc = meth->fn(srv.s_ctx, &arg, &val, err, sizeof(err));
		if (rc != 0 && err[0] == '\0')
			snprintf(err, sizeof(err), "%s failed", meth->name);
	}
	if (rc != 0) {
		cJSON_Delete(tree);
		if (json_put(&srv.s_body, err) == -1)
			goto nomem;
		goto error_body;
	}
	/* The tree lives until here: a handler may reply with arg->s. */
	rc = codec == FRAME_CODEC_JSON ? json_encode_value(&srv.s_body, &val) :
	    gob_encode_value(&srv.s_body, &val);
	cJSON_Delete(tree);
	buf_consume(&srv.s_msg, buf_len(&srv.s_msg));
	if (rc == -1 || rpc_reply(c, seq, codec, m, mlen, &srv.s_body) == -1)
		goto nomem;
	return 0;

error_body:
	if (buf_len(&srv.s_body) == 0 || rpc_reply(c, seq, codec | FRAME_ERROR,
	    m, mlen, &srv.s_body) == -1)
		goto nomem;
	return 0;
nomem:
	*why = errno == ENOBUFS ? "reply over the output limit" :
	    "out of memory";
	return -1;
}

/* --- connections ---------------------------------------------------------- */

static void
rpc_conn_free(struct rpc_conn *c)
{
	ev_timer_cancel(srv.s_loop, &c->c_resume);
	ev_del(srv.s_loop, &c->c_io);
	close(c->c_io.fd);
	TAILQ_REMOVE(&srv.s_conns, c, c_link);
	buf_free(&c->c_in);
	buf_free(&c->c_out);
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

/* Writes c_out until done or EAGAIN.  Returns 0, or -1 on a write error. */
static int
rpc_conn_flush(struct rpc_conn *c)
{
	while (buf_len(&c->c_out) > 0) {
		ssize_t n = send(c->c_io.fd, buf_rptr(&c->c_out),
		    buf_len(&c->c_out), MSG_NOSIGNAL);

		if (n > 0)
			buf_consume(&c->c_out, (size_t)n);
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && errno == EAGAIN)
			return 0;	/* EPOLLOUT brings us back */
		else
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
		r = frame_decode(buf_rptr(&c->c_in), buf_len(&c->c_in),
		    RPC_MAX_PAYLOAD, &f, &why);
		if (r == FRAME_NEED_MORE)
			return 1;
		if (r == FRAME_BAD) {
			c->c_failed = why;
			return -1;
		}
		/* net/rpc's codec fails the header: no reply, connection gone. */
		if (f.nopts != 2) {
			c->c_failed = "request frame without 2 options";
			return -1;
		}
		if (rpc_request(c, &f, &why) == -1) {
			c->c_failed = why;
			return -1;
		}
		buf_consume(&c->c_in, (size_t)r);
		(*budget)--;
	}
	return 0;
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
	size_t	 want;
	ssize_t	 n;

	for (;;) {
		rc = c->c_failed != NULL ? -1 : rpc_conn_process(c, &budget);
		if (rpc_conn_flush(c) == -1) {
			if (c->c_failed != NULL)
				rpc_conn_close(c, 1, c->c_failed);
			else
				rpc_conn_close(c, 0, strerror(errno));
			return;
		}
		if (rc == -1) {
			if (buf_len(&c->c_out) == 0)
				rpc_conn_close(c, 1, c->c_failed);
			return;		/* EPOLLOUT finishes the flush */
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
		want = RPC_MAX_INPUT - buf_len(&c->c_in);
		if (want > RPC_READ_CHUNK)
			want = RPC_READ_CHUNK;
		if (want == 0 || buf_reserve(&c->c_in, want, 4096,
		    RPC_MAX_INPUT) == -1) {
			c->c_failed = want == 0 ? "input over the 16 MiB limit" :
			    "out of memory";
			continue;
		}
		n = read(c->c_io.fd, buf_wptr(&c->c_in), want);
		if (n > 0)
			c->c_in.wpos += (size_t)n;
		else if (n == 0) {
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
	if (c->c_eof && buf_len(&c->c_out) == 0)
		rpc_conn_close(c, buf_len(&c->c_in) > 0, buf_len(&c->c_in) > 0 ?
		    "EOF inside a request frame" : "closed by peer");
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

static void
rpc_conn_new(int fd, const struct sockaddr_storage *ss, socklen_t sslen)
{
	struct rpc_conn	*c;
	int		 one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("rpc connection refused", "reason=\"out of memory\"");
		close(fd);
		return;
	}
	c->c_id = ++srv.s_next_id;
	net_format_addr((const struct sockaddr *)ss, sslen, c->c_peer,
	    sizeof(c->c_peer));
	ev_timer_init(&c->c_resume, rpc_on_resume, c);
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
	while (!srv.s_paused) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		int fd = accept4(io->fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			if (errno == EAGAIN)
				return;
			/* EMFILE and friends: retry in a second, never stop
			 * for good (Q16); one log line per pause. */
			log_warn("rpc accept failed, pausing 1s", "error=%s",
			    strerror(errno));
			srv.s_paused = 1;
			ev_timer_arm(loop, &srv.s_pause, 1000);
			return;
		}
		rpc_conn_new(fd, &ss, sslen);
	}
}

/* Splits "tcp://host:port", "host:port" or "[v6]:port"; host may be "". */
static int
rpc_split_hostport(const char *hp, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char	*end, *colon;
	size_t		 hl;

	if (hp[0] == '[') {
		if ((end = strchr(hp, ']')) == NULL || end[1] != ':')
			return -1;
		hp++;
		hl = (size_t)(end - hp);
		colon = end + 1;
	} else {
		if ((colon = strrchr(hp, ':')) == NULL)
			return -1;
		hl = (size_t)(colon - hp);
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen ||
	    colon[1] == '\0')
		return -1;
	memcpy(host, hp, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

/* Returns the host:port part of a tcp address, NULL for other schemes. */
static const char *
rpc_tcp_part(const char *addr)
{
	if (strncmp(addr, "tcp://", 6) == 0)
		return addr + 6;
	if (strstr(addr, "://") != NULL)
		return NULL;
	return addr;
}

static int
rpc_listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct stat		 st;
	int			 fd;

	if (*path == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "rpc: bad unix socket path \"%s\"", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* As RR, a stale socket from an earlier run goes; other files stay
	 * and make bind() fail with a clear error. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		snprintf(err, errlen, "rpc: listen %s: %s", srv.s_addr,
		    strerror(errno));
		if (fd != -1)
			close(fd);
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
	char		 host[256], port[32], why[256];
	int		 fds[RPC_MAX_LISTEN], n;

	if (rpc_split_hostport(hp, host, sizeof(host), port,
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
	const char	*hp;
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
	ev_timer_init(&srv.s_pause, rpc_on_pause_end, NULL);
	if (strncmp(addr, "unix://", 7) == 0)
		rc = rpc_listen_unix(addr + 7, err, errlen);
	else if ((hp = rpc_tcp_part(addr)) != NULL)
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

int
rpc_addr_is_local(const char *addr)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 host[256], port[32];
	const char	*hp;

	if (strncmp(addr, "unix://", 7) == 0)
		return 1;
	if ((hp = rpc_tcp_part(addr)) == NULL ||
	    rpc_split_hostport(hp, host, sizeof(host), port, sizeof(port)) == -1)
		return 0;
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}

/* --- client --------------------------------------------------------------- */

/* PHP's RPC: one counter for the whole process, starting at 1. */
static _Atomic uint32_t rpc_next_seq = 1;

static int64_t
rpc_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline (-1: none).  0 or -1/errno. */
static int
rpc_wait(int fd, short events, int64_t deadline)
{
	struct pollfd	 pfd = { .fd = fd, .events = events };
	int		 left, rc;

	for (;;) {
		left = -1;
		if (deadline >= 0) {
			int64_t d = deadline - rpc_now_ms();
			left = d <= 0 ? 0 : d > 60000 ? 60000 : (int)d;
		}
		rc = poll(&pfd, 1, left);
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return -1;
		if (rc == 0 && deadline >= 0 && rpc_now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

static int
rpc_connect_one(const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	socklen_t	 elen = sizeof(int);
	int		 fd, e = 0;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN)
		goto fail;
	if (rpc_wait(fd, POLLOUT, deadline) == -1)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
		goto fail;
	if (e != 0) {
		errno = e;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Connects to addr within the deadline; -1 with a reason in err. */
static int
rpc_connect(const char *addr, int64_t deadline, char *err, size_t errlen)
{
	struct addrinfo	 hints = { 0 }, *res, *ai;
	char		 host[256], port[32];
	const char	*hp;
	int		 fd = -1, rc;

	if (strncmp(addr, "unix://", 7) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (strlen(addr + 7) >= sizeof(sun.sun_path)) {
			snprintf(err, errlen, "unix socket path too long");
			return -1;
		}
		strcpy(sun.sun_path, addr + 7);
		fd = rpc_connect_one((struct sockaddr *)&sun, sizeof(sun),
		    deadline);
		if (fd == -1)
			snprintf(err, errlen, "connect %s: %s", addr,
			    strerror(errno));
		return fd;
	}
	if ((hp = rpc_tcp_part(addr)) == NULL ||
	    rpc_split_hostport(hp, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		snprintf(err, errlen, "bad RPC address \"%s\"", addr);
		return -1;
	}
	hints.ai_socktype = SOCK_STREAM;
	/* ":6001" means this host, as Go's dialer reads it. */
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "resolve %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	errno = ECONNREFUSED;
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = rpc_connect_one(ai->ai_addr, ai->ai_addrlen, deadline);
	if (fd == -1)
		snprintf(err, errlen, "connect %s: %s", addr, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static int
rpc_write_all(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w == -1 && errno == EAGAIN) {
			if (rpc_wait(fd, POLLOUT, deadline) == -1)
				return -1;
		} else if (w == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* Reads exactly n bytes.  EOF before that fails with ECONNRESET. */
static int
rpc_read_all(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r == 0) {
			errno = ECONNRESET;
			return -1;
		} else if (errno == EAGAIN) {
			if (rpc_wait(fd, POLLIN, deadline) == -1)
				return -1;
		} else if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* Sets *reply to a malloc'd copy of p[0..n) and returns rc. */
static int
rpc_result(char **reply, int rc, const void *p, size_t n)
{
	if ((*reply = malloc(n + 1)) != NULL) {
		memcpy(*reply, p, n);
		(*reply)[n] = '\0';
	}
	return rc;
}

int
rpc_call(const char *addr, const char *method, const char *arg_json,
    char **reply, int timeout_ms)
{
	uint8_t		 hdr[FRAME_HDR_MAX], *req = NULL, *in = NULL;
	size_t		 mlen = strlen(method);
	size_t		 alen = arg_json != NULL ? strlen(arg_json) : 0;
	uint32_t	 seq, opts[2];
	int64_t		 deadline = timeout_ms > 0 ? rpc_now_ms() + timeout_ms : -1;
	struct frame	 f;
	const char	*why = NULL;
	char		 err[512];
	size_t		 hl, have;
	ssize_t		 r;
	int		 fd, rc;

	*reply = NULL;
	if (mlen + alen > RPC_MAX_PAYLOAD) {
		snprintf(err, sizeof(err), "request too large");
		return rpc_result(reply, -1, err, strlen(err));
	}
	if ((fd = rpc_connect(addr, deadline, err, sizeof(err))) == -1)
		return rpc_result(reply, -1, err, strlen(err));

	seq = atomic_fetch_add_explicit(&rpc_next_seq, 1,
	    memory_order_relaxed);
	opts[0] = seq;
	opts[1] = (uint32_t)mlen;
	hl = frame_encode_header(hdr, FRAME_CODEC_JSON, 0, opts, 2,
	    (uint32_t)(mlen + alen));
	if ((req = malloc(hl + mlen + alen)) == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	memcpy(req, hdr, hl);
	memcpy(req + hl, method, mlen);
	if (alen > 0)
		memcpy(req + hl + mlen, arg_json, alen);
	if (rpc_write_all(fd, req, hl + mlen + alen, deadline) == -1) {
		snprintf(err, sizeof(err), "send to %s: %s", addr,
		    strerror(errno));
		goto fail;
	}

	/* The 12 fixed bytes tell the header and payload sizes. */
	if (rpc_read_all(fd, hdr, FRAME_HDR_MIN, deadline) == -1) {
		snprintf(err, sizeof(err), "read reply from %s: %s", addr,
		    strerror(errno));
		goto fail;
	}
	r = frame_decode(hdr, FRAME_HDR_MIN, RPC_MAX_OUTPUT, &f, &why);
	if (r == FRAME_BAD) {
		snprintf(err, sizeof(err), "bad reply frame: %s", why);
		goto fail;
	}
	have = FRAME_HDR_MIN;
	if (r == FRAME_NEED_MORE) {
		if ((in = malloc(f.total)) == NULL) {
			snprintf(err, sizeof(err), "out of memory");
			goto fail;
		}
		memcpy(in, hdr, have);
		if (rpc_read_all(fd, in + have, f.total - have,
		    deadline) == -1) {
			snprintf(err, sizeof(err), "read reply from %s: %s",
			    addr, strerror(errno));
			goto fail;
		}
		r = frame_decode(in, f.total, RPC_MAX_OUTPUT, &f, &why);
	}
	/* PHP's client checks these two and nothing else. */
	if (r < 0 || f.nopts != 2 || f.opts[1] > f.len) {
		snprintf(err, sizeof(err), "bad reply frame: %s", r < 0 ? why :
		    f.nopts != 2 ? "not 2 options" : "method length over "
		    "the payload");
		goto fail;
	}
	if (f.opts[0] != seq) {
		snprintf(err, sizeof(err), "reply seq %u does not match "
		    "request seq %u", f.opts[0], seq);
		goto fail;
	}
	rc = rpc_result(reply, (f.flags & FRAME_ERROR) ? 1 : 0,
	    f.payload + f.opts[1], f.len - f.opts[1]);
	free(req);
	free(in);
	close(fd);
	return rc;
fail:
	free(req);
	free(in);
	close(fd);
	return rpc_result(reply, -1, err, strlen(err));
}
