/*
 * log.h - one line per event on stderr (or a file), logfmt by default:
 *
 *	ts=2026-11-24T21:40:00.123Z level=info msg="worker started" worker=4242
 *
 * log_*(msg, kvfmt, ...) takes the message text and a printf format for the
 * key=value part; values that may hold blanks go through log_q().  With
 * logs.encoding: json the same fields are written as one JSON object, valid
 * UTF-8 whatever the values hold: a byte that is not part of a well-formed
 * UTF-8 sequence becomes \u00XX of that byte (see log.c).
 * Thread-safe (one write(2) per line); errno is preserved.
 */
#ifndef RRTCP_LOG_H
#define RRTCP_LOG_H

#include <stddef.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};

#define LOG_FMT(a, b)	__attribute__((format(printf, a, b)))

int	log_parse_level(const char *s, enum log_level *lvl);
void	log_setup(enum log_level lvl, int json);
/* Sends log lines to path (appending); NULL or "stderr" means stderr. */
int	log_open(const char *path);
/* Reopens the log file (SIGUSR1); a no-op on stderr. */
int	log_reopen(void);
int	log_enabled(enum log_level lvl);

void	log_emit(enum log_level lvl, const char *msg, const char *kvfmt, ...)
	    LOG_FMT(3, 4);
#define log_debug(m, ...)	do { if (log_enabled(LOG_DEBUG)) \
	log_emit(LOG_DEBUG, m, __VA_ARGS__); } while (0)
#define log_info(m, ...)	log_emit(LOG_INFO, m, __VA_ARGS__)
#define log_warn(m, ...)	log_emit(LOG_WARN, m, __VA_ARGS__)
#define log_error(m, ...)	log_emit(LOG_ERROR, m, __VA_ARGS__)

/*
 * Quotes s as a logfmt value into buf (always "..."-quoted, with \" \\ \n
 * \r \t and \xNN escapes, truncated to fit).  Returns buf.
 */
const char *log_q(char *buf, size_t size, const char *s, size_t n);
#define LOG_QMAX	512

/* Prints "rrtcp: msg" and exits with status code. */
void	fatalx(int code, const char *fmt, ...) LOG_FMT(2, 3)
	    __attribute__((noreturn));

#endif
