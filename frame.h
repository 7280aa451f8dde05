/*
 * frame.h - goridge v1 frames: header encode/decode and CRC-32.
 *
 * Pure functions: no syscalls, no logging, no allocation.  See frame.c for the
 * byte layout and rrtcp-protocol(7) sections 1-2 for the protocol.
 */
#ifndef RRTCP_FRAME_H
#define RRTCP_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FRAME_VERSION		1
#define FRAME_HDR_MIN		12	/* HL 3: no options */
#define FRAME_HDR_MAX		52	/* HL 13: ten options */
#define FRAME_MAX_OPTS		10

/* byte 1: flags */
#define FRAME_CONTROL		0x01
#define FRAME_CODEC_RAW		0x04
#define FRAME_CODEC_JSON	0x08
#define FRAME_CODEC_MSGPACK	0x10
#define FRAME_CODEC_GOB		0x20
#define FRAME_ERROR		0x40
#define FRAME_CODEC_PROTO	0x80

/* byte 10: stream/control bits */
#define FRAME_STREAM		0x01
#define FRAME_STOP		0x02
#define FRAME_PING		0x04
#define FRAME_PONG		0x08

/* frame_decode() outcomes besides a byte count */
#define FRAME_NEED_MORE		(-2)
#define FRAME_BAD		(-1)

struct frame {
	uint8_t		 version;	/* high nibble of byte 0 (not checked) */
	uint8_t		 flags;		/* byte 1 */
	uint8_t		 byte10;	/* stream/control bits */
	uint8_t		 nopts;		/* HL - 3 */
	uint32_t	 opts[FRAME_MAX_OPTS];
	uint32_t	 len;		/* payload length */
	size_t		 hdr_len;	/* 12 + 4 * nopts */
	size_t		 total;		/* hdr_len + len */
	const uint8_t	*payload;	/* view into the caller's buffer */
};

/* CRC-32/ISO-HDLC (zlib, PHP crc32()). frame_crc32_update(0, p, n) == frame_crc32(p, n). */
uint32_t	frame_crc32(const void *p, size_t n);
uint32_t	frame_crc32_update(uint32_t crc, const void *p, size_t n);

/*
 * Writes a header for a frame with the given flags, byte10, options and
 * payload length into out (room for FRAME_HDR_MAX bytes).  nopts <= 10.
 * Returns the header length (12 + 4 * nopts).
 */
size_t		frame_encode_header(uint8_t *out, uint8_t flags, uint8_t byte10,
		    const uint32_t *opts, unsigned nopts, uint32_t payload_len);

/*
 * Decodes one frame at the start of buf[0..n).
 * Returns the frame's total size (> 0) and fills *f (payload points into buf);
 * FRAME_NEED_MORE when more bytes are needed (if the 12 fixed header bytes are
 * present and valid, f->hdr_len, f->len and f->total are filled so the caller
 * can size its buffer); FRAME_BAD with *why set to a static reason when the
 * header is invalid: HL < 3, HL > 13, CRC mismatch, or len > max_payload.
 * The CRC is checked as soon as 12 bytes are present.  Never reads past n.
 */
ssize_t		frame_decode(const uint8_t *buf, size_t n, size_t max_payload,
		    struct frame *f, const char **why);

#endif
