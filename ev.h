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

struct ev;
struct ev_io;

/*
 * Readiness bits, for registering and as delivered.  Registering EV_HUP asks
 * to hear of a peer's half-close; a hang-up or an error is always delivered,
 * as EV_HUP | EV_READ, so a reader finds the end of stream by reading.
 * EV_EDGE registers edge-triggered; EV_EXCLUSIVE wakes one of the loops that
 * share an fd (a listener shared by reactors).
 */
enum {
	EV_READ		= 0x01,
	EV_WRITE	= 0x02,
	EV_HUP		= 0x04,
	EV_EDGE		= 0x08,
	EV_EXCLUSIVE	= 0x10
};

typedef void ev_io_fn(struct ev *loop, struct ev_io *io, uint32_t events);

/* Embedded in each object that owns an fd; the loop hands this back. */
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

int		 ev_add(struct ev *loop, struct ev_io *io, int fd, uint32_t events,
		    ev_io_fn *fn, void *arg);
/* Registers io with the fd, fn and arg it already holds (no field writes). */
int		 ev_attach(struct ev *loop, struct ev_io *io, uint32_t events);
int		 ev_mod(struct ev *loop, struct ev_io *io, uint32_t events);
int		 ev_del(struct ev *loop, struct ev_io *io);
/*
 * Moves io from loop from (NULL: none) to loop to.  May be called from to's
 * thread while from runs: from may still deliver an event for io from the
 * batch it is in, so io's handler must check which loop owns it.
 */
int		 ev_move(struct ev *from, struct ev *to, struct ev_io *io,
		    uint32_t events);

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
