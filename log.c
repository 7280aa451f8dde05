/*
 * log.c - logfmt / JSON log lines.
 *
 * Every line is formatted into a stack buffer and written with one write(2),
 * so lines from reactor threads never interleave.  Nothing here allocates.
 * The key=value part is produced by the caller's format; for JSON output it
 * is re-read token by token (bare or "quoted" values).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN	4096

/* Changed by a reload on the control thread, read by every reactor. */
static _Atomic int	 min_level = LOG_INFO;
static _Atomic int	 json_mode;
static _Atomic int	 log_fd = STDERR_FILENO;	/* see log_open */
static char		*log_path;	/* control thread only */

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int
log_parse_level(const char *s, enum log_level *lvl)
{
	for (int i = 0; i <= LOG_ERROR; i++)
		if (strcasecmp(s, level_names[i]) == 0) {
			*lvl = i;
			return 0;
		}
	if (strcasecmp(s, "warning") == 0) {
		*lvl = LOG_WARN;
		return 0;
	}
	return -1;
}

void
log_setup(enum log_level lvl, int json)
{
	atomic_store_explicit(&min_level, (int)lvl, memory_order_relaxed);
	atomic_store_explicit(&json_mode, json, memory_order_relaxed);
}

int
log_enabled(enum log_level lvl)
{
	return (int)lvl >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

/*
 * The number in log_fd is read without a lock by every reactor thread, which
 * also accept() sockets.  Once log_open took a descriptor of its own, that
 * number is never closed: a new output is dup3()-ed onto it, which swaps the
 * file atomically.  Closing it first would let an accept() on another thread
 * take the number, and the next log line would go to a client.
 */
int
log_open(const char *path)
{
	int cur = atomic_load_explicit(&log_fd, memory_order_relaxed);
	int fd, owned = cur > STDERR_FILENO;
	char *copy = NULL;

	if (path == NULL || strcmp(path, "stderr") == 0) {
		fd = STDERR_FILENO;
		path = NULL;
	} else if (strcmp(path, "stdout") == 0) {
		fd = STDOUT_FILENO;
		path = NULL;
	} else if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1)
		return -1;
	if (path != NULL && (copy = strdup(path)) == NULL) {
		close(fd);
		return -1;
	}
	if (owned) {
		/* dup3 keeps the close-on-exec flag that dup2 would drop. */
		if (dup3(fd, cur, O_CLOEXEC) == -1) {
			int saved = errno;

			if (fd > STDERR_FILENO)
				close(fd);
			free(copy);
			errno = saved;
			return -1;
		}
		if (fd > STDERR_FILENO)
			close(fd);
	} else
		/* Release: a thread that sees fd sees an open descriptor. */
		atomic_store_explicit(&log_fd, fd, memory_order_release);
	free(log_path);
	log_path = copy;
	return 0;
}

int
log_reopen(void)
{
	char *p;
	int rc;

	if (log_path == NULL)
		return 0;
	p = strdup(log_path);
	rc = p ? log_open(p) : -1;
	free(p);
	return rc;
}

const char *
log_q(char *buf, size_t size, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[4];
		size_t len = 0;

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			len = 2;
		} else if (ch == '\n' || ch == '\r' || ch == '\t') {
			esc[0] = '\\';
			esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
			len = 2;
		} else if (ch < 0x20 || ch == 0x7f) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[ch >> 4];
			esc[3] = hex[ch & 15];
			len = 4;
		} else {
			esc[0] = (char)ch;
			len = 1;
		}
		/* Room for this byte, "...", the closing quote and the NUL. */
		if (o + len + 5 > size && i + 1 < n) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (o + len + 2 > size)
			break;
		memcpy(buf + o, esc, len);
		o += len;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static size_t
put(char *line, size_t o, const char *s, size_t n)
{
	if (o + n >= LINE_MAX_LEN - 2)
		n = o < LINE_MAX_LEN - 2 ? LINE_MAX_LEN - 2 - o : 0;
	memcpy(line + o, s, n);
	return o + n;
}

/* Appends s as a JSON string; s is a logfmt value (bare or quoted). */
static size_t
put_json_value(char *line, size_t o, const char *s, size_t n)
{
	char tmp[8];

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	o = put(line, o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			char nx = s[i + 1];
			if (nx == 'x' && i + 3 < n) {
				snprintf(tmp, sizeof(tmp), "\\u00%c%c", s[i + 2],
				    s[i + 3]);
				o = put(line, o, tmp, 6);
				i += 3;
			} else {
				o = put(line, o, s + i, 2);
				i++;
			}
		} else
			o = put(line, o, s + i, 1);
	}
	return put(line, o, "\"", 1);
}

/* Converts "k=v k2="v 2"" into ,"k":"v","k2":"v 2". */
static size_t
put_json_kv(char *line, size_t o, const char *kv)
{
	const char *p = kv;

	while (*p) {
		const char *k, *v, *e;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		k = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		if (*p != '=') {
			/* A bare word: keep it as a flag. */
			o = put(line, o, ",\"", 2);
			o = put(line, o, k, (size_t)(p - k));
			o = put(line, o, "\":true", 6);
			continue;
		}
		e = p;
		v = ++p;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p == '"')
				p++;
		} else
			while (*p && *p != ' ')
				p++;
		o = put(line, o, ",\"", 2);
		o = put(line, o, k, (size_t)(e - k));
		o = put(line, o, "\":", 2);
		o = put_json_value(line, o, v, (size_t)(p - v));
	}
	return o;
}

void
log_emit(enum log_level lvl, const char *msg, const char *kvfmt, ...)
{
	int saved = errno;
	char line[LINE_MAX_LEN], kv[LINE_MAX_LEN - 256], ts[80], qmsg[256];
	struct timespec now;
	struct tm tm;
	size_t o = 0;
	va_list ap;

	if (!log_enabled(lvl)) {
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)(now.tv_nsec / 1000000) % 1000);
	kv[0] = '\0';
	if (kvfmt != NULL && kvfmt[0] != '\0') {
		va_start(ap, kvfmt);
		vsnprintf(kv, sizeof(kv), kvfmt, ap);
		va_end(ap);
	}
	log_q(qmsg, sizeof(qmsg), msg, strlen(msg));
	if (atomic_load_explicit(&json_mode, memory_order_relaxed)) {
		o = put(line, o, "{\"ts\":\"", 7);
		o = put(line, o, ts, strlen(ts));
		o = put(line, o, "\",\"level\":\"", 11);
		o = put(line, o, level_names[lvl], strlen(level_names[lvl]));
		o = put(line, o, "\",\"msg\":", 8);
		o = put_json_value(line, o, qmsg, strlen(qmsg));
		o = put_json_kv(line, o, kv);
		o = put(line, o, "}", 1);
	} else {
		int simple = strpbrk(msg, " =\"\\") == NULL && msg[0] != '\0';

		o = put(line, o, "ts=", 3);
		o = put(line, o, ts, strlen(ts));
		o = put(line, o, " level=", 7);
		o = put(line, o, level_names[lvl], strlen(level_names[lvl]));
		o = put(line, o, " msg=", 5);
		if (simple)
			o = put(line, o, msg, strlen(msg));
		else
			o = put(line, o, qmsg, strlen(qmsg));
		if (kv[0]) {
			o = put(line, o, " ", 1);
			o = put(line, o, kv, strlen(kv));
		}
	}
	line[o++] = '\n';
	/* One write per line; a short write to stderr is not worth a retry loop. */
	(void)!write(atomic_load_explicit(&log_fd, memory_order_acquire),
	    line, o);
	errno = saved;
}

void
fatalx(int code, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, "rrtcp: ", 7);
	(void)!write(STDERR_FILENO, buf, (size_t)n);
	exit(code);
}
