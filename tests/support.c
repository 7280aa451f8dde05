/*
 * support.c - helpers shared by the unit tests (see support.h).
 */
#include "support.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ev.h"

/*
 * A sanitizer report ends the process with _exit(1); outside the test body
 * Criterion takes that for a warning and counts the test as passed, and TSan
 * only reports at exit.  Make every report an abort, which Criterion counts
 * as a crash.  Only sanitizer builds look these functions up.
 */
const char	*__asan_default_options(void);
const char	*__ubsan_default_options(void);
const char	*__tsan_default_options(void);

const char *
__asan_default_options(void)
{
	return "abort_on_error=1";
}

const char *
__ubsan_default_options(void)
{
	return "abort_on_error=1:print_stacktrace=1";
}

const char *
__tsan_default_options(void)
{
	return "abort_on_error=1:halt_on_error=1";
}

void *
guard_copy(const void *p, size_t n)
{
	size_t	 pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t	 data = (n + pg - 1) / pg * pg;
	char	*base;

	base = mmap(NULL, data + pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(base != MAP_FAILED);
	cr_assert(mprotect(base + data, pg, PROT_NONE) == 0);
	if (n > 0)
		memcpy(base + data - n, p, n);
	return base + data - n;
}

void
guard_free(void *p, size_t n)
{
	size_t	 pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t	 data = (n + pg - 1) / pg * pg;

	munmap((char *)p + n - data, data + pg);
}

const char *
fake_worker(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("FAKE_WORKER");
	ssize_t n;

	if (env != NULL && *env != '\0')
		snprintf(path, sizeof(path), "%s", env);
	else {
		/* The Makefile builds it next to the test binaries. */
		n = readlink("/proc/self/exe", path, sizeof(path) - 16);
		cr_assert_gt(n, 0);
		path[n] = '\0';
		*strrchr(path, '/') = '\0';
		strcat(path, "/fake_worker");
	}
	cr_assert_eq(access(path, X_OK), 0, "no fake worker at %s (set "
	    "FAKE_WORKER or run make %s)", path, "build/fake_worker");
	return path;
}

void *
slurp(const char *path, size_t *lenp)
{
	FILE *fp = fopen(path, "r");
	char *s = NULL;
	size_t len = 0, cap = 0, n;

	/* A file that is not there reads as empty: tests poll for content. */
	if (fp != NULL) {
		do {
			if (cap - len < 65536 + 1) {
				cap = cap ? cap * 2 : 1 << 17;
				cr_assert_not_null(s = realloc(s, cap));
			}
			n = fread(s + len, 1, cap - len - 1, fp);
			len += n;
		} while (n > 0);
		fclose(fp);
	}
	if (s == NULL)
		cr_assert_not_null(s = calloc(1, 1));
	s[len] = '\0';
	if (lenp)
		*lenp = len;
	return s;
}

int
log_lines_in(const char *path, const char *a, const char *b, const char *c)
{
	char *s = slurp(path, NULL), *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(s, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strstr(line, a) && (b == NULL || strstr(line, b)) &&
		    (c == NULL || strstr(line, c)))
			n++;
	free(s);
	return n;
}

void
rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

struct waiter {
	struct ev_timer	 t;
	int		(*cond)(void);
	int64_t		 deadline;
};

static void
on_poll(struct ev *loop, struct ev_timer *t)
{
	struct waiter *w = t->arg;

	if ((w->cond != NULL && w->cond()) || ev_clock_ms() >= w->deadline)
		ev_stop(loop);
	else
		ev_timer_arm(loop, t, 5);
}

int
run_until(struct ev *loop, int (*cond)(void), int64_t ms)
{
	struct waiter w = { .cond = cond, .deadline = ev_clock_ms() + ms };

	if (cond != NULL && cond())
		return 1;
	ev_timer_init(&w.t, on_poll, &w);
	ev_timer_arm(loop, &w.t, 0);
	ev_run(loop);
	ev_timer_cancel(loop, &w.t);
	return cond == NULL || cond();
}
