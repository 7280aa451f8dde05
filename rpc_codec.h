/*
 * rpc_codec.h - private to the rpc_*.c files: the RPC wire limits shared by
 * the server and the client, the codec a request picks, and the two codecs
 * rrtcp speaks (JSON and the gob subset, rrtcp-protocol(7) 5.3-5.4).
 *
 * The codecs are pure: they read the bytes given, write into the buffers
 * given, keep no state and log nothing.
 */
#ifndef RRTCP_RPC_CODEC_H
#define RRTCP_RPC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "frame.h"
#include "rpc.h"

/* The most rpc.max_frame_size may be (config.h RR_RPC_MAX_FRAME), so the
 * most a codec copies from one request; the client's request cap too. */
#define RPC_MAX_INPUT	(16u << 20)
/* A whole frame always fits in the input buffer. */
#define RPC_MAX_PAYLOAD	(RPC_MAX_INPUT - FRAME_HDR_MAX)
#define RPC_MAX_OUTPUT	(64u << 20)	/* pending replies; over it -> close */

/* The codec of a request's flags, in the order RR's codec tests the bits. */
uint8_t		 rpc_codec_pick(uint8_t flags);

/* "json", "gob", ...: for log lines and error texts. */
const char	*rpc_codec_str(uint8_t codec);

/*
 * Decodes the argument of a call from body p[0..n) in codec (JSON or gob;
 * the others fail with "<codec> codec is not supported").  A string argument
 * is copied, NUL-terminated, into scratch: arg->s stays valid until scratch
 * is next used or freed.  An empty body (and JSON null) leaves the argument
 * absent.  Returns 0, or -1 with the text of the error reply in err.
 */
int		 rpc_codec_decode_arg(uint8_t codec, const uint8_t *p,
		    size_t n, struct rpc_arg *arg, struct rr_buf *scratch,
		    char *err, size_t errlen);

/*
 * Appends v to out as a reply body in codec (JSON or gob), at most
 * RPC_MAX_OUTPUT bytes.  scratch holds one gob message while it is built and
 * is left empty.  Returns 0, or -1 with errno set (ENOBUFS: over the limit).
 */
int		 rpc_codec_encode_value(uint8_t codec, struct rr_buf *out,
		    const struct rpc_value *v, struct rr_buf *scratch);

#endif
