/*
 * health.c - the flags of health.h: relaxed atomics, read by any thread.
 */
#include "health.h"

#include <stdatomic.h>

static _Atomic int serving;
static _Atomic int draining;

void
health_set_serving(int on)
{
	atomic_store_explicit(&serving, on, memory_order_relaxed);
}

int
health_serving(void)
{
	return atomic_load_explicit(&serving, memory_order_relaxed);
}

void
health_set_draining(int on)
{
	atomic_store_explicit(&draining, on, memory_order_relaxed);
}

int
health_draining(void)
{
	return atomic_load_explicit(&draining, memory_order_relaxed);
}
