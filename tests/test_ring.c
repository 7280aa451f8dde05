/*
 * test_ring.c - the idle-worker queue: FIFO order, full/empty, and many
 * producers and consumers at once (run under ThreadSanitizer by
 * make test-thread).
 */
#include "ring.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

Test(ring, fifo_order_and_empty)
{
	struct ring q;
	int items[5];

	cr_assert_eq(ring_init(&q, 8), 0);
	cr_assert_null(ring_pop(&q));
	for (int i = 0; i < 5; i++)
		cr_assert_eq(ring_push(&q, &items[i]), 0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(ring_pop(&q), &items[i]);
	cr_assert_null(ring_pop(&q));
	ring_free(&q);
}

Test(ring, push_fails_when_full_and_recovers)
{
	struct ring q;
	int x;

	cr_assert_eq(ring_init(&q, 4), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(ring_push(&q, &x), 0);
	cr_assert_eq(ring_push(&q, &x), -1);
	cr_assert_eq(ring_pop(&q), &x);
	cr_assert_eq(ring_push(&q, &x), 0);
	ring_free(&q);
}

Test(ring, pop_before_stops_at_the_mark)
{
	struct ring q;
	int items[3];
	size_t mark;

	cr_assert_eq(ring_init(&q, 8), 0);
	cr_assert_eq(ring_push(&q, &items[0]), 0);
	cr_assert_eq(ring_push(&q, &items[1]), 0);
	mark = ring_mark(&q);
	cr_assert_eq(ring_push(&q, &items[2]), 0);
	cr_assert_eq(ring_count(&q), 3);
	cr_assert_eq(ring_pop_before(&q, mark), &items[0]);
	cr_assert_eq(ring_pop_before(&q, mark), &items[1]);
	cr_assert_null(ring_pop_before(&q, mark), "popped past the mark");
	cr_assert_eq(ring_count(&q), 1);
	cr_assert_eq(ring_pop(&q), &items[2]);
	cr_assert_eq(ring_count(&q), 0);
	ring_free(&q);
}

Test(ring, capacity_must_be_a_power_of_two)
{
	struct ring q;

	cr_assert_eq(ring_init(&q, 6), -1);
	cr_assert_eq(ring_init(&q, 1), -1);
}

Test(ring, wraps_around_many_times)
{
	struct ring q;

	cr_assert_eq(ring_init(&q, 4), 0);
	for (uintptr_t i = 1; i < 10000; i++) {
		cr_assert_eq(ring_push(&q, (void *)i), 0);
		cr_assert_eq((uintptr_t)ring_pop(&q), i);
	}
	ring_free(&q);
}

/*
 * Workers circulate as in the server: each thread pops one, "uses" it and
 * pushes it back.  Every item must be held by at most one thread at a time
 * and none may be lost or duplicated.
 */
#define NTHREADS	4
#define NITEMS		16
#define ROUNDS		20000

static struct ring	shared;
static _Atomic int	holders[NITEMS];
static _Atomic int	violations;

static void *
circulate(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		uintptr_t it = (uintptr_t)ring_pop(&shared);
		if (it == 0)
			continue;
		if (atomic_fetch_add(&holders[it - 1], 1) != 0)
			atomic_fetch_add(&violations, 1);
		atomic_fetch_sub(&holders[it - 1], 1);
		while (ring_push(&shared, (void *)it) != 0)
			;
	}
	return arg;
}

Test(ring, concurrent_lease_and_release_keeps_every_item_once)
{
	pthread_t t[NTHREADS];
	int seen[NITEMS];
	uintptr_t it;

	cr_assert_eq(ring_init(&shared, 32), 0);
	for (uintptr_t i = 1; i <= NITEMS; i++)
		ring_push(&shared, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, circulate, NULL);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&violations), 0);
	memset(seen, 0, sizeof(seen));
	while ((it = (uintptr_t)ring_pop(&shared)) != 0)
		seen[it - 1]++;
	for (int i = 0; i < NITEMS; i++)
		cr_assert_eq(seen[i], 1, "item %d seen %d times", i + 1, seen[i]);
	ring_free(&shared);
}
