/*
 * rpc_client.c - the small blocking RPC client of rrtcp's own CLI commands
 * (rrtcp workers, rrtcp reset): one JSON call per connection, as PHP's
 * Spiral\Goridge\RPC makes it, with one deadline over connect, send and
 * reply (poll on non-blocking sockets).
 *
 * Shares nothing with the server (rpc.c) but the address syntax and the
 * frame layout.  Safe to call from several threads: the only shared state
 * is the atomic sequence counter.
 */
#include "rpc.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ev.h"
#include "frame.h"
#include "rpc_addr.h"
#include "rpc_codec.h"

/* PHP's RPC: one counter for the whole process, starting at 1. */
static _Atomic uint32_t rpc_next_seq = 1;

/* Waits for events on fd until the deadline (-1: none).  0 or -1/errno. */
static int
rpc_wait(int fd, short events, int64_t deadline)
{
	struct pollfd	 pfd = { .fd = fd, .events = events };
	int		 left, rc;

	for (;;) {
		left = -1;
		if (deadline >= 0) {
			int64_t d = deadline - ev_clock_ms();
			left = d <= 0 ? 0 : d > 60000 ? 60000 : (int)d;
		}
		rc = poll(&pfd, 1, left);
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return -1;
		if (rc == 0 && deadline >= 0 && ev_clock_ms() >= deadline) {
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
	char		 host[RPC_ADDR_HOSTLEN], port[RPC_ADDR_PORTLEN];
	const char	*hp, *path;
	int		 fd = -1, rc;

	if ((path = rpc_addr_unix_path(addr)) != NULL) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (strlen(path) >= sizeof(sun.sun_path)) {
			snprintf(err, errlen, "unix socket path too long");
			return -1;
		}
		strcpy(sun.sun_path, path);
		fd = rpc_connect_one((struct sockaddr *)&sun, sizeof(sun),
		    deadline);
		if (fd == -1)
			snprintf(err, errlen, "connect %s: %s", addr,
			    strerror(errno));
		return fd;
	}
	if ((hp = rpc_addr_tcp_part(addr)) == NULL ||
	    rpc_addr_split_hostport(hp, host, sizeof(host), port,
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
	int64_t		 deadline = timeout_ms > 0 ? ev_clock_ms() + timeout_ms : -1;
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
