/*
 * ev.h - the reactor: one edge-triggered epoll set, a timer heap, a
 * cross-thread wake-up (eventfd) and a before-sleep hook.  One struct ev
 * belongs to one thread; only ev_wake() may be called from another thread.
 * The shape follows redis ae.h.
 */
#ifndef RRTCP_EV_H
#define RRTCP_EV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct ev;
struct ev_io;

/* Called with the epoll event bits; EPOLLERR/EPOLLHUP arrive as EPOLLIN too. */
typedef void ev_io_fn(struct ev *loop, struct ev_io *io, uint32_t events);

/* Embedded in each object that owns an fd; epoll's data.ptr points here. */
struct ev_io {
	ev_io_fn	*fn;
	void		*arg;
	int		 fd;
};

struct ev_timer;
typedef void ev_timer_fn(struct ev *loop, struct ev_timer *t);

struct ev_timer {
	int64_t		 when;	/* monotonic ms */
	ev_timer_fn	*fn;
	void		*arg;
	int		 idx;	/* heap slot, -1 when not armed */
};

typedef void ev_hook_fn(struct ev *loop, void *arg);

struct ev	*ev_new(int maxevents, void *data);
void		 ev_free(struct ev *loop);
void		*ev_data(const struct ev *loop);
int		 ev_epfd(const struct ev *loop);

int		 ev_add(struct ev *loop, struct ev_io *io, int fd, uint32_t events,
		    ev_io_fn *fn, void *arg);
/* Registers io with the fd, fn and arg it already holds (no field writes). */
int		 ev_attach(struct ev *loop, struct ev_io *io, uint32_t events);
int		 ev_mod(struct ev *loop, struct ev_io *io, uint32_t events);
int		 ev_del(struct ev *loop, struct ev_io *io);

void		 ev_timer_init(struct ev_timer *t, ev_timer_fn *fn, void *arg);
void		 ev_timer_arm(struct ev *loop, struct ev_timer *t, int64_t after_ms);
void		 ev_timer_cancel(struct ev *loop, struct ev_timer *t);
static inline int
ev_timer_armed(const struct ev_timer *t)
{
	return t->idx >= 0;
}

/* Cached monotonic time of the current loop iteration, in ms. */
int64_t		 ev_now(const struct ev *loop);
int64_t		 ev_clock_ms(void);

/* Called once per iteration after the ready events and timers ran. */
void		 ev_set_before_sleep(struct ev *loop, ev_hook_fn *fn, void *arg);
/* Called in the loop thread after ev_wake() from any thread. */
void		 ev_set_wake(struct ev *loop, ev_hook_fn *fn, void *arg);
void		 ev_wake(struct ev *loop);

void		 ev_run(struct ev *loop);
void		 ev_stop(struct ev *loop);
/* Bumped on every iteration; other threads read it to see the loop moved on. */
uint64_t	 ev_iterations(const struct ev *loop);

#endif
