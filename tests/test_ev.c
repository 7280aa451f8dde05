/* test_ev.c - the reactor: timers in order, cancel, fd events, wake-ups. */
#include "ev.h"

#include <pthread.h>
#include <unistd.h>

#include <criterion/criterion.h>

static int	order[8];
static int	norder;
static struct ev *loop;

static void
record(struct ev *l, struct ev_timer *t)
{
	order[norder++] = (int)(intptr_t)t->arg;
	if (norder == 3)
		ev_stop(l);
}

Test(ev, timers_fire_in_deadline_order_and_cancel_works)
{
	struct ev_timer t[4];

	loop = ev_new(16, NULL);
	cr_assert_not_null(loop);
	norder = 0;
	for (int i = 0; i < 4; i++)
		ev_timer_init(&t[i], record, (void *)(intptr_t)(i + 1));
	ev_timer_arm(loop, &t[0], 30);
	ev_timer_arm(loop, &t[1], 10);
	ev_timer_arm(loop, &t[2], 20);
	ev_timer_arm(loop, &t[3], 5);
	ev_timer_cancel(loop, &t[3]);
	cr_assert_not(ev_timer_armed(&t[3]));
	ev_run(loop);
	cr_assert_eq(norder, 3);
	cr_assert_eq(order[0], 2);
	cr_assert_eq(order[1], 3);
	cr_assert_eq(order[2], 1);
	ev_free(loop);
}

static int got_bytes;

static void
on_readable(struct ev *l, struct ev_io *io, uint32_t events)
{
	char buf[16];

	got_bytes += (int)read(io->fd, buf, sizeof(buf));
	ev_stop(l);
}

Test(ev, edge_triggered_fd_event_reaches_its_callback)
{
	struct ev_io io;
	int p[2];

	cr_assert_eq(pipe(p), 0);
	loop = ev_new(16, NULL);
	cr_assert_eq(ev_add(loop, &io, p[0], EV_READ | EV_EDGE, on_readable,
	    NULL), 0);
	cr_assert_eq(write(p[1], "abc", 3), 3);
	got_bytes = 0;
	ev_run(loop);
	cr_assert_eq(got_bytes, 3);
	ev_free(loop);
	close(p[0]);
	close(p[1]);
}

static _Atomic int woken;

static void
on_wake(struct ev *l, void *arg)
{
	woken++;
	ev_stop(l);
}

static void *
waker(void *arg)
{
	usleep(20000);
	ev_wake(arg);
	return NULL;
}

Test(ev, wake_from_another_thread_runs_the_hook_in_the_loop)
{
	pthread_t t;

	loop = ev_new(16, NULL);
	ev_set_wake(loop, on_wake, NULL);
	woken = 0;
	pthread_create(&t, NULL, waker, loop);
	ev_run(loop);
	pthread_join(t, NULL);
	cr_assert_eq(woken, 1);
	ev_free(loop);
}
