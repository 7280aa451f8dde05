/*
 * status.h - the status and metrics endpoints: a tiny HTTP/1.x server on a
 * thread and event loop of its own (RoadRunner's status plugin: GET /health
 * and /ready; its metrics plugin: GET /metrics).
 *
 * Whatever a peer sends costs it a closed socket, never a reactor's or the
 * control loop's time: at most STATUS_MAX_CONNS connections (a new one
 * displaces the oldest that has not sent its head; with none such it is
 * accepted and closed), STATUS_MAX_HEAD bytes of request head (431), a
 * STATUS_TIMEOUT_MS deadline for the whole exchange, GET and HEAD only,
 * HTTP/1.0 and 1.1, one request per connection.
 */
#ifndef RRTCP_STATUS_H
#define RRTCP_STATUS_H

#include <stddef.h>

struct ev;
struct rr_config;

#define STATUS_MAX_CONNS	64
#define STATUS_MAX_HEAD		8192
#define STATUS_TIMEOUT_MS	5000
/* A reactor tick older than this, or no worker in service for longer
 * than this (the longest restart backoff), is unhealthy. */
#define STATUS_STALE_MS		5000

/* What the request parser found. */
struct status_request {
	int		 head;		/* HEAD (no body in the answer) */
	int		 minor;		/* HTTP/1.<minor> */
	const char	*path;		/* not NUL-terminated */
	size_t		 pathlen;
	const char	*query;		/* after '?', or NULL */
	size_t		 querylen;
};

/*
 * Parses a request head in buf[0..len).  Returns the bytes of the head
 * (request line and headers up to the blank line) when complete, -2 when
 * more is needed, or a negative HTTP status when it cannot be served:
 * -400 malformed, -405 a method other than GET/HEAD, -505 not HTTP/1.0 or
 * 1.1.  The request's pointers point into buf.
 */
int	status_parse_request(const char *buf, size_t len,
	    struct status_request *rq);

/* Is plugin named in query (plugin=NAME, '&'-separated)?  Fills *other
 * with the first other plugin named (or NULL); returns how many were. */
int	status_query_plugins(const char *query, size_t len, const char **other,
	    size_t *otherlen);

/*
 * Control thread, at startup: binds status.address and metrics.address
 * (when configured), starts the pool sampler on control and the server
 * thread.  Returns 0 (also when neither is configured) or -1 with err.
 */
int	status_start(struct ev *control, const struct rr_config *cfg,
	    char *err, size_t errlen);
/* Control thread, at exit: stops and joins the thread, closes it all. */
void	status_stop(void);

#endif
