/*
 * tailq.h - the TAILQ_* doubly linked tail queue, for C libraries without
 * <sys/queue.h> (musl has none).
 *
 * Same names, same arguments and the same meaning as the BSD and glibc
 * macros, limited to the ones rrtcp uses.  A queue head points at its first
 * element and at the "next" pointer of its last element (or at its own
 * first pointer when empty), so inserting at the tail and removing any
 * element take constant time without walking the queue:
 *
 *	head: first --> [a] --> [b] --> NULL
 *	      last ------------------^  (&b.next)
 *	each element's prev points at the "next" pointer that points at it
 *
 * When <sys/queue.h> came first its own macros are used instead; they have
 * the same layout.  Pure macros, no state; threading is the caller's.
 */
#ifndef RRTCP_TAILQ_H
#define RRTCP_TAILQ_H

#include <stddef.h>

#ifndef TAILQ_HEAD

#define TAILQ_HEAD(name, type)						\
struct name {								\
	struct type	 *tqh_first;	/* first element or NULL */	\
	struct type	**tqh_last;	/* the last element's next */	\
}

#define TAILQ_HEAD_INITIALIZER(head)	{ NULL, &(head).tqh_first }

#define TAILQ_ENTRY(type)						\
struct {								\
	struct type	 *tqe_next;	/* next element or NULL */	\
	struct type	**tqe_prev;	/* the pointer that points here */ \
}

#define TAILQ_FIRST(head)		((head)->tqh_first)
#define TAILQ_EMPTY(head)		((head)->tqh_first == NULL)
#define TAILQ_NEXT(elm, field)		((elm)->field.tqe_next)

#define TAILQ_INIT(head) do {						\
	(head)->tqh_first = NULL;					\
	(head)->tqh_last = &(head)->tqh_first;				\
} while (0)

/* The body may not remove var (read TAILQ_NEXT first and use a while). */
#define TAILQ_FOREACH(var, head, field)					\
	for ((var) = TAILQ_FIRST(head); (var) != NULL;			\
	    (var) = TAILQ_NEXT(var, field))

#define TAILQ_INSERT_TAIL(head, elm, field) do {			\
	(elm)->field.tqe_next = NULL;					\
	(elm)->field.tqe_prev = (head)->tqh_last;			\
	*(head)->tqh_last = (elm);					\
	(head)->tqh_last = &(elm)->field.tqe_next;			\
} while (0)

#define TAILQ_REMOVE(head, elm, field) do {				\
	if ((elm)->field.tqe_next != NULL)				\
		(elm)->field.tqe_next->field.tqe_prev =			\
		    (elm)->field.tqe_prev;				\
	else								\
		(head)->tqh_last = (elm)->field.tqe_prev;		\
	*(elm)->field.tqe_prev = (elm)->field.tqe_next;			\
} while (0)

#endif /* !TAILQ_HEAD */

#endif
