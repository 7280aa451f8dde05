/* test_net.c - peer addresses as Go prints them, uuids, listeners (Q19). */
#include "net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <string.h>
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
