/*
 * json.h - the tiny JSON codec of the hot path: Go-style string escaping for
 * the event context (rrtcp-protocol(7) 4.3) and readers for the two control
 * payloads a worker sends ({"pid":N}, {"stop":true}).  No allocation.
 */
#ifndef RRTCP_JSON_H
#define RRTCP_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Worst-case size of json_quote() output for n input bytes (quotes included). */
#define JSON_QUOTED_MAX(n)	(6 * (n) + 2)

/*
 * Writes s[0..n) as a JSON string literal, escaped exactly as Go's
 * encoding/json does: \" \\ \n \r \t, other bytes < 0x20 as \u00XX, < > & as
 * \u003c \u003e \u0026, U+2028/U+2029 as \u2028/\u2029, each invalid UTF-8
 * byte as \ufffd.  out has room for JSON_QUOTED_MAX(n).  Returns bytes written.
 */
size_t	json_quote(char *out, const char *s, size_t n);

/*
 * Builds the context prefix {"remote_addr":R,"server":S,"uuid":U,"event":"
 * into out (cap bytes).  Returns its length, or 0 if it does not fit.
 * The full context is the prefix, the event name and "\"}".
 */
size_t	json_ctx_prefix(char *out, size_t cap, const char *remote_addr,
	    const char *server, size_t server_len, const char *uuid);

/*
 * Reads a worker control payload (a JSON object).  Returns 0 and sets *pid
 * when it holds "pid" with an integer value > 0; returns 1 when it holds a
 * truthy "stop"; -1 otherwise (not an object, no such key, pid <= 0).
 * Tolerates whitespace and other keys; never reads past n.
 */
int	json_control(const char *p, size_t n, int64_t *pid);

#endif
