/*
 * loadgen.c - closed-loop TCP load generator for rrtcp and the echo floor.
 *
 * One thread, one level-triggered epoll set, one read per readiness.
 * Every connection keeps -d messages outstanding: a reply (counted by its
 * delimiter) retires the oldest outstanding message and sends the next one,
 * so the offered load follows the server instead of overrunning it.
 * Replies are matched by delimiter only, so a reply split over several reads
 * and several replies coalesced into one read both count right; the matcher
 * keeps its state across reads.
 *
 * Modes: closed loop (default), churn (-C: connect, [greeting], one message,
 * reply, close) and idle (-I: open -c connections and hold them, for memory
 * measurements).  Errors (connect failures, resets, timeouts, replies of the
 * wrong length) are counted and the connection is re-opened; none is fatal.
 *
 * Output: a few human-readable lines on stderr and one machine-readable
 * "RESULT key=value ..." line on stdout (run.sh parses it).  Latency is kept
 * in a log-linear histogram (32 sub-buckets per power of two, about 3 %
 * resolution), in nanoseconds.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH	1024
#define MAX_DELIM	16
#define MAX_PIDS	64
#define RBUF_LEN	(256 * 1024)
#define CONNECT_WINDOW	256	/* idle mode: connects in flight at once */
#define RETRY_NS	(50 * 1000000ULL)

#define HIST_SUB_BITS	5
#define HIST_SUB	(1 << HIST_SUB_BITS)
#define HIST_LEN	((64 - HIST_SUB_BITS) * HIST_SUB + 2 * HIST_SUB)

enum mode {
	MODE_RUN,		/* closed loop, -d outstanding per connection */
	MODE_CHURN,		/* one message per connection */
	MODE_IDLE		/* hold connections, send nothing */
};

enum conn_state {
	CONN_DOWN,		/* not connected; retry at c_retry_at */
	CONN_CONNECTING,	/* non-blocking connect in progress */
	CONN_GREETING,		/* connected, waiting for the greeting line */
	CONN_RUNNING,		/* sending and counting replies */
	CONN_IDLE		/* idle mode: open, holding */
};

struct conn {
	int		 c_fd;
	int		 c_id;
	enum conn_state	 c_state;
	unsigned	 c_match;	/* delimiter bytes matched so far */
	size_t		 c_rlen;	/* bytes of the current reply so far */
	uint64_t	 c_sent[MAX_DEPTH]; /* send time ring, oldest first */
	unsigned	 c_head;	/* index of the oldest in c_sent */
	unsigned	 c_outstanding;	/* messages sent, reply pending */
	size_t		 c_pend;	/* bytes queued but not yet written */
	size_t		 c_woff;	/* offset of c_pend's start in msg */
	uint64_t	 c_progress;	/* last time anything happened */
	uint64_t	 c_retry_at;	/* CONN_DOWN: when to reconnect */
	uint64_t	 c_start;	/* churn: connect start time */
	uint32_t	 c_events;	/* epoll mask now registered */
};

struct hist {
	uint64_t	 h_count[HIST_LEN];
	uint64_t	 h_n;
	uint64_t	 h_max;
};

struct stats {
	uint64_t	 msgs;		/* replies (run) or connections (churn) */
	uint64_t	 conn_fail;
	uint64_t	 resets;	/* ECONNRESET, EPIPE, unexpected EOF */
	uint64_t	 timeouts;
	uint64_t	 shorts;	/* replies whose length != expected */
	struct hist	 hist;
};

static const char	*opt_host = "127.0.0.1";
static const char	*opt_port = "7000";
static int		 opt_conns = 1;
static unsigned		 opt_depth = 1;
static size_t		 opt_size = 64;
static uint8_t		 opt_delim[MAX_DELIM] = "\r\n";
static size_t		 opt_dlen = 2;
static double		 opt_secs = 3;
static double		 opt_warm = 0;
static int		 opt_greet;
static enum mode	 opt_mode = MODE_RUN;
static uint64_t		 opt_count;	/* -n: stop after this many */
static long		 opt_expect = -1; /* expected reply length, 0 = any */
static const char	*opt_text;	/* -m: message text */
static double		 opt_timeout = 5;
static int		 opt_bind_spread; /* -B: source 127.0.0.1..N */
static int		 opt_quiet;
static pid_t		 opt_pids[MAX_PIDS];
static int		 opt_npids;

static struct sockaddr_storage	 dst;
static socklen_t		 dstlen;
static int			 ep;
static struct conn		*conns;
static uint8_t			*msgbuf;	/* (depth + 1) copies of msg */
static size_t			 msglen;
static unsigned			 kmp[MAX_DELIM];	/* delimiter failure fn */
static struct stats		 st;
static int			 measuring;
static volatile sig_atomic_t	 stop_flag;
static int			 nopen;		/* idle mode: established */
static int			 nconnecting;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen [-gCIq] [-h host] [-p port] [-c conns] [-d depth]\n"
	    "               [-s size] [-m text] [-D delim] [-R replylen]\n"
	    "               [-t secs] [-w secs] [-n count] [-T timeout]\n"
	    "               [-B nsrc] [-P pid,...]\n"
	    "  -s  message size in bytes, delimiter included (default 64)\n"
	    "  -m  send TEXT+delimiter instead of a generated message\n"
	    "  -R  expected reply length; 0 = any (default: the message size,\n"
	    "      or any with -m); a reply of another length counts as short\n"
	    "  -n  stop after COUNT replies (connections with -C)\n"
	    "  -B  spread source addresses over 127.0.0.1..127.0.0.N\n"
	    "  -P  report CPU time of these pids (and their threads)\n");
	exit(2);
}

/*
 * Histogram: values below 2*HIST_SUB map to themselves; above, each power of
 * two is split into HIST_SUB linear sub-buckets.
 */
static unsigned
hist_index(uint64_t v)
{
	unsigned shift;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	shift = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
	return shift * HIST_SUB + (unsigned)(v >> shift);
}

static uint64_t
hist_value(unsigned idx)
{
	unsigned shift;
	uint64_t m;

	if (idx < 2 * HIST_SUB)
		return idx;
	shift = idx / HIST_SUB - 1;
	m = idx - shift * HIST_SUB;
	/* Midpoint of the bucket. */
	return (m << shift) + ((1ULL << shift) >> 1);
}

static void
hist_add(struct hist *h, uint64_t v)
{
	h->h_count[hist_index(v)]++;
	h->h_n++;
	if (v > h->h_max)
		h->h_max = v;
}

static uint64_t
hist_pct(const struct hist *h, double pct)
{
	uint64_t want, seen = 0;
	unsigned i;

	if (h->h_n == 0)
		return 0;
	want = (uint64_t)((double)h->h_n * pct / 100.0 + 0.5);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_LEN; i++) {
		seen += h->h_count[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);
			return v > h->h_max ? h->h_max : v;
		}
	}
	return h->h_max;
}

/* Parses \r \n \t \\ escapes; returns the length. */
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
			case '0': out[n++] = '\0'; break;
			default: out[n++] = (uint8_t)s[1]; break;
			}
			s += 2;
		} else
			out[n++] = (uint8_t)*s++;
	}
	return n;
}

/*
 * KMP failure function, so a delimiter like "\r\r\n" or "abab" is still
 * matched right when a reply contains a prefix of it just before it.
 */
static void
kmp_init(void)
{
	unsigned i, k = 0;

	kmp[0] = 0;
	for (i = 1; i < opt_dlen; i++) {
		while (k > 0 && opt_delim[i] != opt_delim[k])
			k = kmp[k - 1];
		if (opt_delim[i] == opt_delim[k])
			k++;
		kmp[i] = k;
	}
}

static void
msg_init(void)
{
	static const char alpha[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t *one;
	size_t i, j, body;
	unsigned copies = (opt_mode == MODE_RUN ? opt_depth : 1) + 1;

	if (opt_text != NULL) {
		body = strlen(opt_text);
		msglen = body + opt_dlen;
	} else {
		if (opt_size <= opt_dlen) {
			fprintf(stderr, "loadgen: -s must exceed the delimiter\n");
			exit(2);
		}
		msglen = opt_size;
		body = msglen - opt_dlen;
	}
	one = malloc(msglen);
	if (one == NULL)
		exit(1);
	if (opt_text != NULL)
		memcpy(one, opt_text, body);
	else {
		/* Body bytes never contain a delimiter byte. */
		for (i = 0, j = 0; i < body; j++) {
			char ch = alpha[j % (sizeof(alpha) - 1)];
			if (memchr(opt_delim, ch, opt_dlen) == NULL)
				one[i++] = (uint8_t)ch;
		}
	}
	memcpy(one + body, opt_delim, opt_dlen);
	msgbuf = malloc(msglen * copies);
	if (msgbuf == NULL)
		exit(1);
	for (i = 0; i < copies; i++)
		memcpy(msgbuf + i * msglen, one, msglen);
	free(one);
	if (opt_expect < 0)
		opt_expect = opt_text != NULL ? 0 : (long)msglen;
}

static void
resolve(void)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(opt_host, opt_port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "loadgen: %s:%s: %s\n", opt_host, opt_port,
		    gai_strerror(rc));
		exit(2);
	}
	memcpy(&dst, res->ai_addr, res->ai_addrlen);
	dstlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void
conn_down(struct conn *c, uint64_t now, uint64_t delay)
{
	if (c->c_fd >= 0) {
		close(c->c_fd);	/* also removes it from the epoll set */
		if (c->c_state == CONN_CONNECTING)
			nconnecting--;
		if (c->c_state == CONN_IDLE)
			nopen--;
	}
	c->c_fd = -1;
	c->c_state = CONN_DOWN;
	c->c_outstanding = 0;
	c->c_head = 0;
	c->c_pend = 0;
	c->c_woff = 0;
	c->c_match = 0;
	c->c_rlen = 0;
	c->c_retry_at = now + delay;
}

static void
conn_fail(struct conn *c, uint64_t now, uint64_t *counter)
{
	(*counter)++;
	/* Back off only when connecting fails, so a dead port is no spin. */
	conn_down(c, now, counter == &st.conn_fail ? RETRY_NS : 0);
}

static void
conn_open(struct conn *c, uint64_t now)
{
	struct epoll_event ev;
	int fd, one = 1;

	fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		st.conn_fail++;
		c->c_retry_at = now + RETRY_NS;
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt_bind_spread > 1 && dst.ss_family == AF_INET) {
		struct sockaddr_in src;

		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000001 +
		    (uint32_t)(c->c_id % opt_bind_spread));
		/* Port 0 with several source IPs: let connect() pick. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			close(fd);
			st.conn_fail++;
			c->c_retry_at = now + RETRY_NS;
			return;
		}
	}
	c->c_fd = fd;
	c->c_state = CONN_CONNECTING;
	c->c_progress = now;
	c->c_start = now;
	nconnecting++;
	ev.events = c->c_events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror("loadgen: epoll_ctl");
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&dst, dstlen) < 0 &&
	    errno != EINPROGRESS) {
		conn_fail(c, now, &st.conn_fail);
		return;
	}
}

/*
 * Level-triggered, so EPOLLOUT is asked for only while bytes wait; the
 * socket is writable nearly always and would wake every epoll_wait.
 */
static void
conn_want_out(struct conn *c, int on)
{
	struct epoll_event ev;
	uint32_t want = EPOLLIN | (on ? EPOLLOUT : 0);

	if (c->c_events == want)
		return;
	ev.events = c->c_events = want;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->c_fd, &ev);
}

/* Writes what is queued; returns -1 if the connection failed. */
static int
conn_flush(struct conn *c, uint64_t now)
{
	while (c->c_pend > 0) {
		ssize_t n;

		n = write(c->c_fd, msgbuf + c->c_woff, c->c_pend);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				conn_want_out(c, 1);
				return 0;
			}
			conn_fail(c, now, &st.resets);
			return -1;
		}
		c->c_pend -= (size_t)n;
		c->c_woff = (c->c_woff + (size_t)n) % msglen;
	}
	conn_want_out(c, 0);
	return 0;
}

/* Queues k more messages, stamping their send time, and writes them. */
static int
conn_send(struct conn *c, unsigned k, uint64_t now)
{
	unsigned i;

	if (k == 0)
		return 0;
	for (i = 0; i < k; i++) {
		c->c_sent[(c->c_head + c->c_outstanding) % MAX_DEPTH] = now;
		c->c_outstanding++;
	}
	c->c_pend += (size_t)k * msglen;
	return conn_flush(c, now);
}

static unsigned
first_burst(void)
{
	return opt_mode == MODE_RUN ? opt_depth : 1;
}

static void
conn_established(struct conn *c, uint64_t now)
{
	c->c_progress = now;
	nconnecting--;
	if (opt_greet) {
		c->c_state = CONN_GREETING;
		conn_want_out(c, 0);
		return;
	}
	if (opt_mode == MODE_IDLE) {
		c->c_state = CONN_IDLE;
		nopen++;
		conn_want_out(c, 0);
		return;
	}
	c->c_state = CONN_RUNNING;
	conn_send(c, first_burst(), now);
}

/*
 * One complete reply (or the greeting) of len bytes arrived on c.  Returns
 * how many messages to send in answer (sent in one write by the caller), or
 * -1 when the connection was closed here.
 */
static int
conn_reply(struct conn *c, size_t len, uint64_t now)
{
	uint64_t t0;

	if (c->c_state == CONN_GREETING) {
		if (opt_mode == MODE_IDLE) {
			c->c_state = CONN_IDLE;
			nopen++;
			return 0;
		}
		c->c_state = CONN_RUNNING;
		return (int)first_burst();
	}
	if (c->c_state != CONN_RUNNING || c->c_outstanding == 0) {
		/* A reply nobody asked for: count it as bad output. */
		st.shorts++;
		return 0;
	}
	t0 = c->c_sent[c->c_head];
	c->c_head = (c->c_head + 1) % MAX_DEPTH;
	c->c_outstanding--;
	if (opt_expect > 0 && len != (size_t)opt_expect)
		st.shorts++;
	if (measuring) {
		if (opt_mode == MODE_CHURN)
			hist_add(&st.hist, now - c->c_start);
		else
			hist_add(&st.hist, now - t0);
		st.msgs++;
		if (opt_count > 0 && st.msgs >= opt_count)
			stop_flag = 1;
	}
	if (opt_mode == MODE_CHURN) {
		/* Client closes first, like a mail client after QUIT. */
		conn_down(c, now, 0);
		if (!stop_flag)
			conn_open(c, now);
		return -1;
	}
	return stop_flag ? 0 : 1;
}

static uint8_t rbuf[RBUF_LEN];

/*
 * One read per wakeup (level-triggered): a connection whose replies keep
 * coming cannot starve the others, which matters with deep pipelining.
 */
static void
conn_read(struct conn *c)
{
	ssize_t n;
	size_t i;
	uint64_t now;
	unsigned more = 0;

	do
		n = read(c->c_fd, rbuf, sizeof(rbuf));
	while (n < 0 && errno == EINTR);
	now = now_ns();
	if (n == 0) {
		conn_fail(c, now, &st.resets);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN)
			conn_fail(c, now, &st.resets);
		return;
	}
	c->c_progress = now;
	for (i = 0; i < (size_t)n; i++) {
		uint8_t b;

		if (c->c_match == 0) {
			/* Skip to the next possible delimiter start. */
			const uint8_t *p = memchr(rbuf + i, opt_delim[0],
			    (size_t)n - i);

			if (p == NULL) {
				c->c_rlen += (size_t)n - i;
				break;
			}
			c->c_rlen += (size_t)(p - (rbuf + i));
			i = (size_t)(p - rbuf);
		}
		b = rbuf[i];
		c->c_rlen++;
		while (c->c_match > 0 && b != opt_delim[c->c_match])
			c->c_match = kmp[c->c_match - 1];
		if (b == opt_delim[c->c_match])
			c->c_match++;
		if (c->c_match == opt_dlen) {
			size_t len = c->c_rlen;
			int k;

			c->c_match = 0;
			c->c_rlen = 0;
			k = conn_reply(c, len, now);
			if (k < 0)
				return;
			more += (unsigned)k;
		}
	}
	conn_send(c, more, now);
}

static void
conn_event(struct conn *c, uint32_t events)
{
	uint64_t now = now_ns();

	if (c->c_state == CONN_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->c_fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			conn_fail(c, now, &st.conn_fail);
			return;
		}
		conn_established(c, now);
		if (c->c_fd < 0)
			return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		conn_read(c);
		if (c->c_fd < 0)
			return;
	}
	if ((events & EPOLLOUT) && c->c_pend > 0)
		conn_flush(c, now);
}

/* CPU time (ns) of a pid and all its threads, from schedstat. */
static uint64_t
pid_cpu_ns(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	uint64_t sum = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char p2[320];
		FILE *f;
		unsigned long long ns;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat",
		    (int)pid, de->d_name);
		f = fopen(p2, "r");
		if (f == NULL)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static uint64_t
pids_cpu_ns(void)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < opt_npids; i++)
		sum += pid_cpu_ns(opt_pids[i]);
	return sum;
}

/*
 * Busy time of the whole machine (all CPUs, ns), from /proc/stat: minus our
 * processes it shows what else ran during the measurement (other users of a
 * shared box), which explains outliers.
 */
static uint64_t
host_busy_ns(void)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t busy;
	int i;

	if (f == NULL)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8) {
		fclose(f);
		return 0;
	}
	fclose(f);
	busy = 0;
	for (i = 0; i < 8; i++)
		if (i != 3 && i != 4)	/* idle, iowait */
			busy += v[i];
	return busy * (1000000000ULL / (uint64_t)hz);
}

static uint64_t
self_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	    1000000000ULL + (uint64_t)(ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_usec) * 1000ULL;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)opt_conns + 16)
		fprintf(stderr, "loadgen: warning: RLIMIT_NOFILE %llu is below "
		    "%d connections\n", (unsigned long long)rl.rlim_cur,
		    opt_conns);
}

static void
parse_pids(char *s)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(s, ",", &save); tok != NULL && opt_npids < MAX_PIDS;
	    tok = strtok_r(NULL, ",", &save))
		opt_pids[opt_npids++] = (pid_t)atoi(tok);
}

static void
timeouts(uint64_t now)
{
	uint64_t limit = (uint64_t)(opt_timeout * 1e9);
	int i;

	for (i = 0; i < opt_conns; i++) {
		struct conn *c = &conns[i];

		switch (c->c_state) {
		case CONN_DOWN:
			if (!stop_flag && now >= c->c_retry_at &&
			    (opt_mode != MODE_IDLE ||
			    nconnecting < CONNECT_WINDOW))
				conn_open(c, now);
			break;
		case CONN_CONNECTING:
		case CONN_GREETING:
			if (now - c->c_progress > limit)
				conn_fail(c, now, &st.timeouts);
			break;
		case CONN_RUNNING:
			if ((c->c_outstanding > 0 || c->c_pend > 0) &&
			    now - c->c_progress > limit)
				conn_fail(c, now, &st.timeouts);
			break;
		case CONN_IDLE:
			break;
		}
	}
}

static void
print_result(double secs, uint64_t srv_cpu, uint64_t cli_cpu,
    uint64_t host_cpu)
{
	const char *what = opt_mode == MODE_CHURN ? "conns" : "msgs";
	double rate = secs > 0 ? (double)st.msgs / secs : 0;
	uint64_t errors = st.conn_fail + st.resets + st.timeouts + st.shorts;

	if (!opt_quiet) {
		fprintf(stderr, "%s/s %.0f over %.2f s (%llu %s), "
		    "latency us p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f "
		    "max %.1f\n", what, rate, secs, (unsigned long long)st.msgs,
		    what, hist_pct(&st.hist, 50) / 1e3,
		    hist_pct(&st.hist, 90) / 1e3, hist_pct(&st.hist, 99) / 1e3,
		    hist_pct(&st.hist, 99.9) / 1e3, st.hist.h_max / 1e3);
		fprintf(stderr, "errors %llu: connect %llu, reset %llu, "
		    "timeout %llu, short %llu\n", (unsigned long long)errors,
		    (unsigned long long)st.conn_fail,
		    (unsigned long long)st.resets,
		    (unsigned long long)st.timeouts,
		    (unsigned long long)st.shorts);
	}
	/* Churn: msgs counts whole connections (one message each). */
	printf("RESULT mode=%s conns=%d depth=%u size=%zu secs=%.3f msgs=%llu "
	    "msgs_per_s=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f "
	    "max_us=%.1f errors=%llu conn_fail=%llu resets=%llu timeouts=%llu "
	    "short=%llu",
	    opt_mode == MODE_CHURN ? "churn" : "run", opt_conns,
	    opt_mode == MODE_RUN ? opt_depth : 1, msglen, secs,
	    (unsigned long long)st.msgs, rate,
	    hist_pct(&st.hist, 50) / 1e3, hist_pct(&st.hist, 90) / 1e3,
	    hist_pct(&st.hist, 99) / 1e3, hist_pct(&st.hist, 99.9) / 1e3,
	    st.hist.h_max / 1e3, (unsigned long long)errors,
	    (unsigned long long)st.conn_fail, (unsigned long long)st.resets,
	    (unsigned long long)st.timeouts, (unsigned long long)st.shorts);
	if (opt_mode == MODE_CHURN)
		printf(" conns_per_s=%.0f", rate);
	printf(" cli_cpu_pct=%.1f host_cpu_pct=%.1f",
	    secs > 0 ? cli_cpu / secs / 1e7 : 0,
	    secs > 0 ? host_cpu / secs / 1e7 : 0);
	if (opt_npids > 0)
		printf(" srv_cpu_pct=%.1f srv_cpu_us_per_msg=%.2f",
		    secs > 0 ? srv_cpu / secs / 1e7 : 0,
		    st.msgs > 0 ? srv_cpu / 1e3 / (double)st.msgs : 0);
	printf("\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[512];
	uint64_t t_start, t_measure = 0, t_end, t_tick = 0;
	uint64_t srv0 = 0, cli0 = 0, host0 = 0, srv_cpu, cli_cpu, host_cpu;
	int ch, i, announced = 0;
	int have_t = 0;

	while ((ch = getopt(argc, argv, "h:p:c:d:s:D:t:w:gCIn:R:m:T:B:P:q")) !=
	    -1) {
		switch (ch) {
		case 'h': opt_host = optarg; break;
		case 'p': opt_port = optarg; break;
		case 'c': opt_conns = atoi(optarg); break;
		case 'd': opt_depth = (unsigned)atoi(optarg); break;
		case 's': opt_size = (size_t)atol(optarg); break;
		case 'D':
			opt_dlen = unescape(optarg, opt_delim, MAX_DELIM);
			break;
		case 't': opt_secs = atof(optarg); have_t = 1; break;
		case 'w': opt_warm = atof(optarg); break;
		case 'g': opt_greet = 1; break;
		case 'C': opt_mode = MODE_CHURN; break;
		case 'I': opt_mode = MODE_IDLE; break;
		case 'n': opt_count = strtoull(optarg, NULL, 10); break;
		case 'R': opt_expect = atol(optarg); break;
		case 'm': opt_text = optarg; break;
		case 'T': opt_timeout = atof(optarg); break;
		case 'B': opt_bind_spread = atoi(optarg); break;
		case 'P': parse_pids(optarg); break;
		case 'q': opt_quiet = 1; break;
		default: usage();
		}
	}
	if (opt_conns < 1 || opt_depth < 1 || opt_depth > MAX_DEPTH ||
	    opt_dlen == 0 || opt_secs <= 0)
		usage();
	if (opt_count > 0 && !have_t)
		opt_secs = 600;		/* -n alone: the count ends the run */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	raise_nofile();
	resolve();
	kmp_init();
	msg_init();

	ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc((size_t)opt_conns, sizeof(*conns));
	if (ep < 0 || conns == NULL) {
		perror("loadgen");
		return 1;
	}
	t_start = now_ns();
	for (i = 0; i < opt_conns; i++) {
		conns[i].c_fd = -1;
		conns[i].c_id = i;
		conns[i].c_state = CONN_DOWN;
		conns[i].c_retry_at = t_start;
	}
	if (opt_mode != MODE_IDLE && opt_warm <= 0) {
		measuring = 1;
		t_measure = t_start;
		srv0 = pids_cpu_ns();
		cli0 = self_cpu_ns();
		host0 = host_busy_ns();
	}
	t_end = opt_mode == MODE_IDLE ? UINT64_MAX :
	    t_start + (uint64_t)((opt_warm + opt_secs) * 1e9);

	while (!stop_flag) {
		uint64_t now = now_ns();
		int n;

		if (now - t_tick >= 10 * 1000000ULL) {
			timeouts(now);
			t_tick = now;
		}
		if (!measuring && opt_mode != MODE_IDLE &&
		    now >= t_start + (uint64_t)(opt_warm * 1e9)) {
			/*
			 * Warm-up over: measure from here.  Error counters
			 * keep counting; a failure while warming up is real.
			 */
			st.msgs = 0;
			memset(&st.hist, 0, sizeof(st.hist));
			measuring = 1;
			t_measure = now;
			srv0 = pids_cpu_ns();
			cli0 = self_cpu_ns();
			host0 = host_busy_ns();
		}
		if (opt_mode == MODE_IDLE && !announced && nopen == opt_conns) {
			printf("idle %d\n", nopen);
			fflush(stdout);
			announced = 1;
			t_measure = now;
			t_end = now + (uint64_t)(opt_secs * 1e9);
		}
		if (now >= t_end)
			break;
		n = epoll_wait(ep, evs, 512, 10);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("loadgen: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++)
			conn_event(evs[i].data.ptr, evs[i].events);
	}
	t_end = now_ns();
	srv_cpu = pids_cpu_ns() - srv0;
	cli_cpu = self_cpu_ns() - cli0;
	host_cpu = host_busy_ns() - host0;

	if (opt_mode == MODE_IDLE) {
		printf("RESULT mode=idle conns=%d open=%d secs=%.3f "
		    "conn_fail=%llu resets=%llu timeouts=%llu\n", opt_conns,
		    nopen, (t_end - t_measure) / 1e9,
		    (unsigned long long)st.conn_fail,
		    (unsigned long long)st.resets,
		    (unsigned long long)st.timeouts);
		return 0;
	}
	print_result(measuring ? (t_end - t_measure) / 1e9 : 0, srv_cpu,
	    cli_cpu, host_cpu);
	return 0;
}
