/*
 * ring.h - a bounded lock-free multi-producer multi-consumer queue of
 * pointers (Dmitry Vyukov's design): the idle-worker queue that all reactors
 * share.  Capacity is a power of two fixed at init.
 */
#ifndef RRTCP_RING_H
#define RRTCP_RING_H

#include <stdatomic.h>
#include <stddef.h>

struct ring_cell {
	_Atomic size_t	 seq;
	void		*item;
};

struct ring {
	struct ring_cell *cells;
	size_t		  mask;
	/* Producers and consumers touch different cache lines. */
	_Alignas(64) _Atomic size_t head;	/* next cell to pop */
	_Alignas(64) _Atomic size_t tail;	/* next cell to push */
};

/* cap must be a power of two.  Returns 0 or -1 (ENOMEM, EINVAL). */
int	ring_init(struct ring *q, size_t cap);
void	ring_free(struct ring *q);
/* Returns 0, or -1 when the ring is full. */
int	ring_push(struct ring *q, void *item);
/* Returns the oldest item, or NULL when the ring is empty. */
void	*ring_pop(struct ring *q);
/*
 * The ticket the next push takes (seq_cst load of tail): every push that
 * claimed its cell before this load lies below the mark.
 */
size_t	 ring_mark(struct ring *q);
/*
 * Pops the oldest item while the head is below mark, or returns NULL once
 * every item pushed below mark has been popped (here or by another
 * consumer).  Unlike ring_pop it does not report "empty" while a producer
 * that took a ticket below mark has yet to store its item: it waits for it.
 */
void	*ring_pop_before(struct ring *q, size_t mark);
/* Items in the ring; exact only while nobody pushes or pops. */
size_t	 ring_count(struct ring *q);

#endif
