/* test_log.c - log lines: logfmt and JSON, quoting, one line per event. */
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

static char path[] = "/tmp/rrtcp-test-log-XXXXXX";

static char *
read_all(void)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
setup(void)
{
	int fd = mkstemp(path);

	close(fd);
	cr_assert_eq(log_open(path), 0);
}

static void
teardown(void)
{
	log_open(NULL);
	unlink(path);
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, logfmt_line_with_quoted_values)
{
	char q[LOG_QMAX];

	log_setup(LOG_INFO, 0);
	log_info("worker output", "worker=%d line=%s", 42,
	    log_q(q, sizeof(q), "say \"hi\"\n", 9));
	log_debug("hidden", "x=%d", 1);
	cr_assert(strstr(read_all(), " level=info msg=\"worker output\" "
	    "worker=42 line=\"say \\\"hi\\\"\\n\"\n") != NULL, "%s", read_all());
	cr_assert(strstr(read_all(), "hidden") == NULL);
	cr_assert_eq(strncmp(read_all(), "ts=", 3), 0);
}

Test(log, json_encoding_carries_the_same_fields)
{
	char q[LOG_QMAX];

	log_setup(LOG_DEBUG, 1);
	log_warn("connection closed", "conn=7 reason=%s",
	    log_q(q, sizeof(q), "a b", 3));
	cr_assert(strstr(read_all(), "\"level\":\"warn\",\"msg\":\"connection "
	    "closed\",\"conn\":\"7\",\"reason\":\"a b\"}\n") != NULL, "%s",
	    read_all());
	log_setup(LOG_INFO, 0);
}

Test(log, control_bytes_are_escaped_and_long_values_truncated)
{
	char q[32], big[100];

	log_q(q, sizeof(q), "\x01\x7f", 2);
	cr_assert_str_eq(q, "\"\\x01\\x7f\"");
	memset(big, 'a', sizeof(big));
	log_q(q, sizeof(q), big, sizeof(big));
	cr_assert_lt(strlen(q), sizeof(q));
	cr_assert(strstr(q, "...\"") != NULL, "%s", q);
}

/* The descriptor number that fd currently refers to, as a path. */
static int
fd_is_path(int fd, const char *p)
{
	char link[64], target[512];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, target, sizeof(target) - 1)) == -1)
		return 0;
	target[n] = '\0';
	return strcmp(target, p) == 0;
}

/* The descriptor log lines go to: the one that refers to path. */
static int
log_fd_number(void)
{
	for (int fd = 3; fd < 1024; fd++)
		if (fd_is_path(fd, path))
			return fd;
	return -1;
}

/*
 * Regression: log_reopen closed the old descriptor before the new one was in
 * place, so an accept() on a reactor thread could take the freed number and
 * receive log lines.  The number in use must always refer to the log file.
 */
Test(log, reopen_keeps_the_descriptor_number)
{
	char rotated[sizeof(path) + 2];
	int fd, other;

	fd = log_fd_number();
	cr_assert_geq(fd, 3);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	cr_assert_eq(rename(path, rotated), 0);
	cr_assert_eq(log_reopen(), 0);
	other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_neq(other, fd, "the log's descriptor %d was freed", fd);
	close(other);
	cr_assert(fd_is_path(fd, path), "fd %d no longer the log file", fd);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "workers would inherit it");
	log_setup(LOG_INFO, 0);
	log_info("after rotation", "n=%d", 1);
	cr_assert(strstr(read_all(), "msg=\"after rotation\" n=1") != NULL);
	unlink(rotated);
}

/* Switching outputs on reload reuses the number too, then back to a file. */
Test(log, switch_to_stderr_and_back_never_frees_the_number)
{
	int fd = log_fd_number(), other;

	cr_assert_geq(fd, 3);
	cr_assert_eq(log_open("stderr"), 0);
	other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_neq(other, fd, "the log's descriptor %d was freed", fd);
	close(other);
	cr_assert_eq(log_open(path), 0);
	cr_assert(fd_is_path(fd, path));
}

struct writer {
	int	n;		/* lines to write */
	atomic_int done;
};

static void *
write_lines(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < w->n; i++)
		log_info("line", "i=%d", i);
	atomic_store(&w->done, 1);
	return NULL;
}

/* Lines written by another thread during reopens all reach the log file. */
Test(log, reopen_under_concurrent_writers_loses_no_line)
{
	struct writer w = { .n = 3000 };
	pthread_t t;
	int fd, count = 0, sockets = 0;
	char *buf, *p;
	FILE *fp;
	size_t cap = 0;

	log_setup(LOG_INFO, 0);
	cr_assert_eq(pthread_create(&t, NULL, write_lines, &w), 0);
	while (!atomic_load(&w.done)) {
		cr_assert_eq(log_reopen(), 0);
		/* What an accept() on another thread would do meanwhile. */
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
			sockets++;
			close(fd);
		}
	}
	pthread_join(t, NULL);
	fp = fopen(path, "r");
	cr_assert_not_null(fp);
	buf = NULL;
	while (getline(&buf, &cap, fp) != -1)
		if ((p = strstr(buf, " msg=line i=")) != NULL)
			count++;
	free(buf);
	fclose(fp);
	cr_assert_eq(count, w.n, "%d of %d lines reached the file (%d sockets)",
	    count, w.n, sockets);
}
