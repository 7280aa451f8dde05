/*
 * test_net.c - peer addresses as Go prints them, uuids, listeners (Q19),
 * unix listeners that replace only a stale socket, the send loop, and
 * accept with its out-of-descriptors refusal, and probing what a listener
 * would meet without keeping it (rrtcp check).
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"

static void
v4(const char *ip, int port, char *out)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };

	inet_pton(AF_INET, ip, &in.sin_addr);
	net_format_addr((struct sockaddr *)&in, sizeof(in), out, NET_ADDRSTRLEN);
}

static void
v6(const char *ip, int port, char *out)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
	    .sin6_port = htons((uint16_t)port) };

	inet_pton(AF_INET6, ip, &in6.sin6_addr);
	net_format_addr((struct sockaddr *)&in6, sizeof(in6), out,
	    NET_ADDRSTRLEN);
}

Test(net, ipv4_is_ip_colon_port)
{
	char out[NET_ADDRSTRLEN];

	v4("127.0.0.1", 50000, out);
	cr_assert_str_eq(out, "127.0.0.1:50000");
}

Test(net, ipv6_in_brackets_rfc5952)
{
	char out[NET_ADDRSTRLEN];

	v6("::1", 50000, out);
	cr_assert_str_eq(out, "[::1]:50000");
	v6("2001:db8:0:0:1:0:0:1", 50000, out);
	cr_assert_str_eq(out, "[2001:db8::1:0:0:1]:50000");
}

Test(net, ipv4_mapped_prints_as_ipv4)
{
	char out[NET_ADDRSTRLEN];

	v6("::ffff:127.0.0.1", 50000, out);
	cr_assert_str_eq(out, "127.0.0.1:50000");
}

Test(net, unix_peer_is_at_sign)
{
	struct sockaddr sa = { .sa_family = AF_UNIX };
	char out[NET_ADDRSTRLEN];

	net_format_addr(&sa, sizeof(sa), out, sizeof(out));
	cr_assert_str_eq(out, "@");
}

Test(net, uuid_is_lowercase_v4_and_unique)
{
	char a[NET_UUIDLEN + 1], b[NET_UUIDLEN + 1];
	regex_t re;

	cr_assert_eq(regcomp(&re, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
	    "[89ab][0-9a-f]{3}-[0-9a-f]{12}$", REG_EXTENDED | REG_NOSUB), 0);
	for (int i = 0; i < 100; i++) {
		net_uuid(a);
		net_uuid(b);
		cr_assert_eq(regexec(&re, a, 0, NULL, 0), 0, "bad uuid %s", a);
		cr_assert_str_neq(a, b);
	}
	regfree(&re);
}

static struct rr_server_conf
server(const char *host, const char *port)
{
	struct rr_server_conf s = { 0 };

	s.name = (char *)(uintptr_t)"t";
	s.addr = (char *)(uintptr_t)"test";
	s.host = (char *)(uintptr_t)host;
	s.port = (char *)(uintptr_t)port;
	return s;
}

Test(net, second_exclusive_listen_on_the_same_address_fails)
{
	struct rr_server_conf s = server("127.0.0.1", "0");
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	char port[16], err[256];
	int fd, fd2, n;

	n = net_listen(&s, 1, 1, &fd, 1, err, sizeof(err));
	cr_assert_eq(n, 1, "%s", err);
	getsockname(fd, (struct sockaddr *)&in, &len);
	snprintf(port, sizeof(port), "%u", ntohs(in.sin_port));
	s = server("127.0.0.1", port);
	/* A reactor's own SO_REUSEPORT copy is fine ... */
	cr_assert_eq(net_listen(&s, 1, 0, &fd2, 1, err, sizeof(err)), 1, "%s",
	    err);
	close(fd2);
	/* ... but a second server (or process) on that address is not (Q19). */
	cr_assert_eq(net_listen(&s, 1, 1, &fd2, 1, err, sizeof(err)), -1);
	cr_assert(strstr(err, "already in use") != NULL, "%s", err);
	close(fd);
}

Test(net, localhost_binds_every_address_it_resolves_to)
{
	struct rr_server_conf s = server("localhost", "0");
	int fds[4], n;
	char err[256];

	/* Q10: RR binds [::1] only; getaddrinfo gives 127.0.0.1 (and ::1). */
	n = net_listen(&s, 1, 0, fds, 4, err, sizeof(err));
	cr_assert_geq(n, 1, "%s", err);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* --- unix listeners ------------------------------------------------------- */

static char upath[108];

static void
unix_path(const char *tag)
{
	snprintf(upath, sizeof(upath), "/tmp/rrtcp-test-net-%s-%d", tag,
	    (int)getpid());
	unlink(upath);
	rmdir(upath);
}

/* Connects to upath; the fd, or -1 with errno. */
static int
unix_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sun.sun_path, upath);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

Test(net_unix, binds_a_new_path_and_accepts)
{
	char err[256];
	int lfd, cfd;

	unix_path("new");
	lfd = net_listen_unix(upath, err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	cr_assert_geq(cfd = unix_connect(), 0, "%s", strerror(errno));
	cr_assert(fcntl(lfd, F_GETFL) & O_NONBLOCK);
	cr_assert(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
	close(cfd);
	close(lfd);
	unlink(upath);
}

Test(net_unix, a_stale_socket_is_replaced)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char err[256];
	int fd, lfd, cfd;

	unix_path("stale");
	/* Bound, never listened on, closed: what a crashed run leaves. */
	strcpy(sun.sun_path, upath);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	cr_assert_eq(unix_connect(), -1);
	cr_assert_eq(errno, ECONNREFUSED);

	lfd = net_listen_unix(upath, err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	cr_assert_geq(cfd = unix_connect(), 0, "%s", strerror(errno));
	close(cfd);
	close(lfd);
	unlink(upath);
}

Test(net_unix, a_live_socket_is_in_use_and_keeps_working)
{
	char err[256];
	int lfd, cfd;

	unix_path("live");
	lfd = net_listen_unix(upath, err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	cr_assert_eq(net_listen_unix(upath, err, sizeof(err)), -1);
	cr_assert(strstr(err, "address already in use") != NULL, "%s", err);
	cr_assert(strstr(err, upath) != NULL, "%s", err);
	/* Still the first listener's socket: not unlinked and re-bound. */
	cr_assert_geq(cfd = unix_connect(), 0, "%s", strerror(errno));
	cr_assert_geq(accept(lfd, NULL, NULL), 0);
	close(cfd);
	close(lfd);
	unlink(upath);
}

Test(net_unix, a_regular_file_is_not_a_socket_and_is_kept)
{
	char err[256], buf[16] = "";
	int fd;

	unix_path("file");
	fd = open(upath, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	cr_assert_eq(write(fd, "precious", 8), 8);
	close(fd);
	cr_assert_eq(net_listen_unix(upath, err, sizeof(err)), -1);
	cr_assert(strstr(err, upath) != NULL, "%s", err);
	cr_assert(strstr(err, "not a socket") != NULL, "%s", err);
	fd = open(upath, O_RDONLY);
	cr_assert_geq(fd, 0, "the file was removed");
	cr_assert_eq(read(fd, buf, sizeof(buf)), 8);
	cr_assert_str_eq(buf, "precious");
	close(fd);
	unlink(upath);
}

Test(net_unix, a_directory_is_not_a_socket_and_is_kept)
{
	struct stat st;
	char err[256];

	unix_path("dir");
	cr_assert_eq(mkdir(upath, 0700), 0);
	cr_assert_eq(net_listen_unix(upath, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not a socket") != NULL, "%s", err);
	cr_assert(strstr(err, "directory") != NULL, "%s", err);
	cr_assert_eq(stat(upath, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	rmdir(upath);
}

Test(net_unix, a_configured_server_goes_through_the_same_checks)
{
	struct rr_server_conf s = server(NULL, NULL);
	char err[256];
	int fd;

	unix_path("conf");
	fd = open(upath, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	close(fd);
	s.is_unix = 1;
	s.path = upath;
	cr_assert_eq(net_listen(&s, 0, 1, &fd, 1, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not a socket") != NULL, "%s", err);
	cr_assert_eq(access(upath, F_OK), 0, "the file was removed");
	unlink(upath);
}

/* --- probing what net_listen would meet ------------------------------------ */

/* Listens on 127.0.0.1, a port the kernel picks; its number in port. */
static int
listening_port(char *port, size_t len)
{
	struct rr_server_conf s = server("127.0.0.1", "0");
	struct sockaddr_in in;
	socklen_t alen = sizeof(in);
	char err[256];
	int fd;

	cr_assert_eq(net_listen(&s, 1, 1, &fd, 1, err, sizeof(err)), 1, "%s",
	    err);
	getsockname(fd, (struct sockaddr *)&in, &alen);
	snprintf(port, len, "%u", ntohs(in.sin_port));
	return fd;
}

Test(net_probe, a_listening_port_is_in_use_and_keeps_working)
{
	struct rr_server_conf s;
	char port[16], err[256] = "";
	int lfd, cfd, afd;
	struct sockaddr_in in = { .sin_family = AF_INET };

	lfd = listening_port(port, sizeof(port));
	s = server("127.0.0.1", port);
	s.addr = (char *)(uintptr_t)"127.0.0.1:the-port";
	cr_assert_eq(net_probe(&s, 1, err, sizeof(err)), NET_PROBE_INUSE);
	cr_assert(strstr(err, "127.0.0.1:the-port") != NULL, "%s", err);
	cr_assert(strstr(err, "already in use") != NULL, "%s", err);
	/* Still the first listener that accepts there. */
	in.sin_port = htons((uint16_t)atoi(port));
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(cfd, (struct sockaddr *)&in, sizeof(in)), 0);
	cr_assert_geq(afd = accept(lfd, NULL, NULL), 0);
	close(afd);
	close(cfd);
	close(lfd);
}

Test(net_probe, a_free_port_is_ok_and_left_free)
{
	struct rr_server_conf s;
	char port[16], err[256];
	int fd;

	/* A port that was just free: probe it, then listen there for real. */
	close(listening_port(port, sizeof(port)));
	s = server("127.0.0.1", port);
	cr_assert_eq(net_probe(&s, 1, err, sizeof(err)), NET_PROBE_OK, "%s",
	    err);
	cr_assert_eq(net_listen(&s, 1, 1, &fd, 1, err, sizeof(err)), 1, "%s",
	    err);
	close(fd);
}

Test(net_probe, without_bind_only_the_name_counts)
{
	struct rr_server_conf s;
	char port[16], err[256];
	int lfd;

	lfd = listening_port(port, sizeof(port));
	s = server("localhost", port);
	cr_assert_eq(net_probe(&s, 0, err, sizeof(err)), NET_PROBE_OK, "%s",
	    err);
	close(lfd);
}

Test(net_probe, an_unresolvable_host_fails_naming_the_address)
{
	struct rr_server_conf s = server("nonexistent.invalid", "1234");
	char err[256] = "";

	s.addr = (char *)(uintptr_t)"nonexistent.invalid:1234";
	/* With or without the bind test: resolving comes first. */
	cr_assert_eq(net_probe(&s, 0, err, sizeof(err)), NET_PROBE_FAIL);
	cr_assert(strstr(err, "resolve nonexistent.invalid:1234") != NULL,
	    "%s", err);
	cr_assert_eq(net_probe(&s, 1, err, sizeof(err)), NET_PROBE_FAIL);
}

static struct rr_server_conf
unix_server(void)
{
	struct rr_server_conf s = server(NULL, NULL);

	s.is_unix = 1;
	s.path = upath;
	return s;
}

Test(net_probe, unix_a_live_socket_is_in_use)
{
	struct rr_server_conf s = unix_server();
	char err[256];
	int lfd;

	unix_path("probe-live");
	lfd = net_listen_unix(upath, err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	cr_assert_eq(net_probe(&s, 1, err, sizeof(err)), NET_PROBE_INUSE);
	cr_assert(strstr(err, upath) != NULL, "%s", err);
	/* Only the bind test looks at the path. */
	cr_assert_eq(net_probe(&s, 0, err, sizeof(err)), NET_PROBE_OK);
	close(lfd);
	unlink(upath);
}

Test(net_probe, unix_a_regular_file_fails_and_is_kept)
{
	struct rr_server_conf s = unix_server();
	char err[256];
	int fd;

	unix_path("probe-file");
	fd = open(upath, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	close(fd);
	cr_assert_eq(net_probe(&s, 1, err, sizeof(err)), NET_PROBE_FAIL);
	cr_assert(strstr(err, "not a socket") != NULL, "%s", err);
	cr_assert_eq(access(upath, F_OK), 0, "the file was removed");
	unlink(upath);
}

Test(net_probe, unix_a_stale_socket_is_ok_and_not_removed)
{
	struct rr_server_conf s = unix_server();
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	char err[256];
	int fd;

	unix_path("probe-stale");
	strcpy(sun.sun_path, upath);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	cr_assert_eq(net_probe(&s, 1, err, sizeof(err)), NET_PROBE_OK, "%s",
	    err);
	cr_assert_eq(lstat(upath, &st), 0, "the stale socket was removed");
	cr_assert(S_ISSOCK(st.st_mode));
	unlink(upath);
}

Test(net_probe, unix_a_missing_path_needs_its_directory_and_stays_missing)
{
	struct rr_server_conf s = unix_server();
	char err[256];

	unix_path("probe-new");
	cr_assert_eq(net_probe(&s, 1, err, sizeof(err)), NET_PROBE_OK, "%s",
	    err);
	cr_assert_eq(access(upath, F_OK), -1, "the probe created the path");
	snprintf(upath, sizeof(upath), "/nonexistent-rrtcp-dir/x.sock");
	cr_assert_eq(net_probe(&s, 1, err, sizeof(err)), NET_PROBE_FAIL);
	cr_assert(strstr(err, "/nonexistent-rrtcp-dir") != NULL, "%s", err);
}

/* --- the send loop -------------------------------------------------------- */

Test(net_send, stops_at_a_full_buffer_without_error)
{
	static uint8_t big[1 << 20], got[1 << 20];
	size_t sent, have = 0;
	int sv[2], err = -1, small = 4096;
	ssize_t r;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	sent = net_send(sv[0], big, sizeof(big), &err);
	cr_assert_eq(err, 0, "%s", strerror(err));
	cr_assert_gt(sent, 0);
	cr_assert_lt(sent, sizeof(big), "a 4 KiB buffer took 1 MiB");
	/* What it counts is what went out, in order. */
	while ((r = read(sv[1], got + have, sizeof(got) - have)) > 0)
		have += (size_t)r;
	cr_assert_eq(have, sent);
	cr_assert_eq(memcmp(got, big, sent), 0);
	/* Room again: the rest goes on from there. */
	sent += net_send(sv[0], big + sent, sizeof(big) - sent, &err);
	cr_assert_eq(err, 0);
	close(sv[0]);
	close(sv[1]);
}

Test(net_send, a_closed_peer_is_epipe_not_sigpipe)
{
	int sv[2], err = 0;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	close(sv[1]);
	/* SIGPIPE is not ignored here: without MSG_NOSIGNAL this dies. */
	cr_assert_eq(net_send(sv[0], "hello", 5, &err), 0);
	cr_assert_eq(err, EPIPE, "%s", strerror(err));
	close(sv[0]);
}

/* --- accept ------------------------------------------------------------- */

/* A non-blocking listener on 127.0.0.1 and a port to connect to. */
static int
tcp_listener(struct sockaddr_in *in)
{
	socklen_t len = sizeof(*in);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)in, sizeof(*in)) == -1 ||
	    listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)in, &len) == -1)
		return -1;
	return fd;
}

static int
tcp_client(const struct sockaddr_in *in)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* Completes as soon as the kernel queues it on the backlog. */
	if (fd != -1 && connect(fd, (const struct sockaddr *)in,
	    sizeof(*in)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

Test(net_accept, gives_nonblocking_cloexec_fds_then_again)
{
	struct sockaddr_storage ss;
	struct sockaddr_in in;
	socklen_t sslen = sizeof(ss);
	int lfd, cfd, fd;

	cr_assert_geq(lfd = tcp_listener(&in), 0);
	cr_assert_eq(net_accept(lfd, &ss, &sslen), NET_ACCEPT_AGAIN);
	cr_assert_geq(cfd = tcp_client(&in), 0);
	sslen = sizeof(ss);
	fd = net_accept(lfd, &ss, &sslen);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(sslen, sizeof(struct sockaddr_in));
	sslen = sizeof(ss);
	cr_assert_eq(net_accept(lfd, &ss, &sslen), NET_ACCEPT_AGAIN);
	close(fd);
	close(cfd);
	close(lfd);
}

/* Does the client see a clean EOF within 2 s?  (Not a hang, not a reset.) */
static int
sees_eof(int cfd)
{
	struct pollfd pfd = { .fd = cfd, .events = POLLIN };
	char b;

	return poll(&pfd, 1, 2000) == 1 && read(cfd, &b, 1) == 0;
}

/*
 * The child of out_of_descriptors_refuses_cleanly: exits 0, or with the
 * number of the check that failed.
 */
static int
emfile_child(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in in;
	struct rlimit rl = { .rlim_cur = 64, .rlim_max = 64 };
	socklen_t sslen;
	int lfd, c1, c2, c3, fd, fill[64], nfill = 0;

	if ((lfd = tcp_listener(&in)) == -1 || net_reserve_spare() == -1)
		return 1;
	if ((c1 = tcp_client(&in)) == -1)
		return 2;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 3;
	while (nfill < 64 && (fd = open("/dev/null", O_RDONLY)) != -1)
		fill[nfill++] = fd;
	if (nfill == 64 || errno != EMFILE)
		return 4;

	/* At the limit: the pending client is refused, not left waiting. */
	sslen = sizeof(ss);
	if (net_accept(lfd, &ss, &sslen) != NET_ACCEPT_PAUSE)
		return 5;
	if (errno != EMFILE)
		return 6;
	if (sslen == 0 || ss.ss_family != AF_INET)
		return 7;
	if (!sees_eof(c1))
		return 8;

	/* The spare was taken back: a second refusal works the same way. */
	close(fill[--nfill]);
	if ((c2 = tcp_client(&in)) == -1)
		return 9;
	sslen = sizeof(ss);
	if (net_accept(lfd, &ss, &sslen) != NET_ACCEPT_PAUSE || errno != EMFILE)
		return 10;
	if (!sees_eof(c2))
		return 11;

	/* With descriptors free again, accepting works again. */
	close(fill[--nfill]);
	close(fill[--nfill]);
	if ((c3 = tcp_client(&in)) == -1)
		return 12;
	sslen = sizeof(ss);
	if ((fd = net_accept(lfd, &ss, &sslen)) < 0)
		return 13;
	return 0;
}

Test(net_accept, out_of_descriptors_refuses_the_client_cleanly,
    .timeout = 20)
{
	int status;
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(emfile_child());
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child died: status %d", status);
	cr_assert_eq(WEXITSTATUS(status), 0, "check %d failed in the child",
	    WEXITSTATUS(status));
}

Test(net_accept, out_of_descriptors_without_a_spare_still_pauses,
    .timeout = 20)
{
	int status;
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct sockaddr_storage ss;
		struct sockaddr_in in;
		struct rlimit rl = { .rlim_cur = 64, .rlim_max = 64 };
		socklen_t sslen = sizeof(ss);
		int lfd = tcp_listener(&in), c = tcp_client(&in), n = 0;

		/* No net_reserve_spare(): the client cannot be refused, but
		 * the caller is still told to pause, and the client stays
		 * queued for when descriptors come back. */
		if (lfd == -1 || c == -1 || setrlimit(RLIMIT_NOFILE, &rl) == -1)
			_exit(1);
		while (n++ < 64 && open("/dev/null", O_RDONLY) != -1)
			;
		if (net_accept(lfd, &ss, &sslen) != NET_ACCEPT_PAUSE ||
		    errno != EMFILE || sslen != 0)
			_exit(2);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child died: status %d", status);
	cr_assert_eq(WEXITSTATUS(status), 0, "check %d failed in the child",
	    WEXITSTATUS(status));
}
