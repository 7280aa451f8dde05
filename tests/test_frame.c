/*
 * test_frame.c - goridge frame codec: the rrtcp-protocol(7) section 6 vectors
 * byte for byte, partial input, and every way a header can be bad.
 *
 * Every decoder input sits flush against a PROT_NONE page (guard_copy()), so
 * a read past n faults even without ASan.
 */
#include "frame.h"

#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"

#define S(s)	s, sizeof(s) - 1	/* literal and its length, NULs included */


/* Hex with optional blanks to bytes; returns the byte count. */
static size_t
unhex(uint8_t *out, const char *hex)
{
	size_t		 n = 0;
	unsigned	 b;

	while (*hex != '\0') {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		cr_assert(sscanf(hex, "%2x", &b) == 1, "bad hex at %s", hex);
		out[n++] = (uint8_t)b;
		hex += 2;
	}
	return n;
}

static ssize_t
decode_guarded(const void *p, size_t n, size_t max, struct frame *f,
    const char **why)
{
	uint8_t	*g = guard_copy(p, n);
	ssize_t	 r;

	*why = NULL;
	r = frame_decode(g, n, max, f, why);
	/* The payload view must point into the decoded buffer. */
	if (r > 0)
		cr_assert(f->payload == g + f->hdr_len);
	guard_free(g, n);
	f->payload = NULL;	/* gone with the mapping */
	return r;
}

#define V1_CTX	"{\"remote_addr\":\"127.0.0.1:50000\",\"server\":\"smtp\"," \
		"\"uuid\":\"0b7e4a1c-3f2d-4c8e-9a6b-5d1f2e3c4b5a\","
#define UUID_JSON	"\"0b7e4a1c-3f2d-4c8e-9a6b-5d1f2e3c4b5a\""

/*
 * rrtcp-protocol(7) section 6.  The payload is part1 || part2, split where the
 * protocol splits it: at options[0] (ctx, body) for worker frames, at
 * options[1] (method, body) for RPC frames; HL 3 frames have part1 only.
 */
struct vec {
	const char	*name;
	const char	*hdr;		/* header as printed in the spec */
	const char	*full;		/* whole frame when the spec prints it */
	uint8_t		 flags;
	uint8_t		 byte10;
	unsigned	 nopts;
	uint32_t	 opts[2];
	uint32_t	 len;
	uint32_t	 crc;		/* bytes 6..9 read as u32 LE */
	const char	*p1;
	size_t		 p1len;
	const char	*p2;
	size_t		 p2len;
};

static const struct vec vecs[] = {
	{ "V1", "14 00 73 00 00 00 5c ee 0f 50 00 00 73 00 00 00",
	    "1400730000005cee0f500000730000007b2272656d6f74655f61646472223a22"
	    "3132372e302e302e313a3530303030222c22736572766572223a22736d7470222c"
	    "2275756964223a2230623765346131632d336632642d346338652d396136622d35"
	    "6431663265336334623561222c226576656e74223a22434f4e4e4543544544227d",
	    0x00, 0, 1, { 115 }, 115, 0x500fee5c,
	    S(V1_CTX "\"event\":\"CONNECTED\"}"), S("") },
	{ "V1b", "14 00 76 00 00 00 6e 1e d1 67 00 00 6e 00 00 00", NULL,
	    0x00, 0, 1, { 110 }, 118, 0x67d11e6e,
	    S(V1_CTX "\"event\":\"DATA\"}"), S("HELO x\r\n") },
	{ "V2", "14 00 0d 00 00 00 f3 39 ef db 00 00 05 00 00 00",
	    "14 00 0d 00 00 00 f3 39 ef db 00 00 05 00 00 00 57 52 49 54 45 "
	    "32 32 30 20 6f 6b 0d 0a",
	    0x00, 0, 1, { 5 }, 13, 0xdbef39f3, S("WRITE"), S("220 ok\r\n") },
	{ "V3", "14 00 08 00 00 00 c1 c9 31 ec 00 00 08 00 00 00",
	    "14 00 08 00 00 00 c1 c9 31 ec 00 00 08 00 00 00 43 4f 4e 54 49 4e "
	    "55 45",
	    0x00, 0, 1, { 8 }, 8, 0xec31c9c1, S("CONTINUE"), S("") },
	{ "V4a", "13 09 0c 00 00 00 5f 0c 46 73 00 00",
	    "13 09 0c 00 00 00 5f 0c 46 73 00 00 7b 22 70 69 64 22 3a 34 32 30 "
	    "30 7d",
	    FRAME_CONTROL | FRAME_CODEC_JSON, 0, 0, { 0 }, 12, 0x73460c5f,
	    S("{\"pid\":4200}"), S("") },
	{ "V4b", "13 01 0c 00 00 00 9e 47 36 43 00 00",
	    "13 01 0c 00 00 00 9e 47 36 43 00 00 7b 22 70 69 64 22 3a 34 32 34 "
	    "32 7d",
	    FRAME_CONTROL, 0, 0, { 0 }, 12, 0x4336479e,
	    S("{\"pid\":4242}"), S("") },
	{ "V5", "13 09 0d 00 00 00 3a 6b fa cb 00 00",
	    "13 09 0d 00 00 00 3a 6b fa cb 00 00 7b 22 73 74 6f 70 22 3a 74 72 "
	    "75 65 7d",
	    FRAME_CONTROL | FRAME_CODEC_JSON, 0, 0, { 0 }, 13, 0xcbfa6b3a,
	    S("{\"stop\":true}"), S("") },
	{ "V6", "13 40 04 00 00 00 88 1e 11 e3 00 00",
	    "13 40 04 00 00 00 88 1e 11 e3 00 00 62 6f 6f 6d",
	    FRAME_ERROR, 0, 0, { 0 }, 4, 0xe3111e88, S("boom"), S("") },
	{ "V7", "14 00 0d 00 00 00 f3 39 ef db 00 00 0d 00 00 00",
	    "14 00 0d 00 00 00 f3 39 ef db 00 00 0d 00 00 00 7b 22 73 74 6f 70 "
	    "22 3a 74 72 75 65 7d",
	    0x00, 0, 1, { 13 }, 13, 0xdbef39f3, S("{\"stop\":true}"), S("") },
	{ "V8", "14 00 05 00 00 00 1c 11 5b 1e 00 00 05 00 00 00",
	    "14 00 05 00 00 00 1c 11 5b 1e 00 00 05 00 00 00 43 4c 4f 53 45",
	    0x00, 0, 1, { 5 }, 5, 0x1e5b111c, S("CLOSE"), S("") },
	{ "V9", "14 00 0f 00 00 00 78 f1 e6 71 00 00 0a 00 00 00",
	    "14 00 0f 00 00 00 78 f1 e6 71 00 00 0a 00 00 00 57 52 49 54 45 43 "
	    "4c 4f 53 45 62 79 65 0d 0a",
	    0x00, 0, 1, { 10 }, 15, 0x71e6f178, S("WRITECLOSE"), S("bye\r\n") },
	{ "V10", "14 00 0a 00 00 00 4a 01 38 46 01 00 05 00 00 00",
	    "14 00 0a 00 00 00 4a 01 38 46 01 00 05 00 00 00 57 52 49 54 45 70 "
	    "61 72 74 31",
	    0x00, FRAME_STREAM, 1, { 5 }, 10, 0x4638014a,
	    S("WRITE"), S("part1") },
	{ "R1", "15 08 2f 00 00 00 22 c6 f8 2a 00 00 01 00 00 00 09 00 00 00",
	    NULL, FRAME_CODEC_JSON, 0, 2, { 1, 9 }, 47, 0x2af8c622,
	    S("tcp.Close"), S(UUID_JSON) },
	{ "R2", "15 08 0d 00 00 00 97 a1 c3 20 00 00 01 00 00 00 09 00 00 00",
	    "15 08 0d 00 00 00 97 a1 c3 20 00 00 01 00 00 00 09 00 00 00 74 63 "
	    "70 2e 43 6c 6f 73 65 74 72 75 65",
	    FRAME_CODEC_JSON, 0, 2, { 1, 9 }, 13, 0x20c3a197,
	    S("tcp.Close"), S("true") },
	{ "R3", "15 48 1f 00 00 00 ca 66 20 82 00 00 04 00 00 00 0e 00 00 00",
	    NULL, FRAME_CODEC_JSON | FRAME_ERROR, 0, 2, { 4, 14 }, 31,
	    0x822066ca, S("resetter.Reset"), S("no such plugin: x") },
	{ "R4", "15 20 15 00 00 00 22 ba df 44 00 00 05 00 00 00 0e 00 00 00",
	    NULL, FRAME_CODEC_GOB, 0, 2, { 5, 14 }, 21, 0x44dfba22,
	    S("resetter.Reset"), S("\x06\x0c\x00\x03tcp") },
	{ "R5", "15 20 12 00 00 00 9b 82 08 d9 00 00 05 00 00 00 0e 00 00 00",
	    NULL, FRAME_CODEC_GOB, 0, 2, { 5, 14 }, 18, 0xd908829b,
	    S("resetter.Reset"), S("\x03\x02\x00\x01") },
};
#define NVECS	(sizeof(vecs) / sizeof(vecs[0]))

/* Header || payload of a vector, built from its parts. */
static size_t
vec_bytes(const struct vec *v, uint8_t *out)
{
	size_t	 n = unhex(out, v->hdr);

	memcpy(out + n, v->p1, v->p1len);
	memcpy(out + n + v->p1len, v->p2, v->p2len);
	return n + v->p1len + v->p2len;
}

Test(frame, crc32_check_value)
{
	cr_assert_eq(frame_crc32("123456789", 9), 0xcbf43926);
	cr_assert_eq(frame_crc32("", 0), 0);
}

Test(frame, crc32_update_chains)
{
	uint32_t	 c;

	c = frame_crc32_update(0, "1234", 4);
	c = frame_crc32_update(c, "56789", 5);
	cr_assert_eq(c, 0xcbf43926);
}

Test(frame, crc32_matches_bitwise_reference)
{
	uint8_t		 buf[1000];
	uint32_t	 ref = 0xffffffff;
	size_t		 i;
	int		 k;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 3));
	for (i = 0; i < sizeof(buf); i++) {
		ref ^= buf[i];
		for (k = 0; k < 8; k++)
			ref = ref & 1 ? (ref >> 1) ^ 0xedb88320 : ref >> 1;
	}
	cr_assert_eq(frame_crc32(buf, sizeof(buf)), ~ref);
}

Test(frame, crc32_of_v6_header)
{
	static const uint8_t h[] = { 0x13, 0x40, 0x04, 0x00, 0x00, 0x00 };

	cr_assert_eq(frame_crc32(h, sizeof(h)), 0xe3111e88);
}

Test(frame, vectors_parts_add_up)
{
	size_t	 i;

	for (i = 0; i < NVECS; i++) {
		const struct vec *v = &vecs[i];

		cr_assert_eq(v->p1len + v->p2len, v->len, "%s", v->name);
		if (v->nopts > 0)
			cr_assert_eq(v->opts[v->nopts - 1], v->p1len, "%s",
			    v->name);
	}
	/* The context lengths the spec states. */
	cr_assert_eq(vecs[0].p1len, 115);
	cr_assert_eq(vecs[1].p1len, 110);
	cr_assert_eq(vecs[12].p2len, 38);	/* R1: 9 + 38 = 0x2f */
}

Test(frame, vectors_encode_byte_exact)
{
	uint8_t	 hdr[FRAME_HDR_MAX], want[256], got[256], full[256];
	size_t	 i, n, wn, fn;

	for (i = 0; i < NVECS; i++) {
		const struct vec *v = &vecs[i];

		memset(hdr, 0xaa, sizeof(hdr));
		n = frame_encode_header(hdr, v->flags, v->byte10, v->opts,
		    v->nopts, v->len);
		wn = unhex(want, v->hdr);
		cr_assert_eq(n, wn, "%s: header length %zu", v->name, n);
		cr_assert_eq(n, 12 + 4 * v->nopts, "%s", v->name);
		cr_assert(memcmp(hdr, want, n) == 0, "%s: header bytes",
		    v->name);
		cr_assert_eq(hdr[6] | hdr[7] << 8 | hdr[8] << 16 |
		    (uint32_t)hdr[9] << 24, v->crc, "%s: crc", v->name);

		memcpy(got, hdr, n);
		memcpy(got + n, v->p1, v->p1len);
		memcpy(got + n + v->p1len, v->p2, v->p2len);
		n += v->p1len + v->p2len;
		if (v->full != NULL) {
			fn = unhex(full, v->full);
			cr_assert_eq(n, fn, "%s: frame length %zu != %zu",
			    v->name, n, fn);
			cr_assert(memcmp(got, full, n) == 0, "%s: frame bytes",
			    v->name);
		}
	}
}

Test(frame, vectors_v1_is_131_bytes)
{
	uint8_t	 buf[256];

	cr_assert_eq(unhex(buf, vecs[0].full), 131);
}

Test(frame, vectors_decode_fields_and_split)
{
	uint8_t		 buf[256];
	struct frame	 f;
	const char	*why;
	size_t		 i, n;
	unsigned	 k;
	ssize_t		 r;

	for (i = 0; i < NVECS; i++) {
		const struct vec *v = &vecs[i];
		uint8_t *g;

		n = v->full != NULL ? unhex(buf, v->full) : vec_bytes(v, buf);
		g = guard_copy(buf, n);
		why = NULL;
		r = frame_decode(g, n, 1 << 20, &f, &why);
		cr_assert_eq(r, (ssize_t)n, "%s: returned %zd", v->name, r);
		cr_assert_null(why, "%s", v->name);
		cr_assert_eq(f.version, 1, "%s", v->name);
		cr_assert_eq(f.flags, v->flags, "%s", v->name);
		cr_assert_eq(f.byte10, v->byte10, "%s", v->name);
		cr_assert_eq(f.nopts, v->nopts, "%s", v->name);
		for (k = 0; k < v->nopts; k++)
			cr_assert_eq(f.opts[k], v->opts[k], "%s opt %u",
			    v->name, k);
		cr_assert_eq(f.len, v->len, "%s", v->name);
		cr_assert_eq(f.hdr_len, 12 + 4 * v->nopts, "%s", v->name);
		cr_assert_eq(f.total, n, "%s", v->name);
		cr_assert(f.payload == g + f.hdr_len, "%s", v->name);
		cr_assert(memcmp(f.payload, v->p1, v->p1len) == 0,
		    "%s: first part", v->name);
		cr_assert(memcmp(f.payload + v->p1len, v->p2, v->p2len) == 0,
		    "%s: second part", v->name);
		cr_assert_eq(frame_crc32(g, 6), v->crc, "%s", v->name);
		guard_free(g, n);
	}
}

Test(frame, vectors_split_anywhere_need_more)
{
	uint8_t		 buf[256];
	struct frame	 f;
	const char	*why;
	size_t		 i, n, k;
	ssize_t		 r;

	for (i = 0; i < NVECS; i++) {
		const struct vec *v = &vecs[i];

		n = vec_bytes(v, buf);
		for (k = 0; k < n; k++) {
			memset(&f, 0x55, sizeof(f));
			r = decode_guarded(buf, k, 1 << 20, &f, &why);
			cr_assert_eq(r, FRAME_NEED_MORE, "%s: %zu of %zu bytes",
			    v->name, k, n);
			if (k >= FRAME_HDR_MIN) {
				cr_assert_eq(f.total, n, "%s at %zu", v->name,
				    k);
				cr_assert_eq(f.hdr_len, 12 + 4 * v->nopts);
				cr_assert_eq(f.len, v->len);
			} else
				cr_assert_eq(f.total, 0, "%s at %zu", v->name,
				    k);
		}
	}
}

Test(frame, empty_input_needs_more)
{
	struct frame	 f;
	const char	*why;

	cr_assert_eq(decode_guarded("", 0, 1024, &f, &why), FRAME_NEED_MORE);
}

Test(frame, short_header_needs_more)
{
	static const uint8_t v6[] = { 0x13, 0x40, 0x04, 0x00, 0x00, 0x00,
	    0x88, 0x1e, 0x11, 0xe3, 0x00 };
	struct frame	 f;
	const char	*why;

	cr_assert_eq(decode_guarded(v6, sizeof(v6), 1024, &f, &why),
	    FRAME_NEED_MORE);
	cr_assert_null(why);
}

Test(frame, trailing_bytes_are_left_alone)
{
	uint8_t		 buf[256];
	struct frame	 f;
	const char	*why;
	size_t		 n, m;

	n = unhex(buf, vecs[3].full);		/* V3 CONTINUE */
	m = unhex(buf + n, vecs[7].full);	/* V6 error */
	cr_assert_eq(decode_guarded(buf, n + m, 1024, &f, &why), (ssize_t)n);
	cr_assert_eq(decode_guarded(buf + n, m, 1024, &f, &why), (ssize_t)m);
	cr_assert_eq(f.flags, FRAME_ERROR);
}

Test(frame, bad_crc_rejected_with_12_bytes)
{
	uint8_t		 buf[64];
	struct frame	 f;
	const char	*why;
	size_t		 n;

	/* V2 with one CRC bit flipped: rejected before options or payload. */
	n = unhex(buf, vecs[2].full);
	buf[7] ^= 0x01;
	cr_assert_eq(decode_guarded(buf, 12, 1024, &f, &why), FRAME_BAD);
	cr_assert_not_null(why);
	cr_assert_eq(decode_guarded(buf, n, 1024, &f, &why), FRAME_BAD);
}

Test(frame, length_change_breaks_crc)
{
	uint8_t		 buf[64];
	struct frame	 f;
	const char	*why;
	size_t		 n;

	n = unhex(buf, vecs[2].full);
	buf[2] = 0x0c;
	cr_assert_eq(decode_guarded(buf, n, 1024, &f, &why), FRAME_BAD);
}

Test(frame, php_text_on_stdout_rejected)
{
	static const char	 msg[] = "Could not open input file: w.php\n";
	struct frame		 f;
	const char		*why;

	/* 'C' is 0x43: HL 3 passes, the CRC must catch it. */
	cr_assert_eq(decode_guarded(msg, sizeof(msg) - 1, 1 << 20, &f, &why),
	    FRAME_BAD);
}

/* A 12-byte header with byte 0 forced to b0 and a CRC that matches it. */
static void
header_with(uint8_t *out, uint8_t b0, uint32_t len)
{
	uint32_t	 crc;

	frame_encode_header(out, 0, 0, NULL, 0, len);
	out[0] = b0;
	crc = frame_crc32(out, 6);
	out[6] = crc & 0xff;
	out[7] = (crc >> 8) & 0xff;
	out[8] = (crc >> 16) & 0xff;
	out[9] = crc >> 24;
}

Test(frame, header_length_2_rejected)
{
	uint8_t		 buf[64];
	struct frame	 f;
	const char	*why;
	size_t		 k;

	header_with(buf, 0x12, 0);
	for (k = 1; k <= FRAME_HDR_MIN; k++) {
		why = NULL;
		cr_assert_eq(decode_guarded(buf, k, 1024, &f, &why), FRAME_BAD,
		    "%zu bytes", k);
		cr_assert_not_null(why);
	}
	header_with(buf, 0x10, 0);
	cr_assert_eq(decode_guarded(buf, 12, 1024, &f, &why), FRAME_BAD);
}

Test(frame, header_length_14_and_15_rejected)
{
	uint8_t		 buf[64] = { 0 };
	struct frame	 f;
	const char	*why;

	header_with(buf, 0x1e, 0);
	cr_assert_eq(decode_guarded(buf, 12, 1024, &f, &why), FRAME_BAD);
	cr_assert_eq(decode_guarded(buf, 60, 1024, &f, &why), FRAME_BAD);
	cr_assert_not_null(why);
	header_with(buf, 0x1f, 0);
	cr_assert_eq(decode_guarded(buf, 64, 1024, &f, &why), FRAME_BAD);
}

Test(frame, header_length_13_carries_ten_options)
{
	uint32_t	 opts[FRAME_MAX_OPTS], k;
	uint8_t		 buf[FRAME_HDR_MAX + 3];
	struct frame	 f;
	const char	*why;
	size_t		 n;

	for (k = 0; k < FRAME_MAX_OPTS; k++)
		opts[k] = 0x01020304 * (k + 1);
	n = frame_encode_header(buf, FRAME_CODEC_RAW, 0, opts, FRAME_MAX_OPTS,
	    3);
	cr_assert_eq(n, FRAME_HDR_MAX);
	cr_assert_eq(buf[0], 0x1d);
	memcpy(buf + n, "abc", 3);
	cr_assert_eq(decode_guarded(buf, n + 3, 3, &f, &why), (ssize_t)n + 3);
	cr_assert_eq(f.nopts, FRAME_MAX_OPTS);
	for (k = 0; k < FRAME_MAX_OPTS; k++)
		cr_assert_eq(f.opts[k], opts[k]);
}

Test(frame, length_over_cap_rejected)
{
	uint8_t		 buf[64];
	struct frame	 f;
	const char	*why;
	size_t		 n;

	n = unhex(buf, vecs[2].full);	/* len 13 */
	cr_assert_eq(decode_guarded(buf, n, 13, &f, &why), (ssize_t)n);
	cr_assert_eq(decode_guarded(buf, n, 12, &f, &why), FRAME_BAD);
	cr_assert_not_null(why);
	/* Known from the 12 fixed bytes alone. */
	cr_assert_eq(decode_guarded(buf, 12, 12, &f, &why), FRAME_BAD);
}

Test(frame, huge_length_rejected_not_awaited)
{
	uint8_t		 buf[64];
	struct frame	 f;
	const char	*why;

	header_with(buf, 0x13, 0xffffffff);
	cr_assert_eq(decode_guarded(buf, 12, 1 << 20, &f, &why), FRAME_BAD);
	cr_assert_eq(decode_guarded(buf, 12, SIZE_MAX, &f, &why),
	    FRAME_NEED_MORE);
	cr_assert_eq(f.total, 12 + (size_t)0xffffffff);
}

Test(frame, version_2_accepted_and_reported)
{
	uint8_t		 buf[64], *g;
	struct frame	 f;
	const char	*why;

	header_with(buf, 0x23, 4);
	memcpy(buf + 12, "boom", 4);
	g = guard_copy(buf, 16);
	cr_assert_eq(frame_decode(g, 16, 1024, &f, &why), 16);
	cr_assert_eq(f.version, 2);
	cr_assert_eq(f.len, 4);
	cr_assert(memcmp(f.payload, "boom", 4) == 0);
	guard_free(g, 16);
}

Test(frame, reserved_byte11_ignored)
{
	uint8_t		 buf[64];
	struct frame	 f;
	const char	*why;
	size_t		 n;

	n = unhex(buf, vecs[3].full);
	buf[11] = 0xff;
	cr_assert_eq(decode_guarded(buf, n, 1024, &f, &why), (ssize_t)n);
}

Test(frame, pong_encodes_as_spec)
{
	uint8_t		 buf[FRAME_HDR_MAX];
	struct frame	 f;
	const char	*why;

	cr_assert_eq(frame_encode_header(buf, 0, FRAME_PONG, NULL, 0, 0), 12);
	cr_assert_eq(buf[0], 0x13);
	cr_assert_eq(buf[10], FRAME_PONG);
	cr_assert_eq(buf[11], 0);
	cr_assert_eq(decode_guarded(buf, 12, 0, &f, &why), 12);
	cr_assert_eq(f.byte10, FRAME_PONG);
	cr_assert_eq(f.len, 0);
}
