/* test_log.c - log lines: logfmt and JSON, quoting, one line per event. */
#include "log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
