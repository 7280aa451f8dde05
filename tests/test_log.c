/*
 * test_log.c - log lines: logfmt and JSON, quoting, one line per event, valid
 * JSON and UTF-8 from any bytes, and reopening without freeing the fd.
 */
#include "log.h"

#include <fcntl.h>
#include <iconv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#define LINE_CAP	4096	/* log.c LINE_MAX_LEN: one line at most */

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

/* True when s[0..n) is well-formed UTF-8, by glibc's decoder (not ours). */
static int
valid_utf8(const char *s, size_t n)
{
	iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
	char out[4 * LINE_CAP], *in = (char *)(uintptr_t)s, *o = out;
	size_t il = n, ol = sizeof(out), r;

	cr_assert_neq(cd, (iconv_t)-1);
	r = iconv(cd, &in, &il, &o, &ol);
	iconv_close(cd);
	return r != (size_t)-1 && il == 0;
}

/*
 * Logs one JSON line with value v three ways (as the message, as a log_q
 * value, as a bare %s value) and returns the parsed object; the line must be
 * valid UTF-8 and parse as JSON.
 */
static cJSON *
json_line_with(const char *v)
{
	char q[LOG_QMAX], *text = read_all(), *line;
	size_t before = strlen(text);
	cJSON *obj;

	log_setup(LOG_INFO, 1);
	log_info(v, "quoted=%s bare=%s", log_q(q, sizeof(q), v, strlen(v)), v);
	log_setup(LOG_INFO, 0);
	line = read_all() + before;
	cr_assert(strlen(line) > 0 && line[strlen(line) - 1] == '\n');
	cr_assert(valid_utf8(line, strlen(line)), "not UTF-8: %s", line);
	obj = cJSON_Parse(line);
	cr_assert_not_null(obj, "not JSON: %s", line);
	return obj;
}

static const char *
field(const cJSON *obj, const char *key)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, key);

	cr_assert(cJSON_IsString(f), "no string %s", key);
	return f->valuestring;
}

Test(log, json_passes_valid_utf8_through)
{
	/* é, €, U+10348 and U+FFFD itself, next to ASCII. */
	const char *v = "caf\xc3\xa9 \xe2\x82\xac \xf0\x90\x8d\x88 \xef\xbf\xbd";
	cJSON *obj = json_line_with(v);

	/* The bare value ends at the first blank, as logfmt reads it. */
	cr_assert_str_eq(field(obj, "msg"), v);
	cr_assert_str_eq(field(obj, "quoted"), v);
	cr_assert_str_eq(field(obj, "bare"), "caf\xc3\xa9");
	cJSON_Delete(obj);
}

Test(log, json_escapes_each_invalid_byte_as_its_latin1_code_point)
{
	static const struct {
		const char *in, *want;	/* want: the value as JSON decodes it */
	} cases[] = {
		{ "a\x80z", "a\xc2\x80z" },			/* lone continuation */
		{ "a\xc3z", "a\xc3\x83z" },			/* truncated 2-byte */
		{ "a\xe2\x82z", "a\xc3\xa2\xc2\x82z" },		/* truncated 3-byte */
		{ "a\xf0\x90\x8dz", "a\xc3\xb0\xc2\x90\xc2\x8dz" }, /* 4-byte */
		{ "\xc0\xaf", "\xc3\x80\xc2\xaf" },		/* overlong '/' */
		{ "\xe0\x80\xaf", "\xc3\xa0\xc2\x80\xc2\xaf" },	/* overlong */
		{ "\xf0\x80\x80\xaf", "\xc3\xb0\xc2\x80\xc2\x80\xc2\xaf" },
		{ "\xed\xa0\x80", "\xc3\xad\xc2\xa0\xc2\x80" },	/* U+D800 */
		{ "\xed\xbf\xbf", "\xc3\xad\xc2\xbf\xc2\xbf" },	/* U+DFFF */
		{ "\xf4\x90\x80\x80", "\xc3\xb4\xc2\x90\xc2\x80\xc2\x80" },
		{ "\xff\xfe", "\xc3\xbf\xc3\xbe" },
		{ "\xc3\xa9\xff\xc3\xa9", "\xc3\xa9\xc3\xbf\xc3\xa9" }, /* mixed */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *obj = json_line_with(cases[i].in);

		cr_assert_str_eq(field(obj, "msg"), cases[i].want, "case %zu", i);
		cr_assert_str_eq(field(obj, "quoted"), cases[i].want,
		    "case %zu", i);
		cr_assert_str_eq(field(obj, "bare"), cases[i].want,
		    "case %zu", i);
		cJSON_Delete(obj);
	}
}

Test(log, json_escapes_control_characters_quotes_and_backslashes)
{
	const char *v = "a\x01\x1f\x7f\t\n\r\"\\b";
	cJSON *obj = json_line_with(v);
	char line[64];

	cr_assert_str_eq(field(obj, "msg"), v);
	cr_assert_str_eq(field(obj, "quoted"), v);
	cJSON_Delete(obj);
	/* A bare value with " or \ in it, which log_q would have quoted. */
	snprintf(line, sizeof(line), "x\"y\\q\x02");
	obj = json_line_with(line);
	cr_assert_str_eq(field(obj, "bare"), line);
	cJSON_Delete(obj);
}

Test(log, json_line_stays_valid_when_a_value_is_cut)
{
	char big[3000], *line;
	cJSON *obj;

	/* Each 0xff byte takes six bytes in JSON: far more than one line. */
	memset(big, '\xff', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_setup(LOG_INFO, 1);
	log_info("big", "v=%s after=1", big);
	log_setup(LOG_INFO, 0);
	line = read_all();
	cr_assert_leq(strlen(line), LINE_CAP);
	cr_assert(valid_utf8(line, strlen(line)));
	obj = cJSON_Parse(line);
	cr_assert_not_null(obj, "not JSON: %s", line);
	cr_assert(strstr(field(obj, "v"), "...") != NULL);
	cr_assert_null(cJSON_GetObjectItem(obj, "after"));
	cJSON_Delete(obj);
}
