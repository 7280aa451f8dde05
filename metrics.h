/*
 * metrics.h - the Prometheus text exposition (format 0.0.4) of the stats:
 * a small writer (families, samples, escaped labels, histograms) and the
 * page GET /metrics serves.  Runs on the status thread; reads only what
 * stats.h, mem.h and /proc give to any thread.
 */
#ifndef RRTCP_METRICS_H
#define RRTCP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MAX_PAGE	(4 * 1024 * 1024)

/* Appends "# HELP name help\n# TYPE name type\n". */
void	metrics_family(struct rr_buf *b, const char *name, const char *type,
	    const char *help);
/* Appends name{labels} value; labels is "" or already formatted. */
void	metrics_sample(struct rr_buf *b, const char *name, const char *labels,
	    double value);
/* Appends k="v" (with a leading comma unless *lab is empty) to lab, v
 * escaped as the format asks (\\, \", \n).  Truncates at len. */
void	metrics_label(char *lab, size_t len, const char *k, const char *v);
/* A histogram's _bucket (cumulative, le="+Inf" last), _sum and _count from
 * per-bucket counts n[0..nb] (n[nb] above the last bound). */
void	metrics_histogram(struct rr_buf *b, const char *name,
	    const char *labels, const double *bounds, const uint64_t *n,
	    size_t nb, double sum);

/* The whole page into b (emptied first); -1 when it cannot be built. */
int	metrics_render(struct rr_buf *b);

#endif
