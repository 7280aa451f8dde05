/*
 * fuzz_frame.c - libFuzzer target for frame.c and json.c.
 *
 * Properties, each checked with abort() so the fuzzer and the corpus replay
 * (tests/fuzz/replay.c) both stop on them:
 * - frame_decode() never claims more than it was given, and a prefix of a
 *   good frame always asks for more;
 * - a decoded frame re-encodes to the same header (version 1, byte11 0) and
 *   decode(encode(fields) || payload) gives the fields back;
 * - json_control() returns -1, 0 (with a pid > 0) or 1 on any bytes;
 * - json_quote() stays within JSON_QUOTED_MAX and its output is a JSON
 *   string json_control() accepts.
 * Inputs are copied into exactly sized heap blocks so ASan sees any read past
 * the length a function was given.
 */
#include "frame.h"
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_PAYLOAD	(1 << 16)

static uint8_t *
dup_n(const void *p, size_t n)
{
	uint8_t	*d = malloc(n > 0 ? n : 1);

	if (d == NULL)
		abort();
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

static ssize_t
decode_copy(const uint8_t *p, size_t n, size_t max, struct frame *f)
{
	uint8_t		*d = dup_n(p, n);
	const char	*why = NULL;
	ssize_t		 r;

	r = frame_decode(d, n, max, f, &why);
	if (r == FRAME_BAD && why == NULL)
		abort();
	if (r != FRAME_BAD && r != FRAME_NEED_MORE && (r <= 0 ||
	    (size_t)r > n))
		abort();
	f->payload = NULL;	/* d is gone */
	free(d);
	return r;
}

static void
check_frame(const uint8_t *data, size_t size)
{
	struct frame	 f, g;
	uint8_t		 hdr[FRAME_HDR_MAX], *buf;
	const char	*why = NULL;
	ssize_t		 r, r2;
	size_t		 n, cut[5];
	unsigned	 i;

	r = frame_decode(data, size, MAX_PAYLOAD, &f, &why);
	if (r == FRAME_NEED_MORE || r == FRAME_BAD) {
		if (r == FRAME_BAD && why == NULL)
			abort();
		/* A larger cap can only turn "too long" into a wait. */
		r2 = decode_copy(data, size, SIZE_MAX, &g);
		if (r == FRAME_NEED_MORE && r2 != FRAME_NEED_MORE)
			abort();
		return;
	}
	if (r <= 0 || (size_t)r > size || (size_t)r != f.total ||
	    f.hdr_len != 12 + 4 * (size_t)f.nopts || f.nopts > FRAME_MAX_OPTS ||
	    f.total != f.hdr_len + f.len || f.len > MAX_PAYLOAD ||
	    f.payload != data + f.hdr_len)
		abort();

	/* Prefixes of a good frame need more, never fail or succeed. */
	cut[0] = 1;
	cut[1] = FRAME_HDR_MIN - 1;
	cut[2] = FRAME_HDR_MIN;
	cut[3] = f.hdr_len;
	cut[4] = f.total - 1;
	for (i = 0; i < 5; i++)
		if (cut[i] < f.total &&
		    decode_copy(data, cut[i], MAX_PAYLOAD, &g) != FRAME_NEED_MORE)
			abort();

	n = frame_encode_header(hdr, f.flags, f.byte10, f.opts, f.nopts, f.len);
	if (n != f.hdr_len)
		abort();
	if (f.version == FRAME_VERSION && data[11] == 0 &&
	    memcmp(hdr, data, n) != 0)
		abort();

	buf = malloc(f.total);
	if (buf == NULL)
		abort();
	memcpy(buf, hdr, n);
	memcpy(buf + n, f.payload, f.len);
	r2 = frame_decode(buf, f.total, f.len, &g, &why);
	if (r2 != r || g.version != FRAME_VERSION || g.flags != f.flags ||
	    g.byte10 != f.byte10 || g.nopts != f.nopts || g.len != f.len ||
	    memcmp(g.opts, f.opts, 4 * (size_t)f.nopts) != 0 ||
	    memcmp(g.payload, f.payload, f.len) != 0)
		abort();
	free(buf);
}

static void
check_json(const uint8_t *data, size_t size)
{
	static const char	 pre[] = "{\"x\":";
	static const char	 post[] = ",\"pid\":1}";
	uint8_t			*d = dup_n(data, size);
	char			*out;
	int64_t			 pid = 0;
	size_t			 n;
	int			 r;

	r = json_control((const char *)d, size, &pid);
	if (r < -1 || r > 1 || (r == 0 && pid <= 0))
		abort();

	out = malloc(sizeof(pre) - 1 + JSON_QUOTED_MAX(size) + sizeof(post));
	if (out == NULL)
		abort();
	memcpy(out, pre, sizeof(pre) - 1);
	n = json_quote(out + sizeof(pre) - 1, (const char *)d, size);
	if (n > JSON_QUOTED_MAX(size) || n < 2)
		abort();
	memcpy(out + sizeof(pre) - 1 + n, post, sizeof(post) - 1);
	n += sizeof(pre) - 1 + sizeof(post) - 1;
	pid = 0;
	if (json_control(out, n, &pid) != 0 || pid != 1)
		abort();
	free(out);
	free(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_frame(data, size);
	check_json(data, size);
	/* Worker frames carry JSON in their payload: feed it that way too. */
	if (size > FRAME_HDR_MIN)
		check_json(data + FRAME_HDR_MIN, size - FRAME_HDR_MIN);
	return 0;
}
