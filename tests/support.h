/*
 * support.h - helpers shared by the unit tests: guard-page copies for
 * parser inputs, the fake worker's path, reading a file whole.  Linking
 * support.o also makes every sanitizer report abort, so Criterion counts it
 * as a crash rather than a warning.
 */
#ifndef RRTCP_TEST_SUPPORT_H
#define RRTCP_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

struct ev;

/* A copy of p[0..n) that ends exactly where a PROT_NONE page begins. */
void		*guard_copy(const void *p, size_t n);
void		 guard_free(void *p, size_t n);

/* The C goridge worker the Makefile builds next to the test binaries
 * ($FAKE_WORKER overrides). */
const char	*fake_worker(void);

/* The whole file, NUL-terminated (length in *lenp); "" if it is missing. */
void		*slurp(const char *path, size_t *lenp);

/* How many lines of the file hold every one of a, b and c (NULL: any). */
int		 log_lines_in(const char *path, const char *a, const char *b,
		    const char *c);

/* Removes dir and the files in it (one level: what the tests make). */
void		 rmtree(const char *dir);

/*
 * The control-loop harness of the pool and relay tests: runs loop until
 * cond() holds (cond NULL: for ms) or ms pass; returns cond() (1 for NULL).
 */
int		 run_until(struct ev *loop, int (*cond)(void), int64_t ms);

#endif
