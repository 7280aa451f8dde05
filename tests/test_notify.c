/*
 * test_notify.c - notify.c against real datagram sockets: one bound to a
 * path in a temp dir and one abstract, standing in for the service manager.
 * Criterion runs each test in its own process, so the module's state and
 * the environment start fresh every time.
 */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

struct manager {
	int	fd;
	char	dir[64];
	char	name[128];	/* what NOTIFY_SOCKET says */
};

static void
bind_path(struct manager *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(m->dir, sizeof(m->dir), "/tmp/rrtcp-notify-XXXXXX");
	cr_assert_not_null(mkdtemp(m->dir));
	snprintf(m->name, sizeof(m->name), "%s/notify", m->dir);
	cr_assert_lt(strlen(m->name), sizeof(sa.sun_path));
	memcpy(sa.sun_path, m->name, strlen(m->name) + 1);
	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(m->fd, 0);
	cr_assert_eq(bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
	    "bind %s: %s", m->name, strerror(errno));
}

/* Bound with the exact length of the name, as systemd does: an address
 * padded with NULs would be another abstract name. */
static void
bind_abstract(struct manager *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;

	m->dir[0] = '\0';
	snprintf(m->name, sizeof(m->name), "@rrtcp-test-notify-%d-%ld",
	    (int)getpid(), (long)time(NULL));
	n = strlen(m->name);
	memcpy(sa.sun_path + 1, m->name + 1, n - 1);
	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(m->fd, 0);
	cr_assert_eq(bind(m->fd, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0,
	    "bind %s: %s", m->name, strerror(errno));
}

static void
drop(struct manager *m)
{
	close(m->fd);
	if (m->dir[0] != '\0') {
		unlink(m->name);
		rmdir(m->dir);
	}
}

/* The next datagram, waiting at most a second; its length. */
static ssize_t
receive(struct manager *m, char *buf, size_t size)
{
	struct timeval tv = { 1, 0 };

	setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return recv(m->fd, buf, size, 0);
}

static void
expect_datagram(struct manager *m, const char *want)
{
	char buf[2048];
	ssize_t n = receive(m, buf, sizeof(buf));

	cr_assert_eq(n, (ssize_t)strlen(want), "got %zd bytes, want %zu",
	    n, strlen(want));
	cr_assert_eq(memcmp(buf, want, (size_t)n), 0, "got \"%.*s\"", (int)n,
	    buf);
}

Test(notify, a_path_socket_gets_each_message_byte_for_byte)
{
	struct manager m;

	bind_path(&m);
	setenv("NOTIFY_SOCKET", m.name, 1);
	cr_assert_eq(notify_init(), 0);
	cr_assert(notify_enabled());
	cr_assert_eq(notify_send("READY=1\nSTATUS=Serving: 0 connections"), 0);
	cr_assert_eq(notify_send("WATCHDOG=1"), 0);
	cr_assert_eq(notify_sendf("RELOADING=1\nMONOTONIC_USEC=%llu", 42ULL),
	    0);
	expect_datagram(&m, "READY=1\nSTATUS=Serving: 0 connections");
	expect_datagram(&m, "WATCHDOG=1");
	expect_datagram(&m, "RELOADING=1\nMONOTONIC_USEC=42");
	notify_close();
	drop(&m);
}

Test(notify, an_abstract_socket_is_named_with_an_at_sign)
{
	struct manager m;

	bind_abstract(&m);
	setenv("NOTIFY_SOCKET", m.name, 1);
	cr_assert_eq(notify_init(), 0);
	cr_assert_eq(notify_send("STOPPING=1"), 0);
	expect_datagram(&m, "STOPPING=1");
	drop(&m);
}

Test(notify, the_variables_are_gone_from_the_environment)
{
	struct manager m;
	char pid[32];

	bind_path(&m);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("NOTIFY_SOCKET", m.name, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	cr_assert_eq(notify_init(), 0);
	cr_assert_null(getenv("NOTIFY_SOCKET"));
	cr_assert_null(getenv("WATCHDOG_USEC"));
	cr_assert_null(getenv("WATCHDOG_PID"));
	/* read before they went */
	cr_assert_eq(notify_watchdog_usec(), 200000);
	cr_assert_eq(notify_send("READY=1"), 0);
	expect_datagram(&m, "READY=1");
	drop(&m);
}

Test(notify, without_a_socket_nothing_is_sent_and_no_watchdog)
{
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "200000", 1);
	cr_assert_eq(notify_init(), 0);
	cr_assert_not(notify_enabled());
	cr_assert_eq(notify_send("READY=1"), 0);
	cr_assert_eq(notify_watchdog_usec(), 0);
	cr_assert_null(getenv("WATCHDOG_USEC"));
}

Test(notify, an_address_that_is_no_socket_turns_notifying_off)
{
	const char *bad[] = { "relative/notify", "@", "x", "" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("NOTIFY_SOCKET", bad[i], 1);
		cr_assert_eq(notify_init(), -1, "NOTIFY_SOCKET=\"%s\"", bad[i]);
		cr_assert_not(notify_enabled());
		cr_assert_null(getenv("NOTIFY_SOCKET"));
	}
}

Test(notify, a_manager_that_went_away_is_an_error_not_a_crash)
{
	struct manager m;

	bind_path(&m);
	setenv("NOTIFY_SOCKET", m.name, 1);
	cr_assert_eq(notify_init(), 0);
	drop(&m);
	cr_assert_eq(notify_send("READY=1"), -1);
	cr_assert_eq(notify_send("READY=1"), -1);
	cr_assert(notify_enabled());
}

/* The kernel queues only a few datagrams for a receiver that does not
 * read; a blocking sender would hang here until the timeout. */
Test(notify, never_blocks_when_the_manager_does_not_read, .timeout = 10)
{
	struct manager m;
	int failed = 0;

	bind_path(&m);
	setenv("NOTIFY_SOCKET", m.name, 1);
	cr_assert_eq(notify_init(), 0);
	for (int i = 0; i < 5000 && !failed; i++)
		if (notify_send("WATCHDOG=1") == -1)
			failed = 1;
	cr_assert(failed, "5000 unread datagrams were all queued?");
	drop(&m);
}

Test(notify, a_message_too_long_for_one_datagram_is_refused)
{
	struct manager m;
	char big[4096];
	char buf[16];

	bind_path(&m);
	setenv("NOTIFY_SOCKET", m.name, 1);
	cr_assert_eq(notify_init(), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(notify_sendf("STATUS=%s", big), -1);
	cr_assert_eq(notify_send("READY=1"), 0);
	/* nothing truncated went out before it */
	cr_assert_eq(receive(&m, buf, sizeof(buf)), 7);
	drop(&m);
}

Test(notify, watchdog_usec_is_a_positive_decimal)
{
	cr_assert_eq(notify_parse_watchdog("200000", NULL, 1), 200000);
	cr_assert_eq(notify_parse_watchdog("1", NULL, 1), 1);
	cr_assert_eq(notify_parse_watchdog("18446744073709551615", NULL, 1),
	    UINT64_MAX);
	cr_assert_eq(notify_parse_watchdog("18446744073709551616", NULL, 1), 0);
	cr_assert_eq(notify_parse_watchdog("0", NULL, 1), 0);
	cr_assert_eq(notify_parse_watchdog("", NULL, 1), 0);
	cr_assert_eq(notify_parse_watchdog(NULL, NULL, 1), 0);
	cr_assert_eq(notify_parse_watchdog("-5", NULL, 1), 0);
	cr_assert_eq(notify_parse_watchdog(" 5", NULL, 1), 0);
	cr_assert_eq(notify_parse_watchdog("5s", NULL, 1), 0);
	cr_assert_eq(notify_parse_watchdog("0x10", NULL, 1), 0);
}

Test(notify, watchdog_pid_must_name_us)
{
	cr_assert_eq(notify_parse_watchdog("300", "4242", 4242), 300);
	cr_assert_eq(notify_parse_watchdog("300", "4243", 4242), 0);
	cr_assert_eq(notify_parse_watchdog("300", "", 4242), 0);
	cr_assert_eq(notify_parse_watchdog("300", "42x", 42), 0);
	cr_assert_eq(notify_parse_watchdog("300", "99999999999", 4242), 0);
}

Test(notify, another_pids_watchdog_is_not_ours)
{
	struct manager m;

	bind_path(&m);
	setenv("NOTIFY_SOCKET", m.name, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	cr_assert_eq(notify_init(), 0);
	cr_assert_eq(notify_watchdog_usec(), 0);
	cr_assert_null(getenv("WATCHDOG_PID"));
	drop(&m);
}

Test(notify, monotonic_usec_is_clock_monotonic)
{
	struct timespec a, b;
	uint64_t t, lo, hi;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t = notify_monotonic_usec();
	clock_gettime(CLOCK_MONOTONIC, &b);
	lo = (uint64_t)a.tv_sec * 1000000u + (uint64_t)a.tv_nsec / 1000u;
	hi = (uint64_t)b.tv_sec * 1000000u + (uint64_t)b.tv_nsec / 1000u;
	cr_assert(t >= lo && t <= hi, "%llu not in [%llu, %llu]",
	    (unsigned long long)t, (unsigned long long)lo,
	    (unsigned long long)hi);
}
