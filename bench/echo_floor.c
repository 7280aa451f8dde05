/*
 * echo_floor.c - the floor: a bare edge-triggered epoll line-echo server.
 *
 * No worker hop, no context, no framing: each complete delimited line read
 * from a client is written back to it.  Whatever rrtcp adds on top of this
 * (one pipe round trip to a worker per message, JSON context, goridge frames)
 * is what the benchmark measures.  Complete lines found in one read are echoed
 * with one write; a partial line waits for the rest.
 *
 * Threads: one by default.  With -T N, N threads each own an epoll set and a
 * SO_REUSEPORT listener, so the kernel spreads connections over them and no
 * state is shared.  Logs "msg=ready" on stderr once listening, like rrtcp, so
 * the same runner waits for both.  SIGTERM/SIGINT exit at once.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DELIM	16
#define IN_CAP		(1024 * 1024)	/* longest line accepted */
#define CHUNK		(64 * 1024)
#define READS_PER_WAKE	4	/* then yield to other connections */

struct fconn {
	int		 f_fd;
	uint8_t		*f_in;		/* bytes after the last delimiter */
	size_t		 f_inlen;
	size_t		 f_incap;
	uint8_t		*f_out;		/* echo bytes not yet written */
	size_t		 f_outlen;
	size_t		 f_outpos;
	size_t		 f_outcap;
	int		 f_dead;	/* closed; freed at a safe point */
	int		 f_pending;	/* on the pending list */
	struct fconn	*f_next;	/* pending or dead list link */
};

struct reactor {
	int		 r_ep;
	int		 r_lfd;
	uint8_t		*r_chunk;
	struct fconn	*r_pending;	/* read cap hit: more input may wait */
	struct fconn	*r_dead;	/* closed this iteration */
};

static const char	*opt_host = "127.0.0.1";
static const char	*opt_port = "7000";
static int		 opt_threads = 1;
static uint8_t		 opt_delim[MAX_DELIM] = "\r\n";
static size_t		 opt_dlen = 2;
static const char	*opt_greeting;	/* -g: line sent on connect */

static void
usage(void)
{
	fprintf(stderr, "usage: echo_floor [-h host] [-p port] [-T threads] "
	    "[-D delim] [-g greeting]\n");
	exit(2);
}

static size_t
unescape(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s != '\0' && n < cap) {
		if (s[0] == '\\' && s[1] != '\0') {
			switch (s[1]) {
			case 'r': out[n++] = '\r'; break;
			case 'n': out[n++] = '\n'; break;
			case 't': out[n++] = '\t'; break;
			default: out[n++] = (uint8_t)s[1]; break;
			}
			s += 2;
		} else
			out[n++] = (uint8_t)*s++;
	}
	return n;
}

static int
grow(uint8_t **p, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 256;
	uint8_t *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap);
	if (np == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

static void
fconn_free(struct fconn *c)
{
	free(c->f_in);
	free(c->f_out);
	free(c);
}

/*
 * Closes now, frees later: an event for c may still sit in this epoll_wait
 * batch, and c may be on the pending list (then that list frees it).
 */
static void
fconn_close(struct reactor *r, struct fconn *c)
{
	if (c->f_dead)
		return;
	close(c->f_fd);
	c->f_dead = 1;
	if (!c->f_pending) {
		c->f_next = r->r_dead;
		r->r_dead = c;
	}
}

/* Returns -1 when the connection is gone. */
static int
fconn_flush(struct fconn *c)
{
	while (c->f_outpos < c->f_outlen) {
		ssize_t n;

		n = write(c->f_fd, c->f_out + c->f_outpos,
		    c->f_outlen - c->f_outpos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;	/* EPOLLOUT resumes */
			return -1;
		}
		c->f_outpos += (size_t)n;
	}
	c->f_outpos = c->f_outlen = 0;
	return 0;
}

static int
fconn_queue(struct fconn *c, const uint8_t *p, size_t n)
{
	if (c->f_outlen == 0) {
		/* Nothing pending: write straight from the caller's bytes. */
		while (n > 0) {
			ssize_t w = write(c->f_fd, p, n);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				return -1;
			}
			p += w;
			n -= (size_t)w;
		}
		if (n == 0)
			return 0;
	}
	if (grow(&c->f_out, &c->f_outcap, c->f_outlen + n) < 0)
		return -1;
	memcpy(c->f_out + c->f_outlen, p, n);
	c->f_outlen += n;
	return 0;
}

/* Finds the end of the last complete line in p[0..n), or 0. */
static size_t
last_line_end(const uint8_t *p, size_t n)
{
	size_t i;

	if (n < opt_dlen)
		return 0;
	for (i = n - opt_dlen + 1; i > 0; i--)
		if (memcmp(p + i - 1, opt_delim, opt_dlen) == 0)
			return i - 1 + opt_dlen;
	return 0;
}

/*
 * Edge-triggered: read until EAGAIN, but at most READS_PER_WAKE times, so a
 * client that keeps sending cannot starve the others.  Returns 0 when
 * drained, 1 when the cap was hit (the caller must come back: no new edge
 * will be reported for bytes already there), -1 when the connection is gone.
 */
static int
fconn_read(struct fconn *c, uint8_t *chunk)
{
	int reads;

	for (reads = 0;; reads++) {
		ssize_t n;
		size_t end;

		if (reads == READS_PER_WAKE)
			return 1;
		n = read(c->f_fd, chunk, CHUNK);
		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		if (c->f_inlen == 0) {
			/* Common case: whole lines, no copy. */
			end = last_line_end(chunk, (size_t)n);
			if (end > 0 && fconn_queue(c, chunk, end) < 0)
				return -1;
			if (end < (size_t)n) {
				if (grow(&c->f_in, &c->f_incap,
				    (size_t)n - end) < 0)
					return -1;
				memcpy(c->f_in, chunk + end, (size_t)n - end);
				c->f_inlen = (size_t)n - end;
			}
			continue;
		}
		if (c->f_inlen + (size_t)n > IN_CAP)
			return -1;
		if (grow(&c->f_in, &c->f_incap, c->f_inlen + (size_t)n) < 0)
			return -1;
		memcpy(c->f_in + c->f_inlen, chunk, (size_t)n);
		c->f_inlen += (size_t)n;
		end = last_line_end(c->f_in, c->f_inlen);
		if (end > 0) {
			if (fconn_queue(c, c->f_in, end) < 0)
				return -1;
			memmove(c->f_in, c->f_in + end, c->f_inlen - end);
			c->f_inlen -= end;
		}
	}
}

static int
listen_socket(void)
{
	struct addrinfo hints, *res;
	int fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(opt_host, opt_port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "echo_floor: %s\n", gai_strerror(rc));
		exit(2);
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		perror("echo_floor: socket");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		perror("echo_floor: bind/listen");
		exit(1);
	}
	freeaddrinfo(res);
	return fd;
}

static void
do_accept(int ep, int lfd)
{
	for (;;) {
		struct epoll_event ev;
		struct fconn *c;
		int fd, one = 1;

		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				perror("echo_floor: accept4");
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->f_fd = fd;
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			fconn_free(c);
			continue;
		}
		/* A failed greeting shows up as an error on the next read. */
		if (opt_greeting != NULL)
			(void)fconn_queue(c, (const uint8_t *)opt_greeting,
			    strlen(opt_greeting));
	}
}

static void
reactor_pend(struct reactor *r, struct fconn *c)
{
	if (c->f_pending)
		return;
	c->f_pending = 1;
	c->f_next = r->r_pending;
	r->r_pending = c;
}

static void *
reactor(void *arg)
{
	struct epoll_event evs[256], ev;
	struct reactor r;
	static int lmark;	/* its address tags the listener */
	int i;

	memset(&r, 0, sizeof(r));
	r.r_lfd = (int)(intptr_t)arg;
	r.r_chunk = malloc(CHUNK);
	r.r_ep = epoll_create1(EPOLL_CLOEXEC);
	if (r.r_chunk == NULL || r.r_ep < 0) {
		perror("echo_floor");
		exit(1);
	}
	ev.events = EPOLLIN;
	ev.data.ptr = &lmark;
	epoll_ctl(r.r_ep, EPOLL_CTL_ADD, r.r_lfd, &ev);
	for (;;) {
		struct fconn *c, *next, *taken;
		int n;

		n = epoll_wait(r.r_ep, evs, 256, r.r_pending != NULL ? 0 : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("echo_floor: epoll_wait");
			exit(1);
		}
		taken = r.r_pending;
		r.r_pending = NULL;
		for (i = 0; i < n; i++) {
			uint32_t e = evs[i].events;
			int rc;

			if (evs[i].data.ptr == &lmark) {
				do_accept(r.r_ep, r.r_lfd);
				continue;
			}
			c = evs[i].data.ptr;
			if (c->f_dead)
				continue;
			/* EPOLLERR/HUP are treated as readable: read() reports. */
			if (e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
				rc = fconn_read(c, r.r_chunk);
				if (rc < 0) {
					fconn_close(&r, c);
					continue;
				}
				if (rc > 0)
					reactor_pend(&r, c);
			}
			if ((e & EPOLLOUT) && c->f_outlen > 0 &&
			    fconn_flush(c) < 0)
				fconn_close(&r, c);
		}
		/* Connections that hit the read cap last time go again. */
		for (c = taken; c != NULL; c = next) {
			int rc;

			next = c->f_next;
			c->f_pending = 0;
			if (c->f_dead) {
				fconn_free(c);
				continue;
			}
			rc = fconn_read(c, r.r_chunk);
			if (rc < 0)
				fconn_close(&r, c);
			else if (rc > 0)
				reactor_pend(&r, c);
		}
		for (c = r.r_dead; c != NULL; c = next) {
			next = c->f_next;
			fconn_free(c);
		}
		r.r_dead = NULL;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	pthread_t tid;
	int *lfds;
	int ch, i;
	static char greet[4096];

	while ((ch = getopt(argc, argv, "h:p:T:D:g:")) != -1) {
		switch (ch) {
		case 'h': opt_host = optarg; break;
		case 'p': opt_port = optarg; break;
		case 'T': opt_threads = atoi(optarg); break;
		case 'D':
			opt_dlen = unescape(optarg, opt_delim, MAX_DELIM);
			break;
		case 'g':
			greet[unescape(optarg, (uint8_t *)greet,
			    sizeof(greet) - 1)] = '\0';
			opt_greeting = greet;
			break;
		default: usage();
		}
	}
	if (opt_threads < 1 || opt_dlen == 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/*
	 * Bind every listener before saying ready: a client that connects
	 * right after the ready line must find one, and SO_REUSEPORT spreads
	 * connections only over listeners that exist at SYN time.
	 */
	lfds = calloc((size_t)opt_threads, sizeof(*lfds));
	if (lfds == NULL)
		return 1;
	for (i = 0; i < opt_threads; i++)
		lfds[i] = listen_socket();
	for (i = 1; i < opt_threads; i++)
		pthread_create(&tid, NULL, reactor, (void *)(intptr_t)lfds[i]);
	fprintf(stderr, "level=info msg=ready addr=%s:%s threads=%d\n",
	    opt_host, opt_port, opt_threads);
	reactor((void *)(intptr_t)lfds[0]);
	return 0;
}
