/*
 * log.c - logfmt / JSON log lines.
 *
 * Every line is formatted into a stack buffer and written with one write(2),
 * so lines from reactor threads never interleave.  Nothing here allocates.
 * The key=value part is produced by the caller's format; for JSON output it
 * is re-read token by token (bare or "quoted" values) and re-encoded, so a
 * JSON line is valid JSON in valid UTF-8 whatever bytes a value holds.
 */
#include "log.h"

#include <ctype.h>
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

/*
 * JSON lines.  Values come from peers and workers (output, frame dumps), so
 * they can hold any byte; the line must still be valid JSON in valid UTF-8:
 *
 *  - a complete, shortest-form UTF-8 sequence that is not a surrogate
 *    (RFC 3629) passes through unchanged;
 *  - every other byte >= 0x80 (lone continuation, truncated sequence,
 *    overlong form, encoded surrogate, 0xC0/0xC1/0xF5..0xFF) is written as
 *    \u00XX of that byte: the byte value stays readable in a frame dump, at
 *    the cost of reading as U+0080..U+00FF (Latin-1), like \xNN in logfmt;
 *  - control characters and 0x7f are escaped, as are " and \.
 *
 * A value that does not fit in the line is cut on a character boundary and
 * ends in "..."; the pairs after it are dropped, and the object still closes.
 */
struct jline {
	char	 j_buf[LINE_MAX_LEN];
	size_t	 j_len;
	int	 j_cut;		/* a value was cut: add no more pairs */
	int	 j_over;	/* the pair being written does not fit */
};

/* Keeps room for the closing "}\n". */
#define JLINE_LIM	(LINE_MAX_LEN - 2)

static void
jraw(struct jline *j, const char *s, size_t n)
{
	if (j->j_over || j->j_len + n > JLINE_LIM) {
		j->j_over = 1;
		return;
	}
	memcpy(j->j_buf + j->j_len, s, n);
	j->j_len += n;
}

/* The length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* shorter forms are overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* U+D800..U+DFFF are surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Appends s[0..n) as a JSON string; may_cut allows "..." when it is long. */
static void
jstr(struct jline *j, const char *str, size_t n, int may_cut)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t used;

	jraw(j, "\"", 1);
	for (size_t i = 0; i < n && !j->j_over; i += used) {
		char esc[6];
		const char *unit = esc;
		size_t len;

		used = 1;
		if (s[i] == '"' || s[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)s[i];
			len = 2;
		} else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
			esc[0] = '\\';
			esc[1] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 't';
			len = 2;
		} else if (s[i] >= 0x20 && s[i] < 0x7f) {
			unit = str + i;
			len = 1;
		} else if (s[i] >= 0x80 && (used = utf8_len(s + i, n - i)) > 0) {
			unit = str + i;
			len = used;
		} else {
			used = 1;
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[s[i] >> 4];
			esc[5] = hex[s[i] & 15];
			len = 6;
		}
		/* Room for this unit, "..." and the closing quote. */
		if (j->j_len + len + 4 > JLINE_LIM) {
			if (!may_cut) {
				j->j_over = 1;
				return;
			}
			jraw(j, "...", 3);
			j->j_cut = 1;
			break;
		}
		jraw(j, unit, len);
	}
	jraw(j, "\"", 1);
}

/*
 * Decodes a logfmt value in place: "..." with the escapes log_q writes
 * (\" \\ \n \r \t \xNN) or a bare word taken as it is.  Returns its length.
 */
static size_t
unquote(char *v, size_t n)
{
	size_t o = 0;

	if (n == 0 || v[0] != '"')
		return n;
	for (size_t i = 1; i < n; i++) {
		char c = v[i];

		if (c == '"')
			break;
		if (c == '\\' && i + 1 < n) {
			char nx = v[i + 1];

			if (nx == 'x' && i + 3 < n && isxdigit((unsigned char)v[i + 2]) &&
			    isxdigit((unsigned char)v[i + 3])) {
				char h[3] = { v[i + 2], v[i + 3], '\0' };

				c = (char)strtol(h, NULL, 16);
				i += 3;
			} else if (nx == 'n' || nx == 'r' || nx == 't' ||
			    nx == '"' || nx == '\\') {
				c = nx == 'n' ? '\n' : nx == 'r' ? '\r' :
				    nx == 't' ? '\t' : nx;
				i++;
			}
		}
		v[o++] = c;
	}
	return o;
}

/* Appends ,"k":"v" for one pair, or drops the pair when it does not fit. */
static void
jpair(struct jline *j, const char *k, size_t kn, char *v, size_t vn, int flag)
{
	size_t start = j->j_len;

	if (j->j_cut)
		return;
	jraw(j, ",", 1);
	jstr(j, k, kn, 0);
	jraw(j, ":", 1);
	if (flag)
		jraw(j, "true", 4);
	else
		jstr(j, v, unquote(v, vn), 1);
	if (j->j_over) {
		j->j_len = start;
		j->j_over = 0;
		j->j_cut = 1;
	}
}

/* Converts "k=v k2="v 2"" into ,"k":"v","k2":"v 2"; kv is decoded in place. */
static void
jkv(struct jline *j, char *kv)
{
	char *p = kv;

	while (*p) {
		char *k, *v, *e;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		k = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		if (*p != '=') {
			/* A bare word: keep it as a flag. */
			jpair(j, k, (size_t)(p - k), NULL, 0, 1);
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
		jpair(j, k, (size_t)(e - k), v, (size_t)(p - v), 0);
	}
}

/* Writes the whole JSON object for one event into j, ending in "}\n". */
static void
jline_build(struct jline *j, const char *ts, enum log_level lvl,
    const char *msg, char *kv)
{
	j->j_len = 0;
	j->j_cut = j->j_over = 0;
	jraw(j, "{\"ts\":\"", 7);
	jraw(j, ts, strlen(ts));
	jraw(j, "\",\"level\":\"", 11);
	jraw(j, level_names[lvl], strlen(level_names[lvl]));
	jraw(j, "\",\"msg\":", 8);
	jstr(j, msg, strlen(msg), 1);
	jkv(j, kv);
	/* JLINE_LIM keeps these two bytes free. */
	j->j_buf[j->j_len++] = '}';
	j->j_buf[j->j_len++] = '\n';
}

/* One write per line; a short write to stderr is not worth a retry loop. */
static void
log_write(const char *line, size_t n)
{
	(void)!write(atomic_load_explicit(&log_fd, memory_order_acquire),
	    line, n);
}

void
log_emit(enum log_level lvl, const char *msg, const char *kvfmt, ...)
{
	int saved = errno;
	char kv[LINE_MAX_LEN - 256], ts[80];
	struct timespec now;
	struct tm tm;
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
	if (atomic_load_explicit(&json_mode, memory_order_relaxed)) {
		struct jline j;

		jline_build(&j, ts, lvl, msg, kv);
		log_write(j.j_buf, j.j_len);
	} else {
		int simple = strpbrk(msg, " =\"\\") == NULL && msg[0] != '\0';
		char line[LINE_MAX_LEN], qmsg[256];
		size_t o = 0;

		o = put(line, o, "ts=", 3);
		o = put(line, o, ts, strlen(ts));
		o = put(line, o, " level=", 7);
		o = put(line, o, level_names[lvl], strlen(level_names[lvl]));
		o = put(line, o, " msg=", 5);
		if (simple)
			o = put(line, o, msg, strlen(msg));
		else {
			log_q(qmsg, sizeof(qmsg), msg, strlen(msg));
			o = put(line, o, qmsg, strlen(qmsg));
		}
		if (kv[0]) {
			o = put(line, o, " ", 1);
			o = put(line, o, kv, strlen(kv));
		}
		line[o++] = '\n';
		log_write(line, o);
	}
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
