/*
 * supervisor.h - the pool's periodic judgements (rrtcp-protocol(7) 3.10): which
 * worker has outlived ttl, idle_ttl or max_worker_memory, how many workers
 * the dynamic allocator adds or removes, and what the informer reports of
 * one worker.  Decisions only, control thread: pool.c owns the timers and
 * acts on the answers, so the files do not call each other in a circle.
 */
#ifndef RRTCP_SUPERVISOR_H
#define RRTCP_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>

struct rpc_worker_state;
struct rr_dynamic_conf;
struct rr_supervisor_conf;
struct worker;

/*
 * Why a running worker must leave service at now (monotonic ms): WS_TTL,
 * WS_IDLE_TTL (only when idle says nobody holds it) or WS_MAX_MEMORY, with
 * why filled in; 0 when it may stay.
 */
int	 supervisor_check(const struct rr_supervisor_conf *sv,
	    const struct worker *w, int64_t now, int idle, char *why,
	    size_t whylen);
/*
 * Workers to add after an event starved: at most spawn_rate, one burst a
 * second (*last_burst), never past max_workers extra nor pool_max in all.
 */
int	 supervisor_grow(const struct rr_dynamic_conf *dy, int extra,
	    int target, int pool_max, int64_t now, int64_t *last_burst);
/* Workers to remove when idle_timeout passes with no starvation. */
int	 supervisor_shrink(const struct rr_dynamic_conf *dy, int extra);
/* The informer's line for w (realtime now_ns, for its CPU share). */
void	 supervisor_describe(const struct worker *w, int64_t now_ns,
	    struct rpc_worker_state *out);

#endif
