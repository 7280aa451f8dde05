/*
 * mem.c - the process-wide buffer count (mem.h).  Relaxed atomics: the
 * count steers shedding, it orders nothing.
 */
#include "mem.h"

#include <stdatomic.h>

static _Atomic size_t held;
static _Atomic size_t limit;

void
mem_set_limit(size_t n)
{
	atomic_store_explicit(&limit, n, memory_order_relaxed);
}

size_t
mem_limit(void)
{
	return atomic_load_explicit(&limit, memory_order_relaxed);
}

void
mem_update(size_t *mine, size_t now)
{
	if (now > *mine)
		atomic_fetch_add_explicit(&held, now - *mine,
		    memory_order_relaxed);
	else if (now < *mine)
		atomic_fetch_sub_explicit(&held, *mine - now,
		    memory_order_relaxed);
	*mine = now;
}

size_t
mem_held(void)
{
	return atomic_load_explicit(&held, memory_order_relaxed);
}

int
mem_over(void)
{
	size_t l = mem_limit();

	return l > 0 && mem_held() > l;
}
