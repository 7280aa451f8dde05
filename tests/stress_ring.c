/*
 * stress_ring.c - the idle-worker ring under ThreadSanitizer.
 *
 * Criterion cannot start under TSan here (its inheritable arena collides
 * with TSan's memory layout), so make test-thread runs this plain program:
 * threads circulate items the way reactors lease and release workers; no
 * item may be held by two threads at once, none may be lost or duplicated.
 */
#include "ring.h"

#include <pthread.h>
#include <stdint.h>
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
	printf("%d passed, %d failed\n", failed ? 0 : 1, failed);
	return failed;
}
