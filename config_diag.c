/*
 * config_diag.c - the loader's diagnostics.
 *
 * Every problem found while loading becomes one "file:line: message" (or
 * "-o key=value: message" for an override, or "file: message" for the whole
 * file).  They are held until the end of config_load() and then handed to
 * the caller's callback sorted by line, so one run shows all of them in file
 * order whichever pass found them.  Errors are counted here; config_load()
 * fails if there was one.  Single-threaded, like the loader.
 */
#include "config_diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	msg_add(struct loader *, enum config_level, int, char *);

void
diag(struct loader *ld, enum config_level level, int line, const char *fmt,
    ...)
{
	va_list ap;
	char *msg, *text;
	int rc;

	if (level == CONFIG_ERROR)
		ld->nerrors++;
	if (ld->report == NULL)
		return;
	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc == -1) {
		ld->report(ld->arg, level, "out of memory");
		return;
	}
	if (line < 0)
		rc = asprintf(&text, "-o %s: %s",
		    ld->opts->overrides[-line - 1], msg);
	else if (line > 0)
		rc = asprintf(&text, "%s:%d: %s", ld->file, line, msg);
	else
		rc = asprintf(&text, "%s: %s", ld->file, msg);
	if (rc == -1)
		ld->report(ld->arg, level, msg);
	else if (msg_add(ld, level, line, text) == -1) {
		ld->report(ld->arg, level, text);
		free(text);
	}
	free(msg);
}

/* Keeps text (taken) for diag_flush(); -1 if it could not be kept. */
static int
msg_add(struct loader *ld, enum config_level level, int line, char *text)
{
	struct msg *m;
	size_t cap;

	if (ld->nmsgs == ld->msgs_cap) {
		cap = ld->msgs_cap ? ld->msgs_cap * 2 : 16;
		if ((m = reallocarray(ld->msgs, cap, sizeof(*m))) == NULL)
			return -1;
		ld->msgs = m;
		ld->msgs_cap = cap;
	}
	m = &ld->msgs[ld->nmsgs];
	m->m_level = level;
	m->m_line = line;
	m->m_seq = ld->nmsgs++;
	m->m_text = text;
	return 0;
}

/* File lines in order, then -o overrides in order, then whole-file ones. */
static int
msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	int rx = x->m_line > 0 ? 0 : x->m_line < 0 ? 1 : 2;
	int ry = y->m_line > 0 ? 0 : y->m_line < 0 ? 1 : 2;
	int lx = x->m_line < 0 ? -x->m_line : x->m_line;
	int ly = y->m_line < 0 ? -y->m_line : y->m_line;

	if (rx != ry)
		return rx - ry;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->m_seq < y->m_seq ? -1 : x->m_seq > y->m_seq;
}

void
diag_flush(struct loader *ld)
{
	size_t i;

	if (ld->nmsgs > 1)
		qsort(ld->msgs, ld->nmsgs, sizeof(*ld->msgs), msg_cmp);
	for (i = 0; i < ld->nmsgs; i++) {
		ld->report(ld->arg, ld->msgs[i].m_level, ld->msgs[i].m_text);
		free(ld->msgs[i].m_text);
	}
	free(ld->msgs);
	ld->msgs = NULL;
	ld->nmsgs = ld->msgs_cap = 0;
}

void
diag_oom(struct loader *ld)
{
	if (!ld->oom) {
		ld->oom = 1;
		diag(ld, CONFIG_ERROR, LINE_NONE, "out of memory");
	} else
		ld->nerrors++;
}

/*
 * Copies n bytes of s into buf for a message, escaping control bytes and
 * cutting long values, so that a diagnostic stays on one line.
 */
const char *
diag_esc(const char *s, size_t n, char *buf, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			o += (size_t)snprintf(buf + o, size - o, "\\r");
		else if (c == '\n')
			o += (size_t)snprintf(buf + o, size - o, "\\n");
		else if (c == '\t')
			o += (size_t)snprintf(buf + o, size - o, "\\t");
		else if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (i < n)
		o += (size_t)snprintf(buf + o, size - o, "...");
	buf[o] = '\0';
	return buf;
}

char *
diag_strdup(struct loader *ld, const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		diag_oom(ld);
	return p;
}
