/*
 * net.c - listeners, accepting, the send loop, peer address formatting,
 * uuids.  Functions here return errors and never log: the caller has the
 * context (which listener, which connection).
 *
 * Listening sockets get SO_REUSEADDR, SO_REUSEPORT (one socket per reactor,
 * so the kernel spreads connections and each stays on the reactor that
 * accepted it), TCP_NODELAY is set per accepted socket by the caller.
 *
 * Threading: everything is reentrant but the spare descriptor of
 * net_accept(), which is shared by the whole process and guarded by a mutex.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"

/* Is something already accepting on this address?  (RR-Q19) */
static int
addr_in_use(const struct sockaddr *sa, socklen_t len)
{
	int fd, rc;

	int one = 1;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	/*
	 * Without SO_REUSEPORT, and with SO_REUSEADDR so TIME_WAIT leftovers
	 * do not count, bind fails only when a socket listens there.
	 */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(fd, sa, len) == -1 && errno == EADDRINUSE;
	close(fd);
	return rc;
}

static int
listen_unix(const struct rr_server_conf *srv, int *fds, char *err,
    size_t errlen)
{
	int	 fd;

	if ((fd = net_listen_unix(srv->path, err, errlen)) == -1)
		return -1;
	fds[0] = fd;
	return 1;
}

static const char *
file_kind(mode_t m)
{
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a fifo";
	return "a device";
}

/*
 * Does anybody accept on the unix socket at sun?  1 yes (connected, or its
 * backlog is full), 0 no (refused, or the file went away), -1 with errno
 * when that cannot be told (no permission, ...).
 */
static int
unix_socket_live(const struct sockaddr_un *sun)
{
	int	 fd, rc, e;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
		return 1;
	if (e == ECONNREFUSED || e == ENOENT)
		return 0;
	errno = e;
	return -1;
}

/*
 * What is at the unix socket path now: UNIX_FREE (nothing), UNIX_STALE (a
 * socket nobody accepts on), UNIX_LIVE (a socket somebody accepts on), or
 * UNIX_FAIL with a message in err (bad path, not a socket, cannot tell).
 * Fills *sun.  Touches nothing.
 */
#define UNIX_FREE	0
#define UNIX_STALE	1
#define UNIX_LIVE	2
#define UNIX_FAIL	(-1)

static int
unix_state(const char *path, struct sockaddr_un *sun, char *err,
    size_t errlen)
{
	struct stat	 st;
	int		 live;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (*path == '\0' || strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "listen unix \"%s\": bad socket path "
		    "(empty or longer than %zu bytes)", path,
		    sizeof(sun->sun_path) - 1);
		return UNIX_FAIL;
	}
	strcpy(sun->sun_path, path);
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return UNIX_FREE;
		snprintf(err, errlen, "listen unix %s: %s", path,
		    strerror(errno));
		return UNIX_FAIL;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "listen unix %s: not a socket (it is %s; "
		    "not removed)", path, file_kind(st.st_mode));
		return UNIX_FAIL;
	}
	if ((live = unix_socket_live(sun)) == 1) {
		snprintf(err, errlen, "listen unix %s: address already in use",
		    path);
		return UNIX_LIVE;
	}
	if (live == -1) {
		snprintf(err, errlen, "listen unix %s: stale socket: %s", path,
		    strerror(errno));
		return UNIX_FAIL;
	}
	return UNIX_STALE;
}

int
net_listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	int			 fd;

	/*
	 * As RR, a stale socket from an earlier run goes.  But only a stale
	 * one: unlinking a live socket would steal another server's address,
	 * and anything that is not a socket is somebody's file.
	 */
	switch (unix_state(path, &sun, err, errlen)) {
	case UNIX_FAIL:
	case UNIX_LIVE:
		return -1;
	case UNIX_STALE:
		if (unlink(path) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "listen unix %s: stale socket: "
			    "%s", path, strerror(errno));
			return -1;
		}
		break;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		/* EADDRINUSE here: another process bound it since lstat. */
		snprintf(err, errlen, "listen unix %s: %s", path,
		    errno == EADDRINUSE ? "address already in use" :
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* --- accepting ------------------------------------------------------------ */

/*
 * The spare descriptor (see net.h).  Only the out-of-descriptors path takes
 * the mutex, so a busy accept loop never contends on it.
 */
static pthread_mutex_t	 spare_mtx = PTHREAD_MUTEX_INITIALIZER;
static int		 spare_fd = -1;	/* /dev/null; -1 while handed over */

/* With spare_mtx held. */
static int
spare_open(void)
{
	if (spare_fd == -1)
		spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return spare_fd == -1 ? -1 : 0;
}

int
net_reserve_spare(void)
{
	int	 rc;

	pthread_mutex_lock(&spare_mtx);
	rc = spare_open();
	pthread_mutex_unlock(&spare_mtx);
	return rc;
}

/*
 * Out of descriptors: frees the spare's slot for one accept4(), closes the
 * client it gives at once and takes the slot back.  Another thread may win
 * the freed slot first; then the spare stays closed until the next call
 * here finds a slot for it, and this client waits for the next pause end.
 */
static void
refuse_one(int lfd, struct sockaddr_storage *ss, socklen_t *sslen,
    socklen_t cap)
{
	int	 fd;

	pthread_mutex_lock(&spare_mtx);
	if (spare_fd == -1 && spare_open() == -1)
		goto out;
	close(spare_fd);
	spare_fd = -1;
	do {
		*sslen = cap;
		fd = accept4(lfd, (struct sockaddr *)ss, sslen, SOCK_CLOEXEC);
	} while (fd == -1 && (errno == EINTR || errno == ECONNABORTED ||
	    errno == EPROTO));
	if (fd >= 0)
		close(fd);
	else
		*sslen = 0;
	spare_open();
out:
	pthread_mutex_unlock(&spare_mtx);
}

int
net_accept(int lfd, struct sockaddr_storage *ss, socklen_t *sslen)
{
	socklen_t	 cap = *sslen;
	int		 fd, e;

	for (;;) {
		*sslen = cap;
		fd = accept4(lfd, (struct sockaddr *)ss, sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NET_ACCEPT_AGAIN;
		/* A client that reset before we got to it: take the next. */
		if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO)
			break;
	}
	e = errno;
	*sslen = 0;
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
		refuse_one(lfd, ss, sslen, cap);
	errno = e;
	return NET_ACCEPT_PAUSE;
}

/* --- sending -------------------------------------------------------------- */

size_t
net_send(int fd, const void *p, size_t n, int *err)
{
	const uint8_t	*b = p;
	size_t		 sent = 0;
	ssize_t		 w;

	*err = 0;
	while (sent < n) {
		w = send(fd, b + sent, n - sent, MSG_NOSIGNAL);
		if (w > 0)
			sent += (size_t)w;
		else if (w == -1 && errno == EINTR)
			continue;
		else if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else {
			/* A stream socket never sends 0 of n > 0 bytes. */
			*err = w == -1 ? errno : EIO;
			break;
		}
	}
	return sent;
}

/* --- listeners for a configured server ------------------------------------ */

/* getaddrinfo for srv, as net_listen binds it; 0, or -1 with err set. */
static int
resolve(const struct rr_server_conf *srv, struct addrinfo **res, char *err,
    size_t errlen)
{
	struct addrinfo hints = { 0 };
	const char *host;
	int rc;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	/* RR: an empty host means IPv4 any; NULL (the RPC listener, like Go's
	 * ":6001") every address. */
	host = srv->host == NULL ? NULL : srv->host[0] ? srv->host : "0.0.0.0";
	if ((rc = getaddrinfo(host, srv->port, &hints, res)) != 0) {
		snprintf(err, errlen, "resolve %s: %s", srv->addr,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	return 0;
}

/* Does an earlier entry of res carry the same address as ai? */
static int
resolved_twice(const struct addrinfo *res, const struct addrinfo *ai)
{
	for (const struct addrinfo *p = res; p != ai; p = p->ai_next)
		if (p->ai_addrlen == ai->ai_addrlen &&
		    memcmp(p->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0)
			return 1;
	return 0;
}

/*
 * A stream socket for ai with the options net_listen sets, SO_REUSEPORT
 * only when reuseport is set; -1 with errno.
 */
static int
listen_socket(const struct addrinfo *res, const struct addrinfo *ai,
    int reuseport)
{
	int fd, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ai->ai_family == AF_INET6) {
		/* Bind both families when the name gave both. */
		int v6only = 0;
		for (const struct addrinfo *p = res; p; p = p->ai_next)
			if (p->ai_family == AF_INET)
				v6only = 1;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only));
	}
	return fd;
}

int
net_listen(const struct rr_server_conf *srv, int reuseport, int exclusive,
    int *fds, int max, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int n = 0;

	if (srv->is_unix)
		return max > 0 ? listen_unix(srv, fds, err, errlen) : 0;
	if (resolve(srv, &res, err, errlen) == -1)
		return -1;
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		int fd;

		if (resolved_twice(res, ai))
			continue;
		if (exclusive && addr_in_use(ai->ai_addr, ai->ai_addrlen)) {
			snprintf(err, errlen, "listen %s: address already in use",
			    srv->addr);
			goto fail;
		}
		if ((fd = listen_socket(res, ai, reuseport)) == -1)
			goto syserr;
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, SOMAXCONN) == -1) {
			close(fd);
			goto syserr;
		}
		fds[n++] = fd;
	}
	freeaddrinfo(res);
	return n;
syserr:
	snprintf(err, errlen, "listen %s: %s", srv->addr, strerror(errno));
fail:
	freeaddrinfo(res);
	while (n > 0)
		close(fds[--n]);
	return -1;
}

/*
 * The unix half of net_probe: what net_listen_unix would meet, without
 * creating, replacing or removing anything.  A missing path needs a
 * directory we may create it in.
 */
static int
probe_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)], *slash;

	switch (unix_state(path, &sun, err, errlen)) {
	case UNIX_FAIL:
		return NET_PROBE_FAIL;
	case UNIX_LIVE:
		return NET_PROBE_INUSE;
	case UNIX_STALE:
		return NET_PROBE_OK;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "listen unix %s: %s: %s", path, dir,
		    strerror(errno));
		return NET_PROBE_FAIL;
	}
	return NET_PROBE_OK;
}

int
net_probe(const struct rr_server_conf *srv, int bind_too, char *err,
    size_t errlen)
{
	struct addrinfo *res, *ai;
	int rc = NET_PROBE_OK, e;

	if (srv->is_unix)
		return bind_too ? probe_unix(srv->path, err, errlen) :
		    NET_PROBE_OK;
	if (resolve(srv, &res, err, errlen) == -1)
		return NET_PROBE_FAIL;
	for (ai = res; bind_too && ai != NULL; ai = ai->ai_next) {
		int fd;

		if (resolved_twice(res, ai))
			continue;
		/*
		 * Without SO_REUSEPORT, as net_listen's exclusive test: a
		 * socket that listens there (ours or not) makes bind fail.
		 * listen() too, since two SO_REUSEADDR sockets may both bind
		 * a port while neither listens; closed at once, so no client
		 * can be left in our backlog for long.
		 */
		if ((fd = listen_socket(res, ai, 0)) != -1 &&
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1) == 0) {
			close(fd);
			continue;
		}
		e = errno;
		if (fd != -1)
			close(fd);
		rc = e == EADDRINUSE ? NET_PROBE_INUSE : NET_PROBE_FAIL;
		snprintf(err, errlen, "listen %s: %s", srv->addr,
		    e == EADDRINUSE ? "address already in use" : strerror(e));
		break;
	}
	freeaddrinfo(res);
	return rc;
}

void
net_format_addr(const struct sockaddr *sa, socklen_t len, char *out,
    size_t outlen)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, outlen, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		char zone[IF_NAMESIZE + 2] = "";

		/* Go prints an IPv4-mapped address as plain IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip,
			    sizeof(ip));
			snprintf(out, outlen, "%s:%u", ip,
			    ntohs(in6->sin6_port));
			return;
		}
		/* glibc's inet_ntop follows RFC 5952, as Go does. */
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		if (in6->sin6_scope_id != 0 &&
		    IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) {
			char name[IF_NAMESIZE];
			if (if_indextoname(in6->sin6_scope_id, name) != NULL)
				snprintf(zone, sizeof(zone), "%%%s", name);
			else
				snprintf(zone, sizeof(zone), "%%%u",
				    in6->sin6_scope_id);
		}
		snprintf(out, outlen, "[%s%s]:%u", ip, zone,
		    ntohs(in6->sin6_port));
	} else
		snprintf(out, outlen, "@");
	(void)len;
}

/* Per-thread pool of random bytes: one getrandom() per 16 uuids. */
static __thread uint8_t rnd[256];
static __thread size_t rnd_pos = sizeof(rnd);

void
net_uuid(char out[NET_UUIDLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t u[16];
	size_t o = 0;

	if (rnd_pos + 16 > sizeof(rnd)) {
		size_t got = 0;
		while (got < sizeof(rnd)) {
			ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);
			if (r > 0)
				got += (size_t)r;
			else if (r == -1 && errno != EINTR)
				break;
		}
		rnd_pos = 0;
	}
	memcpy(u, rnd + rnd_pos, 16);
	rnd_pos += 16;
	u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = '\0';
}
