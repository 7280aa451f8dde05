/*
 * stats.c - the registry of the reactors' counter slots, their sums for the
 * scrape, the worker restarts, and the pool sample status.c takes.
 *
 * Threads: a reactor writes only its own slot (stats.h); the registry list
 * and the server names change under reg_mtx, on attach and detach only.  A
 * slot is never freed, so a scrape can walk the list it read under the lock
 * while the reactors count on.  A detached slot is reused by the next attach
 * (its counts go on), so totals never go back.  The worker restarts and the
 * pool sample are written by the control thread under their own mutexes;
 * the status thread reads them under the same.
 */
#include "stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ev.h"

static pthread_mutex_t	 reg_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct stats	*slots;		/* every slot ever attached */
static char		**names;	/* server names, by index */
static size_t		 nnames;

/* Keeps cfg's server names (the first config's win: a reload keeps them). */
static int
learn_names(const struct rr_config *cfg)
{
	char **n;

	if (cfg->nservers <= nnames)
		return 0;
	if ((n = realloc(names, cfg->nservers * sizeof(*n))) == NULL)
		return -1;
	names = n;
	for (; nnames < cfg->nservers; nnames++)
		if ((names[nnames] = strdup(cfg->servers[nnames].name)) == NULL)
			return -1;
	return 0;
}

struct stats *
stats_attach(const struct rr_config *cfg)
{
	struct stats *st;

	pthread_mutex_lock(&reg_mtx);
	if (learn_names(cfg) == -1) {
		pthread_mutex_unlock(&reg_mtx);
		return NULL;
	}
	for (st = slots; st != NULL; st = st->st_next)
		if (!atomic_load(&st->st_live) &&
		    st->st_nservers >= cfg->nservers)
			break;
	if (st == NULL) {
		if ((st = calloc(1, sizeof(*st))) == NULL ||
		    (st->st_srv = calloc(cfg->nservers ? cfg->nservers : 1,
		    sizeof(*st->st_srv))) == NULL) {
			free(st);
			pthread_mutex_unlock(&reg_mtx);
			return NULL;
		}
		st->st_nservers = cfg->nservers;
		st->st_next = slots;
		slots = st;
	}
	atomic_store(&st->st_heartbeat, ev_clock_ms());
	atomic_store(&st->st_live, 1);
	pthread_mutex_unlock(&reg_mtx);
	return st;
}

void
stats_detach(struct stats *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&reg_mtx);
	atomic_store(&st->st_live, 0);
	atomic_store(&st->st_pending_out, 0);
	pthread_mutex_unlock(&reg_mtx);
}

size_t
stats_nservers(void)
{
	size_t n;

	pthread_mutex_lock(&reg_mtx);
	n = nnames;
	pthread_mutex_unlock(&reg_mtx);
	return n;
}

void
stats_server_name(size_t i, char *buf, size_t len)
{
	pthread_mutex_lock(&reg_mtx);
	snprintf(buf, len, "%s", i < nnames ? names[i] : "");
	pthread_mutex_unlock(&reg_mtx);
}

static uint64_t
ld(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static void
sum_hist(uint64_t *b, uint64_t *sum, struct stats_hist *h)
{
	for (int k = 0; k <= STATS_NBUCKETS; k++)
		b[k] += ld(&h->h_bucket[k]);
	*sum += ld(&h->h_sum_ns);
}

void
stats_sum_server(size_t i, struct stats_server_sum *out)
{
	struct stats *st;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&reg_mtx);
	st = slots;
	pthread_mutex_unlock(&reg_mtx);
	/* Slots are only ever added at the head: the rest of the list
	 * stays as read. */
	for (; st != NULL; st = st->st_next) {
		struct stats_server *s = stats_srv(st, i);

		if (s == NULL)
			continue;
		/* closed before accepted: an open count read this way is
		 * never negative for long, and is clamped by the reader. */
		for (int k = 0; k < STATS_CLOSE_N; k++)
			out->closed[k] += ld(&s->ss_closed[k]);
		out->accepted += ld(&s->ss_accepted);
		for (int k = 0; k < STATS_REFUSE_N; k++)
			out->refused[k] += ld(&s->ss_refused[k]);
		for (int k = 0; k < STATS_EV_N; k++)
			out->events[k] += ld(&s->ss_events[k]);
		for (int k = 0; k < STATS_FAIL_N; k++)
			out->failed[k] += ld(&s->ss_failed[k]);
		out->bytes_in += ld(&s->ss_bytes_in);
		out->bytes_out += ld(&s->ss_bytes_out);
		sum_hist(out->wait, &out->wait_sum_ns, &s->ss_wait);
		sum_hist(out->exec, &out->exec_sum_ns, &s->ss_exec);
	}
}

uint64_t
stats_pending_out(void)
{
	struct stats *st;
	uint64_t n = 0;

	pthread_mutex_lock(&reg_mtx);
	for (st = slots; st != NULL; st = st->st_next)
		if (atomic_load(&st->st_live))
			n += ld(&st->st_pending_out);
	pthread_mutex_unlock(&reg_mtx);
	return n;
}

int
stats_reactors(int64_t *oldest)
{
	struct stats *st;
	int n = 0;

	*oldest = 0;
	pthread_mutex_lock(&reg_mtx);
	for (st = slots; st != NULL; st = st->st_next) {
		int64_t hb;

		if (!atomic_load(&st->st_live))
			continue;
		hb = atomic_load_explicit(&st->st_heartbeat,
		    memory_order_relaxed);
		if (n++ == 0 || hb < *oldest)
			*oldest = hb;
	}
	pthread_mutex_unlock(&reg_mtx);
	return n;
}

const char *
stats_close_str(enum stats_close c)
{
	static const char *const s[STATS_CLOSE_N] = { "client", "worker",
	    "timeout", "limit", "shutdown", "tcp_close", "event_failed",
	    "error" };
	return s[c];
}

const char *
stats_fail_str(enum stats_fail f)
{
	static const char *const s[STATS_FAIL_N] = { "no_worker",
	    "queue_full", "worker_error", "worker_failed", "timeout",
	    "retries", "error" };
	return s[f];
}

const char *
stats_refuse_str(enum stats_refuse r)
{
	static const char *const s[STATS_REFUSE_N] = { "max_connections",
	    "max_connections_per_ip" };
	return s[r];
}

const char *
stats_event_str(enum stats_event e)
{
	static const char *const s[STATS_EV_N] = { "CONNECTED", "DATA",
	    "CLOSE" };
	return s[e];
}

/* --- workers ----------------------------------------------------------------- */

#define MAX_RESTART_REASONS	24

static pthread_mutex_t	 wk_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char		 r_name[32];
	uint64_t	 r_n;
} restarts[MAX_RESTART_REASONS];
static int		 nrestarts;

void
stats_worker_restart(const char *reason)
{
	int i;

	pthread_mutex_lock(&wk_mtx);
	for (i = 0; i < nrestarts; i++)
		if (strcmp(restarts[i].r_name, reason) == 0)
			break;
	if (i == nrestarts && nrestarts < MAX_RESTART_REASONS)
		snprintf(restarts[nrestarts++].r_name,
		    sizeof(restarts[0].r_name), "%s", reason);
	if (i < nrestarts)
		restarts[i].r_n++;
	pthread_mutex_unlock(&wk_mtx);
}

void
stats_worker_restarts(void (*fn)(void *, const char *, uint64_t), void *arg)
{
	char name[32];
	uint64_t n;

	for (int i = 0;; i++) {
		pthread_mutex_lock(&wk_mtx);
		if (i >= nrestarts) {
			pthread_mutex_unlock(&wk_mtx);
			return;
		}
		memcpy(name, restarts[i].r_name, sizeof(name));
		n = restarts[i].r_n;
		pthread_mutex_unlock(&wk_mtx);
		fn(arg, name, n);
	}
}

/* --- the pool's sample (status.c takes it on the control thread) ---------- */

static struct stats_pool sample;

void
stats_pool_publish(struct stats_pool *p)
{
	pthread_mutex_lock(&wk_mtx);
	if (p->in_service == 0)
		p->empty_since_ms = sample.empty_since_ms != 0 ?
		    sample.empty_since_ms : p->at_ms;
	sample = *p;
	pthread_mutex_unlock(&wk_mtx);
}

void
stats_pool(struct stats_pool *out)
{
	pthread_mutex_lock(&wk_mtx);
	*out = sample;
	pthread_mutex_unlock(&wk_mtx);
}
