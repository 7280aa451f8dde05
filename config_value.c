/*
 * config_value.c - typed values of a config file.
 *
 * Turns scalar nodes into strings, unsigned integers, booleans, Go
 * durations, byte sizes, worker commands and listen addresses, each with the
 * rule RoadRunner (viper's weak decoding) applies, and reports a bad value
 * as "file:line: key: why".  Which key takes which type is config.c's
 * business.  Pure apart from the diagnostics; single-threaded.
 */
#include "config_value.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------
 * string vectors
 */

void
value_strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Appends s (taken) to the NULL-terminated vector *vp holding *np strings. */
int
value_strv_push(struct loader *ld, char ***vp, size_t *np, char *s)
{
	char **v;

	if (s == NULL)
		return -1;
	v = reallocarray(*vp, *np + 2, sizeof(*v));
	if (v == NULL) {
		free(s);
		diag_oom(ld);
		return -1;
	}
	v[(*np)++] = s;
	v[*np] = NULL;
	*vp = v;
	return 0;
}


/* Lower-cases s in place (viper's view of keys and names). */
void
value_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* ------------------------------------------------------------------------
 * typed values
 *
 * Each getter returns 1 when the value is absent or null (the caller keeps
 * its default), 0 when *out was set, -1 after reporting an error.
 */

int
value_need_scalar(struct loader *ld, const char *name, const struct node *n)
{
	if (n->n_type == NODE_SCALAR)
		return 0;
	diag(ld, CONFIG_ERROR, n->n_line, "%s: expected a scalar, got %s",
	    name, node_type_name(n));
	return -1;
}

/* Is n a map (or null, meaning "present but empty")?  Reports otherwise. */
int
value_need_map(struct loader *ld, const char *name, const struct node *n)
{
	if (node_is_null(n) || n->n_type == NODE_MAP)
		return 0;
	diag(ld, CONFIG_ERROR, n->n_line, "%s: expected a map, got %s", name,
	    node_type_name(n));
	return -1;
}


int
value_str(struct loader *ld, const char *name, const struct node *n,
    char **out)
{
	char *s;

	if (node_is_null(n))
		return 1;
	if (value_need_scalar(ld, name, n) == -1)
		return -1;
	if (strlen(n->n_str) != n->n_len) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: contains a NUL byte",
		    name);
		return -1;
	}
	if ((s = diag_strdup(ld, n->n_str)) == NULL)
		return -1;
	free(*out);
	*out = s;
	return 0;
}

/* Decimal digits with an optional "+"; what viper weakly reads as uint. */
static int
parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0')
		return -1;
	*out = v;
	return 0;
}

int
value_uint(struct loader *ld, const char *name, const struct node *n,
    uint64_t max, uint64_t *out)
{
	char eb[128];
	uint64_t v;

	if (node_is_null(n))
		return 1;
	if (value_need_scalar(ld, name, n) == -1)
		return -1;
	ESC(n, eb);
	if (n->n_str[0] == '-' && parse_uint(n->n_str + 1, &v) == 0) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: must not be negative, "
		    "got %s", name, eb);
		return -1;
	}
	if (strlen(n->n_str) != n->n_len || parse_uint(n->n_str, &v) == -1) {
		if (n->n_len > 0 && strspn(n->n_str, "+0123456789") ==
		    n->n_len)
			diag(ld, CONFIG_ERROR, n->n_line, "%s: %s is too "
			    "large (at most %" PRIu64 ")", name, eb, max);
		else
			diag(ld, CONFIG_ERROR, n->n_line, "%s: expected an "
			    "integer, got \"%s\"", name, eb);
		return -1;
	}
	if (v > max) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: %" PRIu64 " is too "
		    "large (at most %" PRIu64 ")", name, v, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* What Go's strconv.ParseBool accepts (viper's weak decoding). */
int
value_bool(struct loader *ld, const char *name, const struct node *n,
    int *out)
{
	static const char *const yes[] = { "1", "t", "true" };
	static const char *const no[] = { "0", "f", "false" };
	char eb[128];
	size_t i;

	if (node_is_null(n))
		return 1;
	if (value_need_scalar(ld, name, n) == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		if (strcasecmp(n->n_str, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(n->n_str, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	diag(ld, CONFIG_ERROR, n->n_line, "%s: expected true or false, got "
	    "\"%s\"", name, ESC(n, eb));
	return -1;
}

/* Digits with at most one ".": what RoadRunner would read as nanoseconds. */
static int
is_bare_number(const char *s)
{
	int dot = 0, digits = 0;

	if (*s == '+')
		s++;
	for (; *s != '\0'; s++) {
		if (isdigit((unsigned char)*s))
			digits++;
		else if (*s == '.' && !dot)
			dot = 1;
		else
			return 0;
	}
	return digits > 0;
}

int
value_duration(struct loader *ld, const char *name, const struct node *n,
    int64_t *out)
{
	char eb[128];
	int64_t ms;

	if (node_is_null(n))
		return 1;
	if (value_need_scalar(ld, name, n) == -1)
		return -1;
	ESC(n, eb);
	if (strlen(n->n_str) == n->n_len &&
	    config_parse_duration(n->n_str, &ms) == 0) {
		*out = ms;
		return 0;
	}
	if (is_bare_number(n->n_str))
		diag(ld, CONFIG_ERROR, n->n_line, "%s: a bare number is not a "
		    "duration; write \"%ss\" (RoadRunner would read %s as "
		    "nanoseconds)", name, eb, eb);
	else if (n->n_str[0] == '-')
		diag(ld, CONFIG_ERROR, n->n_line, "%s: negative duration "
		    "\"%s\"", name, eb);
	else
		diag(ld, CONFIG_ERROR, n->n_line, "%s: invalid duration "
		    "\"%s\" (write e.g. \"60s\", \"1m30s\", \"500ms\")", name,
		    eb);
	return -1;
}

/* Bytes, or a number with B, K, KB, KiB, M, MB, MiB, G, GB or GiB (x1024). */
static int
parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char	*suffix;
		uint64_t	 mult;
	} units[] = {
		{ "", 1 }, { "b", 1 },
		{ "k", 1 << 10 }, { "kb", 1 << 10 }, { "kib", 1 << 10 },
		{ "m", 1 << 20 }, { "mb", 1 << 20 }, { "mib", 1 << 20 },
		{ "g", 1 << 30 }, { "gb", 1 << 30 }, { "gib", 1 << 30 },
	};
	uint64_t v = 0;
	size_t i;

	if (*s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	while (*s == ' ')
		s++;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(s, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return -1;
		*out = v * units[i].mult;
		return 0;
	}
	return -1;
}

int
value_size(struct loader *ld, const char *name, const struct node *n,
    size_t *out)
{
	char eb[128];
	uint64_t v;

	if (node_is_null(n))
		return 1;
	if (value_need_scalar(ld, name, n) == -1)
		return -1;
	if (strlen(n->n_str) != n->n_len || parse_size(n->n_str, &v) == -1 ||
	    v > SIZE_MAX) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: invalid size \"%s\" "
		    "(bytes, or a number with K, KiB, M, MiB, G or GiB)", name,
		    ESC(n, eb));
		return -1;
	}
	if (v == 0) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: must be at least 1 "
		    "byte", name);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

/*
 * A command: a string split on blanks (no quoting, and no split on "," as
 * viper's string-to-slice hook would do, Q22), or a YAML list used as argv.
 */
int
value_command(struct loader *ld, const char *name, const struct node *n,
    char ***out)
{
	char **argv = NULL, *s, *word, *save;
	size_t argc = 0, i;

	if (node_is_null(n))
		return 1;
	if (n->n_type == NODE_MAP) {
		diag(ld, CONFIG_ERROR, n->n_line, "%s: expected a string or a "
		    "list, got a map", name);
		return -1;
	}
	if (n->n_type == NODE_SEQ) {
		for (i = 0; i < n->n_nkids; i++) {
			const struct node *it = n->n_kids[i];

			s = NULL;
			if (it->n_type != NODE_SCALAR) {
				diag(ld, CONFIG_ERROR, it->n_line, "%s: list "
				    "items must be strings, got %s", name,
				    node_type_name(it));
				goto fail;
			}
			if (strlen(it->n_str) != it->n_len) {
				diag(ld, CONFIG_ERROR, it->n_line, "%s: "
				    "contains a NUL byte", name);
				goto fail;
			}
			if (value_strv_push(ld, &argv, &argc,
			    diag_strdup(ld, it->n_str)) == -1)
				goto fail;
		}
	} else {
		if (strlen(n->n_str) != n->n_len) {
			diag(ld, CONFIG_ERROR, n->n_line, "%s: contains a NUL "
			    "byte", name);
			return -1;
		}
		if (strchr(n->n_str, ',') != NULL)
			diag(ld, CONFIG_WARN, n->n_line, "%s: RoadRunner would "
			    "split this command on \",\"; rrtcp splits it on "
			    "blanks only (use a YAML list to be explicit)",
			    name);
		if ((s = diag_strdup(ld, n->n_str)) == NULL)
			return -1;
		for (word = strtok_r(s, " \t\n\v\f\r", &save); word != NULL;
		    word = strtok_r(NULL, " \t\n\v\f\r", &save))
			if (value_strv_push(ld, &argv, &argc,
			    diag_strdup(ld, word)) == -1) {
				free(s);
				goto fail;
			}
		free(s);
	}
	if (argc == 0)
		return 1;
	value_strv_free(*out);
	*out = argv;
	return 0;
fail:
	value_strv_free(argv);
	return -1;
}

/* ------------------------------------------------------------------------
 * addresses
 */

void
value_addr_clear(struct addr *a)
{
	free(a->host);
	free(a->port);
	free(a->path);
	memset(a, 0, sizeof(*a));
}

/*
 * Splits an address the way RoadRunner's tcplisten does: "unix://path",
 * "tcp://host:port" or a bare "host:port", with Go's net.SplitHostPort
 * rules for the host part (IPv6 in brackets, ":port" for any IPv4).  No
 * name resolution here; that happens at listen time.
 */
int
value_addr(struct loader *ld, const char *name, const char *s, int line,
    struct addr *a)
{
	const char *hp = s, *sep, *colon, *end, *p;
	char eb[128];
	size_t hl;
	unsigned long port;

	memset(a, 0, sizeof(*a));
	diag_esc(s, strlen(s), eb, sizeof(eb));
	if ((sep = strstr(s, "://")) != NULL) {
		if (sep - s == 4 && strncmp(s, "unix", 4) == 0) {
			if (sep[3] == '\0') {
				diag(ld, CONFIG_ERROR, line, "%s: empty unix "
				    "socket path in \"%s\"", name, eb);
				return -1;
			}
			a->is_unix = 1;
			if ((a->path = diag_strdup(ld, sep + 3)) == NULL)
				return -1;
			return 0;
		}
		if (sep - s != 3 || strncmp(s, "tcp", 3) != 0) {
			diag(ld, CONFIG_ERROR, line, "invalid Protocol");
			return -1;
		}
		hp = sep + 3;
	}

	if (hp[0] == '[') {
		if ((end = strchr(hp, ']')) == NULL) {
			diag(ld, CONFIG_ERROR, line, "%s: missing \"]\" in "
			    "address \"%s\"", name, eb);
			return -1;
		}
		if (end[1] != ':') {
			diag(ld, CONFIG_ERROR, line, "%s: missing port in "
			    "address \"%s\"", name, eb);
			return -1;
		}
		colon = end + 1;
		hp++;
		hl = (size_t)(end - hp);
	} else {
		if ((colon = strrchr(hp, ':')) == NULL) {
			diag(ld, CONFIG_ERROR, line, "%s: missing port in "
			    "address \"%s\"", name, eb);
			return -1;
		}
		hl = (size_t)(colon - hp);
		if (memchr(hp, ':', hl) != NULL) {
			diag(ld, CONFIG_ERROR, line, "%s: too many colons in "
			    "address \"%s\" (put an IPv6 host in brackets: "
			    "\"[::1]:7000\")", name, eb);
			return -1;
		}
	}
	for (p = hp; p < hp + hl; p++) {
		if (isspace((unsigned char)*p) || *p == '/' || *p == '[' ||
		    *p == ']') {
			diag(ld, CONFIG_ERROR, line, "%s: invalid host in "
			    "address \"%s\"", name, eb);
			return -1;
		}
	}
	p = colon + 1;
	if (*p == '\0') {
		diag(ld, CONFIG_ERROR, line, "%s: missing port in address "
		    "\"%s\"", name, eb);
		return -1;
	}
	port = 0;
	for (; isdigit((unsigned char)*p) && port <= 65535; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (*p != '\0' || port > 65535) {
		diag(ld, CONFIG_ERROR, line, "%s: invalid port in address "
		    "\"%s\"", name, eb);
		return -1;
	}
	if ((a->host = strndup(hp, hl)) == NULL ||
	    asprintf(&a->port, "%lu", port) == -1) {
		a->port = NULL;
		value_addr_clear(a);
		diag_oom(ld);
		return -1;
	}
	return 0;
}

/*
 * Go's time.ParseDuration, ported so that every string RoadRunner accepts
 * means the same here: "[+]([0-9]*(\.[0-9]*)?unit)+" with units ns, us, µs,
 * ms, s, m, h, plus a lone "0".  Negative durations are rejected (no rrtcp
 * timeout can be negative); the result is rounded down to milliseconds.
 */
int
config_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char	*name;
		uint64_t	 ns;
	} units[] = {
		{ "ns", 1ULL },
		{ "us", 1000ULL },
		{ "\xc2\xb5s", 1000ULL },	/* U+00B5 micro sign */
		{ "\xce\xbcs", 1000ULL },	/* U+03BC Greek mu */
		{ "ms", 1000000ULL },
		{ "s", 1000000000ULL },
		{ "m", 60000000000ULL },
		{ "h", 3600000000000ULL },
	};
	const uint64_t lim = 1ULL << 63;
	uint64_t d = 0, v, f, unit;
	double scale;
	size_t ulen, i;
	int pre, post, overflow;

	if (s == NULL)
		return -1;
	if (*s == '+')
		s++;
	else if (*s == '-')
		return -1;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		v = f = 0;
		scale = 1;
		pre = post = overflow = 0;
		if (*s != '.' && !isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++, pre = 1) {
			if (v > lim / 10)
				return -1;
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > lim)
				return -1;
		}
		if (*s == '.') {
			for (s++; isdigit((unsigned char)*s); s++, post = 1) {
				if (overflow)
					continue;
				if (f > (lim - 1) / 10) {
					overflow = 1;
					continue;
				}
				f = f * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
		if (!pre && !post)
			return -1;
		for (ulen = 0; s[ulen] != '\0' && s[ulen] != '.' &&
		    !isdigit((unsigned char)s[ulen]); ulen++)
			;
		if (ulen == 0)
			return -1;	/* missing unit */
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ulen &&
			    strncmp(s, units[i].name, ulen) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;	/* unknown unit */
		s += ulen;
		unit = units[i].ns;
		if (v > lim / unit)
			return -1;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > lim)
				return -1;
		}
		d += v;
		if (d > lim)
			return -1;
	}
	if (d > lim - 1)
		return -1;
	*ms = (int64_t)(d / 1000000);
	return 0;
}
