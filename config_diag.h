/*
 * config_diag.h - the loader's state and its diagnostics.  Private to the
 * config*.c files (see config.c for how they are layered).
 */
#ifndef RRTCP_CONFIG_DIAG_H
#define RRTCP_CONFIG_DIAG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define LINE_NONE	0		/* diagnostic about the whole file */

struct node;
struct anchor;
struct override;

/* A diagnostic held back so that all of them come out in line order. */
struct msg {
	enum config_level m_level;
	int		 m_line;
	size_t		 m_seq;		/* keeps the order of equal lines */
	char		*m_text;
};

/* One config_load() call: its diagnostics, its tree and what it fills. */
struct loader {
	/* diagnostics (config_diag.c) */
	const char	*file;
	config_report_fn *report;
	void		*arg;
	int		 nerrors;
	int		 oom;		/* "out of memory" reported once */
	struct msg	*msgs;
	size_t		 nmsgs;
	size_t		 msgs_cap;

	/* the tree (config_yaml.c) */
	struct node	*arena;
	struct anchor	*anchors;	/* hash table (config_yaml.c) */
	size_t		 nanchors;	/* slots in use */
	size_t		 anchors_cap;	/* slots: 0 or a power of two */
	const struct config_opts *opts;
	struct override	*ovr;		/* parsed opts->overrides */

	/* the walk (config.c) */
	struct rr_config *cfg;
	size_t		 servers_cap;
	size_t		 nenv;
	char		**server_cmd;	/* server.command */
	char		**pool_cmd;	/* tcp.pool.command */
	int		 num_workers_set;
	int		 tcp_line;	/* line of "no servers registered" */
	int		 cmd_bad;	/* a command was reported: no cascade */
	int		 servers_bad;	/* tcp/servers reported: no cascade */
};

/* Reports at line (> 0 file line, < 0 override -line-1, 0 whole file). */
void		 diag(struct loader *, enum config_level, int, const char *,
		    ...)
		    __attribute__((format(printf, 4, 5)));
/* Counts an error; reports "out of memory" once. */
void		 diag_oom(struct loader *);
/* Hands every held diagnostic to the callback in line order. */
void		 diag_flush(struct loader *);
/* s[0..n) escaped and cut for a one-line message, in buf. */
const char	*diag_esc(const char *s, size_t n, char *buf, size_t size);
/* strdup() that reports running out of memory. */
char		*diag_strdup(struct loader *, const char *);

#define ESC(n, b)	diag_esc((n)->n_str, (n)->n_len, (b), sizeof(b))

#endif
