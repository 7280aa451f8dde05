/*
 * support.h - helpers shared by the unit tests: guard-page copies for
 * parser inputs, the fake worker's path, reading a file whole.  Linking
 * support.o also makes every sanitizer report abort, so Criterion counts it
 * as a crash rather than a warning.
 */
#ifndef RRTCP_TEST_SUPPORT_H
#define RRTCP_TEST_SUPPORT_H

#include <stddef.h>

/* A copy of p[0..n) that ends exactly where a PROT_NONE page begins. */
void		*guard_copy(const void *p, size_t n);
void		 guard_free(void *p, size_t n);

/* The C goridge worker the Makefile builds next to the test binaries
 * ($FAKE_WORKER overrides). */
const char	*fake_worker(void);

/* The whole file, NUL-terminated (length in *lenp); "" if it is missing. */
void		*slurp(const char *path, size_t *lenp);

#endif
