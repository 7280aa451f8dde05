/*
 * net.h - sockets: listeners for a configured server and for a unix path,
 * accepting (with the out-of-descriptors refusal), the send loop, peer
 * address text as Go prints it, and connection uuids.
 */
#ifndef RRTCP_NET_H
#define RRTCP_NET_H

#include <stddef.h>
#include <sys/socket.h>

struct rr_server_conf;

#define NET_ADDRSTRLEN	64	/* "[ipv6%zone]:65535" fits */
#define NET_UUIDLEN	36

/*
 * Opens non-blocking listening sockets for srv: every address getaddrinfo
 * gives for its host (Q10), SO_REUSEPORT so each reactor can bind its own
 * copy when reuseport is set.  Fills fds (up to max) and returns the count,
 * or -1 with a message in err.  srv->host "" is IPv4 any (RR), NULL every
 * address (Go's ":port").  exclusive: check first that nobody else
 * (another process, another server entry) already listens there (Q19).
 */
int	net_listen(const struct rr_server_conf *srv, int reuseport,
	    int exclusive, int *fds, int max, char *err, size_t errlen);

/*
 * What net_listen() would meet on srv, without keeping a listener (rrtcp
 * check, reload): the host resolves, and with bind_too each address can be
 * bound and listened on by a socket without SO_REUSEPORT, closed at once,
 * so a socket already listening there (another process, or a running rrtcp)
 * makes it fail as net_listen's exclusive test does.  A unix path gets
 * net_listen_unix()'s checks (only with bind_too), and nothing is created,
 * replaced or removed: a missing path needs a writable directory.  Returns
 * NET_PROBE_OK, or NET_PROBE_INUSE (somebody accepts there) or
 * NET_PROBE_FAIL (cannot resolve, not a socket, no permission, ...) with a
 * message naming the address in err.
 */
#define NET_PROBE_OK	0
#define NET_PROBE_FAIL	(-1)
#define NET_PROBE_INUSE	(-2)

int	net_probe(const struct rr_server_conf *srv, int bind_too, char *err,
	    size_t errlen);

/*
 * Listens on the unix socket path (non-blocking, CLOEXEC) and returns the
 * fd, or -1 with a message naming the path in err.  Only a stale socket is
 * replaced: when path is a socket nobody accepts on (connect is refused) it
 * is unlinked first; a live one fails with "address already in use"; any
 * other file (regular file, directory, ...) fails with "not a socket" and is
 * never removed.  The caller unlinks the socket when it stops listening.
 */
int	net_listen_unix(const char *path, char *err, size_t errlen);

/*
 * Accepting, with a clean refusal when the process is out of descriptors.
 *
 * net_reserve_spare() opens the one spare descriptor (/dev/null) that
 * net_accept() gives up for a moment when accept4() fails with EMFILE,
 * ENFILE, ENOBUFS or ENOMEM: it closes the spare, accepts the pending
 * client, closes that at once (the client sees EOF rather than hanging in
 * the backlog) and reopens the spare.  Call it once at startup, before any
 * listener; calling it again is harmless.  Returns 0 or -1 with errno.
 *
 * net_accept() accepts one client of listener lfd: the fd (>= 0,
 * non-blocking, CLOEXEC) with its address in *ss / *sslen (set *sslen to
 * sizeof(*ss) first), or
 *   NET_ACCEPT_AGAIN  nothing is pending (EAGAIN);
 *   NET_ACCEPT_PAUSE  accept4() failed with errno other than EAGAIN: out of
 *                     descriptors or memory as above (*sslen > 0 then names
 *                     the client refused, 0 if none could be), or an
 *                     unexpected error (*sslen 0).  errno says which.  The
 *                     caller logs one line and stops accepting on lfd for
 *                     about a second (edge-triggered: then calls again
 *                     until NET_ACCEPT_AGAIN).
 * EINTR, ECONNABORTED and EPROTO (a client gone before we got to it) are
 * retried inside.  Safe from several threads at once: the spare is handed
 * over under a mutex, taken only on the out-of-descriptors path.
 */
#define NET_ACCEPT_AGAIN	(-1)
#define NET_ACCEPT_PAUSE	(-2)

int	net_reserve_spare(void);
int	net_accept(int lfd, struct sockaddr_storage *ss, socklen_t *sslen);

/*
 * Sends p[0..n) on the non-blocking socket fd with MSG_NOSIGNAL until all
 * is sent or the socket would block (EINTR is retried).  Returns the bytes
 * sent; *err is 0 then, or the errno of a real error (EPIPE, ECONNRESET,
 * ...) after which nothing more can be sent.
 */
size_t	net_send(int fd, const void *p, size_t n, int *err);

/* Formats a peer as Go does: "1.2.3.4:5", "[::1]:5", mapped v4 as v4, unix "@". */
void	net_format_addr(const struct sockaddr *sa, socklen_t len,
	    char *out, size_t outlen);

/* Writes a random lowercase v4 uuid (36 chars + NUL) into out. */
void	net_uuid(char out[NET_UUIDLEN + 1]);

#endif
