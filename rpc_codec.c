/*
 * rpc_codec.c - the two codecs of the RPC server (rrtcp-protocol(7) 5.3-5.4):
 * JSON, as PHP's Spiral\Goridge\RPC speaks it, and the fixed gob subset of
 * RoadRunner's rr CLI.  Each decodes a call's argument and encodes a
 * handler's reply value.
 *
 * Pure: no state, no logging, no sockets.  The caller (rpc.c) gives the
 * bytes and the buffers; frames and method lookup stay there.
 */
#include "rpc_codec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json.h"

/* gob's ids for the builtin types (encoding/gob type.go). */
#define GOB_BOOL	1
#define GOB_INT		2
#define GOB_UINT	3
#define GOB_FLOAT	4
#define GOB_BYTES	5
#define GOB_STRING	6

/* --- gob (rrtcp-protocol(7) 5.4) ------------------------------------------------ */

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

/* Appends m to out as one message (length prefix) and empties m. */
static int
gob_flush_msg(struct rr_buf *out, struct rr_buf *m)
{
	size_t	 n = buf_len(m);
	int	 rc;

	rc = gob_put_uint(out, n) == -1 ||
	    buf_append(out, buf_rptr(m), n, RPC_MAX_OUTPUT) == -1;
	buf_consume(m, n);
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

/*
 * Encodes a handler's reply as a complete gob stream into out; m holds the
 * value's message while it is built.
 */
static int
gob_encode_value(struct rr_buf *out, const struct rpc_value *v,
    struct rr_buf *m)
{
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
	return gob_flush_msg(out, m);
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

/* Copies s[0..n) NUL-terminated into scratch as the string argument. */
static int
arg_copy(struct rr_buf *scratch, struct rpc_arg *arg, const uint8_t *s,
    size_t n)
{
	buf_consume(scratch, buf_len(scratch));
	if (buf_reserve(scratch, n + 1, 256, RPC_MAX_INPUT + 1) == -1)
		return -1;
	/* memmove: s may already be scratch's own bytes (a JSON string). */
	memmove(buf_wptr(scratch), s, n);
	buf_wptr(scratch)[n] = '\0';
	arg->s = (const char *)buf_wptr(scratch);
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
gob_decode_arg(const uint8_t *p, size_t n, struct rpc_arg *arg,
    struct rr_buf *scratch, char *err, size_t errlen)
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
		if (arg_copy(scratch, arg, m + mpos, (size_t)u) == -1) {
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
 * Decodes a JSON argument.  A string is copied into scratch, so the cJSON
 * tree lives only here.  null, like an empty body, leaves the argument
 * absent (Go's json.Unmarshal leaves the value zero).
 */
static int
json_decode_arg(const uint8_t *p, size_t n, struct rpc_arg *arg,
    struct rr_buf *scratch, char *err, size_t errlen)
{
	const char	*end = NULL, *s;
	cJSON		*j;
	int		 rc = 0;

	memset(arg, 0, sizeof(*arg));
	if (n == 0)
		return 0;
	/* A NUL-terminated copy: cJSON's length checks are not to be trusted
	 * with bytes right at the end of the input buffer. */
	if (arg_copy(scratch, arg, p, n) == -1) {
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
	if (cJSON_IsNull(j)) {
		cJSON_Delete(j);
		return 0;
	}
	arg->present = 1;
	if (cJSON_IsString(j)) {
		/* The raw text in scratch is no longer needed: reuse it. */
		rc = arg_copy(scratch, arg, (const uint8_t *)j->valuestring,
		    strlen(j->valuestring));
		if (rc == -1)
			snprintf(err, errlen, "json: %s", strerror(errno));
		arg->is_string = 1;
	} else if (cJSON_IsBool(j)) {
		arg->is_bool = 1;
		arg->b = cJSON_IsTrue(j);
	}
	cJSON_Delete(j);
	return rc;
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

/* --- the codec of a request ---------------------------------------------- */

uint8_t
rpc_codec_pick(uint8_t flags)
{
	static const uint8_t order[] = { FRAME_CODEC_PROTO, FRAME_CODEC_JSON,
	    FRAME_CODEC_RAW, FRAME_CODEC_MSGPACK, FRAME_CODEC_GOB };

	for (size_t i = 0; i < sizeof(order); i++)
		if (flags & order[i])
			return order[i];
	return FRAME_CODEC_GOB;	/* no codec bit: gob, like the Go client */
}

const char *
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

int
rpc_codec_decode_arg(uint8_t codec, const uint8_t *p, size_t n,
    struct rpc_arg *arg, struct rr_buf *scratch, char *err, size_t errlen)
{
	switch (codec) {
	case FRAME_CODEC_JSON:
		return json_decode_arg(p, n, arg, scratch, err, errlen);
	case FRAME_CODEC_GOB:
		return gob_decode_arg(p, n, arg, scratch, err, errlen);
	}
	/* Our methods take strings and bools, which these cannot carry (raw
	 * wants []byte, proto a message); msgpack RR rejects too. */
	memset(arg, 0, sizeof(*arg));
	snprintf(err, errlen, "%s codec is not supported",
	    rpc_codec_str(codec));
	return -1;
}

int
rpc_codec_encode_value(uint8_t codec, struct rr_buf *out,
    const struct rpc_value *v, struct rr_buf *scratch)
{
	int	 rc;

	if (codec == FRAME_CODEC_JSON)
		return json_encode_value(out, v);
	rc = gob_encode_value(out, v, scratch);
	buf_consume(scratch, buf_len(scratch));	/* a failure left a part */
	return rc;
}
