/*
 * notify.c - sd_notify without libsystemd: the socket, the datagrams and
 * the watchdog variables (notify.h).
 *
 * The protocol: the service manager binds an AF_UNIX SOCK_DGRAM socket and
 * passes its address in $NOTIFY_SOCKET, a path, or an abstract name when it
 * starts with '@' (the '@' stands for the leading NUL byte).  The service
 * sends newline-separated "KEY=value" assignments, one datagram per state
 * change.  The address is kept and each message goes out with sendto(), as
 * sd_notify does, so a manager that re-creates its socket is still found.
 *
 * What rrtcp sends, and when, is rrtcp.c's business; this file only knows
 * the transport.  Main thread only: the environment is changed at init,
 * before any other thread exists.
 */
#include "notify.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define NOTIFY_MAX	1024	/* the longest datagram rrtcp builds */

static struct {
	int			 fd;		/* -1: notifications off */
	struct sockaddr_un	 addr;
	socklen_t		 addrlen;
	uint64_t		 watchdog_usec;	/* 0: no watchdog */
	int			 warned;	/* a send failure was logged */
} N = { .fd = -1 };

/* A decimal without sign or blanks, no more than max; 0 or -1. */
static int
parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

uint64_t
notify_parse_watchdog(const char *usec, const char *pid, pid_t self)
{
	uint64_t v, p;

	if (parse_decimal(usec, UINT64_MAX, &v) == -1 || v == 0)
		return 0;
	/* The manager names the pid it watches when it may not be us (a
	 * wrapper script that exec'd us is fine: same pid). */
	if (pid != NULL && (parse_decimal(pid, INT_MAX, &p) == -1 ||
	    p != (uint64_t)self))
		return 0;
	return v;
}

/* "@name" is abstract: sun_path starts with NUL and the length counts only
 * the name's bytes.  0, or -1 when the address cannot be one. */
static int
make_addr(const char *s, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(s);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n < 2 || (s[0] != '/' && s[0] != '@') || n >= sizeof(sa->sun_path))
		return -1;
	memcpy(sa->sun_path, s, n);
	if (s[0] == '@') {
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int
notify_init(void)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	char path[sizeof(N.addr.sun_path) + 1] = "", q[LOG_QMAX];
	uint64_t wd;

	notify_close();
	wd = notify_parse_watchdog(getenv("WATCHDOG_USEC"),
	    getenv("WATCHDOG_PID"), getpid());
	if (sock != NULL)
		snprintf(path, sizeof(path), "%s", sock);
	/* Workers are our children: what they would send in our name would
	 * confuse the manager (NotifyAccess=main drops it anyway). */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (sock == NULL)
		return 0;
	if (strlen(sock) >= sizeof(path) ||
	    make_addr(path, &N.addr, &N.addrlen) == -1) {
		log_warn("NOTIFY_SOCKET is not a socket address, not notifying",
		    "path=%s", log_q(q, sizeof(q), path, strlen(path)));
		return -1;
	}
	N.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (N.fd == -1) {
		log_warn("cannot create the notify socket, not notifying",
		    "error=\"%s\"", strerror(errno));
		return -1;
	}
	N.watchdog_usec = wd;
	N.warned = 0;
	return 0;
}

int
notify_enabled(void)
{
	return N.fd != -1;
}

int
notify_send(const char *text)
{
	size_t len = strlen(text);
	ssize_t n;

	if (N.fd == -1)
		return 0;
	do
		n = sendto(N.fd, text, len, MSG_NOSIGNAL,
		    (const struct sockaddr *)&N.addr, N.addrlen);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	/* EAGAIN too: a manager that does not read is not worth waiting
	 * for, and the next state change says all that matters again. */
	if (!N.warned) {
		N.warned = 1;
		log_warn("cannot notify the service manager (logged once)",
		    "error=\"%s\"", n == -1 ? strerror(errno) :
		    "short datagram");
	}
	return -1;
}

int
notify_sendf(const char *fmt, ...)
{
	char text[NOTIFY_MAX];
	va_list ap;
	int n;

	if (N.fd == -1)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -1;
	return notify_send(text);
}

uint64_t
notify_monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
notify_watchdog_usec(void)
{
	return N.fd == -1 ? 0 : N.watchdog_usec;
}

void
notify_close(void)
{
	if (N.fd != -1)
		close(N.fd);
	N.fd = -1;
	N.watchdog_usec = 0;
}
