/*
 * supervisor.c - the pool's periodic judgements: ttl, idle_ttl (counted
 * from spawn for a worker that never ran an exec, Q7), max_worker_memory
 * (RSS from /proc), the dynamic allocator's arithmetic, and the informer's
 * view of a worker (RSS, CPU share).  exec_ttl is a per-event timer in
 * conn.c.
 *
 * Control thread only.  Nothing here changes a worker or the pool: pool.c
 * runs the watch tick and the allocator's timer and acts on the answers.
 */
#include "supervisor.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "rpc.h"
#include "worker.h"

static uint64_t
proc_rss(pid_t pid)
{
	char path[64];
	unsigned long long size = 0, rss = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(fp, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(fp);
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* CPU time over wall time since start, in percent. */
static double
proc_cpu(const struct worker *w, int64_t now_ns)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	double wall = (double)(now_ns - w->w_created_ns) / 1e9;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)w->pub.w_pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* Fields after the ")" that closes comm: state is field 3, utime 14. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2 || wall <= 0)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK) / wall * 100.0;
}

int
supervisor_check(const struct rr_supervisor_conf *sv, const struct worker *w,
    int64_t now, int idle, char *why, size_t whylen)
{
	int64_t last = atomic_load(&w->pub.w_last_exec_ms);

	if (last < w->w_spawned_ms)
		last = w->w_spawned_ms;
	if (sv->ttl_ms > 0 && now - w->w_spawned_ms >= sv->ttl_ms) {
		snprintf(why, whylen, "ttl reached (%lldms)",
		    (long long)sv->ttl_ms);
		return WS_TTL;
	}
	if (sv->idle_ttl_ms > 0 && now - last >= sv->idle_ttl_ms && idle) {
		snprintf(why, whylen, "idle_ttl reached (%lldms)",
		    (long long)sv->idle_ttl_ms);
		return WS_IDLE_TTL;
	}
	if (sv->max_worker_memory_mb > 0 &&
	    proc_rss(w->pub.w_pid) >= sv->max_worker_memory_mb << 20) {
		snprintf(why, whylen, "max_worker_memory reached (%lluMiB)",
		    (unsigned long long)sv->max_worker_memory_mb);
		return WS_MAX_MEMORY;
	}
	return 0;
}

int
supervisor_grow(const struct rr_dynamic_conf *dy, int extra, int target,
    int pool_max, int64_t now, int64_t *last_burst)
{
	long long add = dy->spawn_rate;

	if (now - *last_burst < 1000)
		return 0;
	/* max_workers is unbounded in the config: compare without casts. */
	if (extra + add > (long long)dy->max_workers)
		add = (long long)dy->max_workers - extra;
	if (target + add > pool_max)
		add = pool_max - target;
	if (add <= 0)
		return 0;
	*last_burst = now;
	return (int)add;
}

int
supervisor_shrink(const struct rr_dynamic_conf *dy, int extra)
{
	return (int)dy->spawn_rate < extra ? (int)dy->spawn_rate : extra;
}

void
supervisor_describe(const struct worker *w, int64_t now_ns,
    struct rpc_worker_state *out)
{
	int st = atomic_load(&w->pub.w_status);

	/* A held worker between exchanges still reads "working". */
	out->pid = w->pub.w_pid;
	out->status = st;
	out->num_execs = atomic_load(&w->pub.w_execs);
	out->created = w->w_created_ns;
	out->memory = proc_rss(w->pub.w_pid);
	out->cpu = proc_cpu(w, now_ns);
	out->status_str = worker_status_str(st);
}
