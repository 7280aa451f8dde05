/*
 * test_tailq.c - tailq.h, the TAILQ_* macros rrtcp carries for musl: order,
 * removal at the head, middle and tail, and reuse after emptying.
 */
#include "tailq.h"

#include <stddef.h>

#include <criterion/criterion.h>

struct item {
	int			 v;
	TAILQ_ENTRY(item)	 link;
};

TAILQ_HEAD(item_q, item);

/* Writes the queue's values into out, returns how many. */
static int
values(struct item_q *q, int *out, int max)
{
	struct item *it;
	int n = 0;

	TAILQ_FOREACH(it, q, link)
		if (n < max)
			out[n++] = it->v;
	return n;
}

Test(tailq, insert_tail_keeps_order)
{
	struct item_q q = TAILQ_HEAD_INITIALIZER(q);
	struct item it[4] = { { .v = 1 }, { .v = 2 }, { .v = 3 }, { .v = 4 } };
	int got[8];

	cr_assert(TAILQ_EMPTY(&q));
	for (int i = 0; i < 4; i++)
		TAILQ_INSERT_TAIL(&q, &it[i], link);
	cr_assert(!TAILQ_EMPTY(&q));
	cr_assert_eq(TAILQ_FIRST(&q), &it[0]);
	cr_assert_eq(TAILQ_NEXT(&it[3], link), NULL);
	cr_assert_eq(values(&q, got, 8), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(got[i], i + 1);
}

Test(tailq, remove_middle_head_and_tail)
{
	struct item_q q;
	struct item it[4] = { { .v = 1 }, { .v = 2 }, { .v = 3 }, { .v = 4 } };
	int got[8];

	TAILQ_INIT(&q);
	for (int i = 0; i < 4; i++)
		TAILQ_INSERT_TAIL(&q, &it[i], link);
	TAILQ_REMOVE(&q, &it[1], link);		/* middle */
	cr_assert_eq(values(&q, got, 8), 3);
	cr_assert(got[0] == 1 && got[1] == 3 && got[2] == 4);
	TAILQ_REMOVE(&q, &it[3], link);		/* tail: the tail pointer moves */
	TAILQ_INSERT_TAIL(&q, &it[1], link);	/* lands after 3, not after 4 */
	cr_assert_eq(values(&q, got, 8), 3);
	cr_assert(got[0] == 1 && got[1] == 3 && got[2] == 2);
	TAILQ_REMOVE(&q, &it[0], link);		/* head */
	cr_assert_eq(TAILQ_FIRST(&q), &it[2]);
	cr_assert_eq(values(&q, got, 8), 2);
	cr_assert(got[0] == 3 && got[1] == 2);
}

Test(tailq, drained_queue_is_empty_and_reusable)
{
	struct item_q q;
	struct item it[3] = { { .v = 1 }, { .v = 2 }, { .v = 3 } };
	struct item *first;
	int got[8];

	TAILQ_INIT(&q);
	for (int i = 0; i < 3; i++)
		TAILQ_INSERT_TAIL(&q, &it[i], link);
	while ((first = TAILQ_FIRST(&q)) != NULL)
		TAILQ_REMOVE(&q, first, link);
	cr_assert(TAILQ_EMPTY(&q));
	TAILQ_INSERT_TAIL(&q, &it[2], link);
	cr_assert_eq(values(&q, got, 8), 1);
	cr_assert_eq(got[0], 3);
	cr_assert_eq(TAILQ_FIRST(&q), &it[2]);
}
