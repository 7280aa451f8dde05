/*
 * ring.c - Vyukov's bounded MPMC queue.
 *
 * Each cell carries a sequence number.  A producer may fill cell i when its
 * seq equals the ticket it took from tail; a consumer may empty it when seq
 * equals ticket + 1.  The tickets are claimed with a CAS; the cell's seq is
 * published with release and read with acquire, which orders the item
 * itself.  No locks, no ABA (the sequence numbers grow without bound).
 */
#include "ring.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

int
ring_init(struct ring *q, size_t cap)
{
	if (cap < 2 || (cap & (cap - 1)) != 0) {
		errno = EINVAL;
		return -1;
	}
	if ((q->cells = calloc(cap, sizeof(*q->cells))) == NULL)
		return -1;
	q->mask = cap - 1;
	for (size_t i = 0; i < cap; i++)
		atomic_store_explicit(&q->cells[i].seq, i, memory_order_relaxed);
	atomic_store_explicit(&q->head, 0, memory_order_relaxed);
	atomic_store_explicit(&q->tail, 0, memory_order_relaxed);
	return 0;
}

void
ring_free(struct ring *q)
{
	free(q->cells);
	q->cells = NULL;
}

int
ring_push(struct ring *q, void *item)
{
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);

	for (;;) {
		struct ring_cell *c = &q->cells[pos & q->mask];
		/* acquire: the consumer that freed this cell is done with it. */
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t dif = (intptr_t)seq - (intptr_t)pos;

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->tail,
			    &pos, pos + 1, memory_order_relaxed,
			    memory_order_relaxed)) {
				c->item = item;
				/* release: publishes item to the consumer. */
				atomic_store_explicit(&c->seq, pos + 1,
				    memory_order_release);
				return 0;
			}
		} else if (dif < 0)
			return -1;	/* full */
		else
			pos = atomic_load_explicit(&q->tail,
			    memory_order_relaxed);
	}
}

void *
ring_pop(struct ring *q)
{
	size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);

	for (;;) {
		struct ring_cell *c = &q->cells[pos & q->mask];
		/* acquire: pairs with the producer's release of seq. */
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t dif = (intptr_t)seq - (intptr_t)(pos + 1);

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->head,
			    &pos, pos + 1, memory_order_relaxed,
			    memory_order_relaxed)) {
				void *item = c->item;
				/* release: hands the cell back to producers. */
				atomic_store_explicit(&c->seq,
				    pos + q->mask + 1, memory_order_release);
				return item;
			}
		} else if (dif < 0)
			return NULL;	/* empty */
		else
			pos = atomic_load_explicit(&q->head,
			    memory_order_relaxed);
	}
}

size_t
ring_mark(struct ring *q)
{
	return atomic_load_explicit(&q->tail, memory_order_seq_cst);
}

void *
ring_pop_before(struct ring *q, size_t mark)
{
	for (;;) {
		size_t pos = atomic_load_explicit(&q->head,
		    memory_order_relaxed);
		void *item;

		if ((intptr_t)(pos - mark) >= 0)
			return NULL;
		if ((item = ring_pop(q)) != NULL)
			return item;
		/*
		 * Cell pos was claimed (tail passed it) but its producer has
		 * not published the item yet: it is a few instructions away,
		 * unless it was preempted.  Let it run.
		 */
		sched_yield();
	}
}

size_t
ring_count(struct ring *q)
{
	size_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	size_t h = atomic_load_explicit(&q->head, memory_order_acquire);

	return (intptr_t)(t - h) > 0 ? t - h : 0;
}
