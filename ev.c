/*
 * ev.c - epoll reactor with a binary min-heap of timers.
 *
 * Every fd is registered edge-triggered: a callback must drain its fd until
 * EAGAIN, or remember that it stopped early and come back to it (the
 * connection code keeps a "readable" flag for that), or bytes are stranded.
 * The loop runs: epoll_wait (timeout = nearest timer), ready callbacks,
 * expired timers, the before-sleep hook.  Objects are never freed inside a
 * callback the loop may still touch; owners defer that to before-sleep.
 */
#include "ev.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct ev {
	int			 epfd;
	int			 maxevents;
	struct epoll_event	*events;
	void			*data;
	int64_t			 now;
	int			 stop;
	_Atomic uint64_t	 iterations;

	struct ev_timer		**heap;
	int			 nheap;
	int			 heapcap;

	struct ev_io		 wake_io;
	_Atomic int		 wake_pending;
	ev_hook_fn		*wake_fn;
	void			*wake_arg;
	ev_hook_fn		*before_sleep;
	void			*before_sleep_arg;
};

int64_t
ev_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ev_on_wake(struct ev *loop, struct ev_io *io, uint32_t events)
{
	uint64_t n;

	while (read(io->fd, &n, sizeof(n)) == -1 && errno == EINTR)
		;
	/* Clear before running the hook so a wake during the hook is not lost. */
	atomic_store_explicit(&loop->wake_pending, 0, memory_order_seq_cst);
	if (loop->wake_fn)
		loop->wake_fn(loop, loop->wake_arg);
}

struct ev *
ev_new(int maxevents, void *data)
{
	struct ev *loop;
	int efd;

	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	loop->maxevents = maxevents;
	loop->data = data;
	loop->events = calloc((size_t)maxevents, sizeof(*loop->events));
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->events == NULL || loop->epfd == -1 || efd == -1 ||
	    ev_add(loop, &loop->wake_io, efd, EV_READ | EV_EDGE, ev_on_wake,
	    loop) == -1) {
		if (efd != -1)
			close(efd);
		ev_free(loop);
		return NULL;
	}
	loop->now = ev_clock_ms();
	return loop;
}

void
ev_free(struct ev *loop)
{
	if (loop == NULL)
		return;
	if (loop->epfd != -1)
		close(loop->epfd);
	if (loop->wake_io.fn != NULL)
		close(loop->wake_io.fd);
	free(loop->events);
	free(loop->heap);
	free(loop);
}

void *
ev_data(const struct ev *loop)
{
	return loop->data;
}

/* Our bits to epoll's, for registering. */
static uint32_t
to_epoll(uint32_t events)
{
	uint32_t e = 0;

	if (events & EV_READ)
		e |= EPOLLIN;
	if (events & EV_WRITE)
		e |= EPOLLOUT;
	if (events & EV_HUP)
		e |= EPOLLRDHUP;
	if (events & EV_EDGE)
		e |= EPOLLET;
	if (events & EV_EXCLUSIVE)
		e |= EPOLLEXCLUSIVE;
	return e;
}

/* epoll's bits to ours, as delivered: a hang-up or error reads as EOF. */
static uint32_t
from_epoll(uint32_t e)
{
	uint32_t events = 0;

	if (e & EPOLLIN)
		events |= EV_READ;
	if (e & EPOLLOUT)
		events |= EV_WRITE;
	if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		events |= EV_HUP | EV_READ;
	return events;
}

int
ev_add(struct ev *loop, struct ev_io *io, int fd, uint32_t events,
    ev_io_fn *fn, void *arg)
{
	struct epoll_event ee = { .events = to_epoll(events), .data.ptr = io };

	io->fn = fn;
	io->arg = arg;
	io->fd = fd;
	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee);
}

int
ev_attach(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct epoll_event ee = { .events = to_epoll(events), .data.ptr = io };

	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ee);
}

int
ev_mod(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct epoll_event ee = { .events = to_epoll(events), .data.ptr = io };

	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ee);
}

int
ev_del(struct ev *loop, struct ev_io *io)
{
	return epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

int
ev_move(struct ev *from, struct ev *to, struct ev_io *io, uint32_t events)
{
	/* epoll_ctl on another thread's set is safe; its in-flight batch may
	 * still hold an event for io, which the handler must ignore. */
	if (from != NULL)
		epoll_ctl(from->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	return ev_attach(to, io, events);
}

int64_t
ev_now(const struct ev *loop)
{
	return loop->now;
}

/* --- timer heap ------------------------------------------------------- */

static void
heap_swap(struct ev *loop, int a, int b)
{
	struct ev_timer *t = loop->heap[a];

	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->idx = a;
	loop->heap[b]->idx = b;
}

static void
heap_up(struct ev *loop, int i)
{
	while (i > 0) {
		int p = (i - 1) / 2;
		if (loop->heap[p]->when <= loop->heap[i]->when)
			break;
		heap_swap(loop, i, p);
		i = p;
	}
}

static void
heap_down(struct ev *loop, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < loop->nheap && loop->heap[l]->when < loop->heap[m]->when)
			m = l;
		if (r < loop->nheap && loop->heap[r]->when < loop->heap[m]->when)
			m = r;
		if (m == i)
			break;
		heap_swap(loop, i, m);
		i = m;
	}
}

void
ev_timer_init(struct ev_timer *t, ev_timer_fn *fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->idx = -1;
	t->when = 0;
}

void
ev_timer_cancel(struct ev *loop, struct ev_timer *t)
{
	int i = t->idx;

	if (i < 0)
		return;
	t->idx = -1;
	loop->nheap--;
	if (i == loop->nheap)
		return;
	loop->heap[i] = loop->heap[loop->nheap];
	loop->heap[i]->idx = i;
	heap_up(loop, i);
	heap_down(loop, loop->heap[i]->idx);
}

void
ev_timer_arm(struct ev *loop, struct ev_timer *t, int64_t after_ms)
{
	ev_timer_cancel(loop, t);
	if (loop->nheap == loop->heapcap) {
		int cap = loop->heapcap ? loop->heapcap * 2 : 64;
		struct ev_timer **h = realloc(loop->heap, (size_t)cap * sizeof(*h));
		if (h == NULL)
			abort();	/* timers back every bound; no way on */
		loop->heap = h;
		loop->heapcap = cap;
	}
	t->when = loop->now + after_ms;
	t->idx = loop->nheap;
	loop->heap[loop->nheap++] = t;
	heap_up(loop, t->idx);
}

static void
run_timers(struct ev *loop)
{
	while (loop->nheap > 0 && loop->heap[0]->when <= loop->now) {
		struct ev_timer *t = loop->heap[0];

		ev_timer_cancel(loop, t);
		t->fn(loop, t);
	}
}

/* --- loop ----------------------------------------------------------------- */

void
ev_set_before_sleep(struct ev *loop, ev_hook_fn *fn, void *arg)
{
	loop->before_sleep = fn;
	loop->before_sleep_arg = arg;
}

void
ev_set_wake(struct ev *loop, ev_hook_fn *fn, void *arg)
{
	loop->wake_fn = fn;
	loop->wake_arg = arg;
}

void
ev_wake(struct ev *loop)
{
	uint64_t one = 1;

	/* Coalesce: one eventfd write per sleep, however many wakers. */
	if (atomic_exchange_explicit(&loop->wake_pending, 1,
	    memory_order_seq_cst) == 0)
		(void)!write(loop->wake_io.fd, &one, sizeof(one));
}

void
ev_stop(struct ev *loop)
{
	loop->stop = 1;
}

uint64_t
ev_iterations(const struct ev *loop)
{
	return atomic_load_explicit(&loop->iterations, memory_order_acquire);
}

void
ev_run(struct ev *loop)
{
	loop->stop = 0;
	while (!loop->stop) {
		int timeout = -1, n;

		if (loop->nheap > 0) {
			int64_t d = loop->heap[0]->when - ev_clock_ms();
			timeout = d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
		}
		n = epoll_wait(loop->epfd, loop->events, loop->maxevents,
		    timeout);
		loop->now = ev_clock_ms();
		if (n == -1 && errno != EINTR)
			abort();	/* EBADF/EINVAL: a broken invariant */
		for (int i = 0; i < n; i++) {
			struct ev_io *io = loop->events[i].data.ptr;

			io->fn(loop, io, from_epoll(loop->events[i].events));
		}
		run_timers(loop);
		if (loop->before_sleep)
			loop->before_sleep(loop, loop->before_sleep_arg);
		atomic_fetch_add_explicit(&loop->iterations, 1,
		    memory_order_release);
	}
}
