/*
 * json.c - the tiny JSON codec of the hot path.
 *
 * Writes JSON strings escaped byte-for-byte like Go's encoding/json (the
 * context RoadRunner sends, rrtcp-protocol(7) 4.3) and reads the two control
 * payloads a worker sends.  relay.c builds everything else with cJSON; this
 * file exists so the per-event context and the control frames need neither
 * allocation nor a parse tree.  Pure functions, no global state: safe from
 * any thread.
 */
#include "json.h"

#include <string.h>

#define JSON_MAX_DEPTH	32	/* nesting json_control() agrees to skip */
#define JSON_ESC	"\"\\/bfnrt"	/* after a backslash ... */
#define JSON_UNESC	"\"\\/\b\f\n\r\t"	/* ... stands for this */

static const char hexdig[] = "0123456789abcdef";

/*
 * Decodes one UTF-8 sequence at s[0..n), n >= 1, with the rules of Go's
 * utf8.DecodeRune: overlongs, surrogates (U+D800..U+DFFF), code points above
 * U+10FFFF and truncated sequences are invalid.  Returns the sequence length
 * and sets *rp, or 0 when s[0] does not start a valid sequence; the caller
 * then consumes that one byte only, as Go does.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *rp)
{
	unsigned char	 c = s[0], lo = 0x80, hi = 0xbf;
	size_t		 len, i;
	uint32_t	 r;

	if (c < 0x80) {
		*rp = c;
		return 1;
	}
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		len = 2;
		r = c & 0x1f;
	} else if (c < 0xf0) {
		len = 3;
		r = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogate */
	} else {
		len = 4;
		r = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		r = r << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*rp = r;
	return len;
}

/*
 * The one quoting routine.  With out == NULL it only counts, which lets
 * json_ctx_prefix() size its output exactly before writing anything.
 */
static size_t
quote(char *out, const char *str, size_t n)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i = 0, o = 0, k, len;
	const char		*esc;
	char			 tmp[6];
	uint32_t		 r;

#define PUT(c)	do { if (out != NULL) out[o] = (c); o++; } while (0)
	PUT('"');
	while (i < n) {
		esc = NULL;
		len = 1;
		if (s[i] < 0x80) {
			switch (s[i]) {
			case '"':	esc = "\\\""; break;
			case '\\':	esc = "\\\\"; break;
			case '\n':	esc = "\\n"; break;
			case '\r':	esc = "\\r"; break;
			case '\t':	esc = "\\t"; break;
			case '<': case '>': case '&':
				break;
			default:
				if (s[i] >= 0x20) {	/* 0x7f too: Go leaves it */
					PUT(s[i]);
					i++;
					continue;
				}
			}
			r = s[i];
		} else if ((len = utf8_decode(s + i, n - i, &r)) == 0) {
			len = 1;
			r = 0xfffd;
		} else if (r != 0x2028 && r != 0x2029) {
			for (k = 0; k < len; k++)
				PUT(s[i + k]);
			i += len;
			continue;
		}
		if (esc == NULL) {
			/* \u00XX for controls and <>&, \u2028, \u2029, \ufffd. */
			tmp[0] = '\\';
			tmp[1] = 'u';
			tmp[2] = hexdig[r >> 12];
			tmp[3] = hexdig[(r >> 8) & 0xf];
			tmp[4] = hexdig[(r >> 4) & 0xf];
			tmp[5] = hexdig[r & 0xf];
			for (k = 0; k < 6; k++)
				PUT(tmp[k]);
		} else {
			PUT(esc[0]);
			PUT(esc[1]);
		}
		i += len;
	}
	PUT('"');
#undef PUT
	return o;
}

size_t
json_quote(char *out, const char *s, size_t n)
{
	return quote(out, s, n);
}

size_t
json_ctx_prefix(char *out, size_t cap, const char *remote_addr,
    const char *server, size_t server_len, const char *uuid)
{
	static const char	*const key[3] = {
		"{\"remote_addr\":", ",\"server\":", ",\"uuid\":"
	};
	static const char	 tail[] = ",\"event\":\"";
	const char		*val[3] = { remote_addr, server, uuid };
	size_t			 len[3], need = sizeof(tail) - 1, o = 0;
	int			 i;

	len[0] = strlen(remote_addr);
	len[1] = server_len;
	len[2] = strlen(uuid);
	for (i = 0; i < 3; i++)
		need += strlen(key[i]) + quote(NULL, val[i], len[i]);
	if (need > cap)
		return 0;
	for (i = 0; i < 3; i++) {
		memcpy(out + o, key[i], strlen(key[i]));
		o += strlen(key[i]);
		o += quote(out + o, val[i], len[i]);
	}
	memcpy(out + o, tail, sizeof(tail) - 1);
	return o + sizeof(tail) - 1;
}

/* --- control payload reader ------------------------------------------ */

struct jp {
	const unsigned char	*p;	/* next byte */
	const unsigned char	*end;	/* one past the input */
	int			 depth;	/* containers open */
};

/* What json_control() needs to know about one value. */
struct jval {
	int		 truthy;	/* PHP's (bool) of the decoded value */
	int		 is_int;	/* a JSON integer that fits int64_t */
	int64_t		 ival;
	char		 str[8];	/* string: first decoded bytes */
	size_t		 slen;		/* string: decoded characters */
};

static int	jp_value(struct jp *, struct jval *);

static void
jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
jp_hex4(struct jp *j, uint32_t *r)
{
	int	 i, c;

	*r = 0;
	if (j->end - j->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = *j->p++;
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return -1;
		*r = *r << 4 | (uint32_t)c;
	}
	return 0;
}

/*
 * A string, opening quote already consumed.  Keeps the first bytes and the
 * character count: enough to match a key and to tell "" and "0" (falsy in
 * PHP) from the rest.  Escapes that decode to non-ASCII are stored as 0x80,
 * which matches no key and is not "0".
 */
static int
jp_string(struct jp *j, struct jval *v)
{
	const char	*e;
	uint32_t	 r;
	size_t		 len;

	v->slen = 0;
	for (;;) {
		if (j->p >= j->end || *j->p < 0x20)
			return -1;
		if (*j->p == '"') {
			j->p++;
			v->truthy = v->slen > 1 ||
			    (v->slen == 1 && v->str[0] != '0');
			return 0;
		}
		if (*j->p == '\\') {
			if (++j->p >= j->end)
				return -1;
			if (*j->p == 'u') {
				j->p++;
				if (jp_hex4(j, &r) == -1)
					return -1;
			} else if ((e = strchr(JSON_ESC, *j->p)) != NULL &&
			    *j->p != '\0') {
				r = JSON_UNESC[e - JSON_ESC];
				j->p++;
			} else
				return -1;
		} else {
			/* Raw bytes must be valid UTF-8, as PHP and Go insist. */
			if ((len = utf8_decode(j->p, j->end - j->p, &r)) == 0)
				return -1;
			j->p += len;
		}
		if (v->slen < sizeof(v->str))
			v->str[v->slen] = r < 0x80 ? (char)r : (char)0x80;
		v->slen++;
	}
}

/*
 * A number by the JSON grammar.  Truthy when a mantissa digit is not zero
 * (PHP: 0, -0, 0.0, 0e9 are false); an integer is also kept as int64_t.
 */
static int
jp_number(struct jp *j, struct jval *v)
{
	int	 neg = 0, ovf = 0, d;
	int64_t	 x = 0;

	v->truthy = 0;
	v->is_int = 1;
	if (j->p < j->end && *j->p == '-') {
		neg = 1;
		j->p++;
	}
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return -1;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
			d = *j->p++ - '0';
			if (x > (INT64_MAX - d) / 10)
				ovf = 1;
			else
				x = x * 10 + d;
			v->truthy = 1;
		}
	if (j->p < j->end && *j->p == '.') {
		v->is_int = 0;
		if (++j->p >= j->end || *j->p < '0' || *j->p > '9')
			return -1;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			if (*j->p++ != '0')
				v->truthy = 1;
	}
	if (j->p < j->end && (*j->p | 0x20) == 'e') {
		v->is_int = 0;
		if (++j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return -1;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (ovf)
		v->is_int = 0;
	v->ival = neg ? -x : x;
	return 0;
}

/* The keys json_control() looks for, seen at the top level. */
struct jctl {
	int		 stop;		/* "stop" is truthy */
	int		 have_pid;	/* "pid" is an integer > 0 */
	int64_t		 pid;
};

/*
 * An array or object, opening bracket consumed; truthy when not empty (PHP
 * decodes objects to arrays).  ctl is non-NULL for the top-level object only.
 * Duplicate keys: the last one wins, as in PHP and Go.
 */
static int
jp_container(struct jp *j, struct jval *v, unsigned char close,
    struct jctl *ctl)
{
	struct jval	 k, e;

	if (++j->depth > JSON_MAX_DEPTH)
		return -1;
	v->truthy = 0;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			if (j->p >= j->end || *j->p++ != '"' ||
			    jp_string(j, &k) == -1)
				return -1;
			jp_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return -1;
			jp_ws(j);
		}
		if (jp_value(j, &e) == -1)
			return -1;
		v->truthy = 1;
		if (ctl != NULL && k.slen == 4 && memcmp(k.str, "stop", 4) == 0)
			ctl->stop = e.truthy;
		else if (ctl != NULL && k.slen == 3 &&
		    memcmp(k.str, "pid", 3) == 0) {
			ctl->have_pid = e.is_int && e.ival > 0;
			ctl->pid = e.ival;
		}
		jp_ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == close) {
			j->p++;
			j->depth--;
			return 0;
		}
		if (*j->p++ != ',')
			return -1;
		jp_ws(j);
	}
}

static int
jp_literal(struct jp *j, const char *word, int truthy, struct jval *v)
{
	size_t	 len = strlen(word);

	if ((size_t)(j->end - j->p) < len || memcmp(j->p, word, len) != 0)
		return -1;
	j->p += len;
	v->truthy = truthy;
	return 0;
}

static int
jp_value(struct jp *j, struct jval *v)
{
	v->is_int = 0;
	if (j->p >= j->end)
		return -1;
	switch (*j->p) {
	case '"':
		j->p++;
		return jp_string(j, v);
	case '{':
		j->p++;
		return jp_container(j, v, '}', NULL);
	case '[':
		j->p++;
		return jp_container(j, v, ']', NULL);
	case 't':
		return jp_literal(j, "true", 1, v);
	case 'f':
		return jp_literal(j, "false", 0, v);
	case 'n':
		return jp_literal(j, "null", 0, v);
	default:
		return jp_number(j, v);
	}
}

/*
 * The whole payload must be one valid JSON object, as for PHP's json_decode
 * and Go's json.Unmarshal: a truncated or trailing-garbage payload is no
 * control message at all.  A truthy "stop" beats "pid", in the order PHP's
 * PayloadFactory tests them.
 */
int
json_control(const char *p, size_t n, int64_t *pid)
{
	struct jp	 j;
	struct jval	 v;
	struct jctl	 ctl = { 0, 0, 0 };

	j.p = (const unsigned char *)p;
	j.end = j.p + n;
	j.depth = 0;
	jp_ws(&j);
	if (j.p >= j.end || *j.p++ != '{' ||
	    jp_container(&j, &v, '}', &ctl) == -1)
		return -1;
	jp_ws(&j);
	if (j.p != j.end)
		return -1;
	if (ctl.stop)
		return 1;
	if (ctl.have_pid) {
		*pid = ctl.pid;
		return 0;
	}
	return -1;
}
