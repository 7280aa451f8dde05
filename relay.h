/*
 * relay.h - one connection <-> worker exchange: the request frame (header,
 * context JSON, body) written to the worker's stdin, and the worker's answer
 * read from its stdout and turned into a reply for the connection.
 */
#ifndef RRTCP_RELAY_H
#define RRTCP_RELAY_H

#include <stdint.h>

#include "ev.h"

struct rr_conn;
struct rr_worker;

/*
 * Sends c's current event (c->c_event, body = the message in flight) to the
 * held worker w.  Returns 0, or -1 when the worker cannot take it (it is then
 * retired and the caller may lease another).
 */
int	relay_send(struct rr_conn *c, struct rr_worker *w);

/* pool_io_fn: the worker's pipes are ready on the loop that holds it. */
void	relay_on_worker_io(struct ev *loop, struct rr_worker *w,
	    uint32_t events);

#endif
