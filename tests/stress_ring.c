/*
 * stress_ring.c - the idle-worker ring under ThreadSanitizer.
 *
 * Criterion cannot start under TSan here (its inheritable arena collides
 * with TSan's memory layout), so make test-thread runs this plain program:
 * threads circulate items the way reactors lease and release workers; no
 * item may be held by two threads at once, none may be lost or duplicated.
 *
 * Then the pool's sweep protocol (pool.c idle_sweep): the main thread
 * retires items while circulating threads lease and release them and a
 * sweeper takes retired items out of the ring.  A releaser pushes, makes a
 * read-modify-write of gate, then checks the retired flag and asks for a
 * sweep; the sweeper makes one on gate after the flag is stored and before
 * it takes its mark.  At the end
 * every retired item must have left the ring exactly once.
 */
#include "ring.h"

#include <pthread.h>
#include <stdint.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define NTHREADS	4
#define NITEMS		16
#define ROUNDS		50000

static struct ring	q;
static _Atomic int	holders[NITEMS];
static _Atomic int	violations;

static void *
circulate(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		uintptr_t it = (uintptr_t)ring_pop(&q);

		if (it == 0)
			continue;
		if (atomic_fetch_add(&holders[it - 1], 1) != 0)
			atomic_fetch_add(&violations, 1);
		atomic_fetch_sub(&holders[it - 1], 1);
		while (ring_push(&q, (void *)it) != 0)
			;
	}
	return arg;
}

static _Atomic int	retired[NITEMS];
static _Atomic int	dropped[NITEMS];
static _Atomic int	sweep_wanted, done, gate;

/* A reactor: leases, drops a retired item it finds, releases the others. */
static void *
lease_release(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		uintptr_t it = (uintptr_t)ring_pop(&q);

		if (it == 0)
			continue;
		if (atomic_load(&retired[it - 1])) {
			atomic_fetch_add(&dropped[it - 1], 1);
			continue;
		}
		if (atomic_fetch_add(&holders[it - 1], 1) != 0)
			atomic_fetch_add(&violations, 1);
		atomic_fetch_sub(&holders[it - 1], 1);
		while (ring_push(&q, (void *)it) != 0)
			;
		atomic_fetch_add(&gate, 1);	/* pool.c: nwaiting */
		if (atomic_load_explicit(&retired[it - 1],
		    memory_order_relaxed))
			atomic_store(&sweep_wanted, 1);
	}
	return arg;
}

/* The control thread's sweep: drop retired items, push the rest back. */
static void
sweep(void)
{
	uintptr_t keep[NITEMS + 1], it;
	size_t n = 0, mark;

	atomic_store(&sweep_wanted, 0);
	atomic_fetch_add(&gate, 1);
	mark = ring_mark(&q);
	while ((it = (uintptr_t)ring_pop_before(&q, mark)) != 0) {
		if (atomic_load(&retired[it - 1]))
			atomic_fetch_add(&dropped[it - 1], 1);
		else if (n < NITEMS)
			keep[n++] = it;
	}
	for (size_t i = 0; i < n; i++)
		while (ring_push(&q, (void *)keep[i]) != 0)
			;
}

static void *
sweeper(void *arg)
{
	while (!atomic_load(&done))
		if (atomic_load(&sweep_wanted))
			sweep();
		else
			sched_yield();
	return arg;
}

static int
sweep_protocol(void)
{
	pthread_t t[NTHREADS], s;
	int failed = 0;
	uintptr_t it;

	for (uintptr_t i = 1; i <= NITEMS; i++)
		ring_push(&q, (void *)i);
	pthread_create(&s, NULL, sweeper, NULL);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, lease_release, NULL);
	/* Retire half the items, one by one, as the pool retires idle ones. */
	for (int i = 0; i < NITEMS; i += 2) {
		atomic_store(&retired[i], 1);
		atomic_store(&sweep_wanted, 1);
		sched_yield();
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&done, 1);
	pthread_join(s, NULL);
	if (atomic_load(&sweep_wanted))
		sweep();
	/* Now nothing runs: the ring must hold exactly the live items. */
	while ((it = (uintptr_t)ring_pop(&q)) != 0)
		if (atomic_load(&retired[it - 1])) {
			printf("not ok - retired item %d still queued\n",
			    (int)it);
			failed = 1;
		}
	for (int i = 0; i < NITEMS; i++)
		if (atomic_load(&dropped[i]) != (i % 2 == 0)) {
			printf("not ok - item %d dropped %d times\n", i + 1,
			    atomic_load(&dropped[i]));
			failed = 1;
		}
	if (atomic_load(&violations) != 0) {
		printf("not ok - sweep: an item was held twice\n");
		failed = 1;
	}
	return failed;
}

int
main(void)
{
	pthread_t t[NTHREADS];
	int seen[NITEMS], failed = 0;
	uintptr_t it;

	if (ring_init(&q, 32) == -1)
		return 1;
	for (uintptr_t i = 1; i <= NITEMS; i++)
		ring_push(&q, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, circulate, NULL);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	memset(seen, 0, sizeof(seen));
	while ((it = (uintptr_t)ring_pop(&q)) != 0)
		seen[it - 1]++;
	if (atomic_load(&violations) != 0) {
		printf("not ok - an item was held by two threads %d times\n",
		    atomic_load(&violations));
		failed = 1;
	}
	for (int i = 0; i < NITEMS; i++)
		if (seen[i] != 1) {
			printf("not ok - item %d seen %d times\n", i + 1, seen[i]);
			failed = 1;
		}
	ring_free(&q);
	if (ring_init(&q, 32) == -1)
		return 1;
	if (sweep_protocol()) {
		failed++;
		printf("not ok - sweep protocol\n");
	}
	ring_free(&q);
	printf("%d passed, %d failed\n", 2 - failed, failed);
	return failed != 0;
}
