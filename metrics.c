/*
 * metrics.c - the /metrics page.
 *
 * Names follow the Prometheus conventions: rrtcp_ prefix, _total on
 * counters, base units (_seconds, _bytes), a server label on what belongs
 * to one tcp.servers entry.  Counters are summed over the reactors at
 * scrape time (stats.c); the process_* series are read from /proc.
 */
#include "metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health.h"
#include "mem.h"
#include "pool.h"
#include "stats.h"

static void
put(struct rr_buf *b, const char *s, size_t n)
{
	/* A page over the cap is cut; metrics_render reports it. */
	(void)buf_append(b, s, n, METRICS_MAX_PAGE);
}

static void
puts_(struct rr_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

void
metrics_family(struct rr_buf *b, const char *name, const char *type,
    const char *help)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n",
	    name, help, name, type);

	put(b, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void
fmt_value(char *out, size_t len, double v)
{
	if (isnan(v))
		snprintf(out, len, "NaN");
	else if (isinf(v))
		snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
	else if (v == (double)(int64_t)v && fabs(v) < 9.0e15)
		snprintf(out, len, "%" PRId64, (int64_t)v);
	else
		snprintf(out, len, "%.17g", v);
}

void
metrics_sample(struct rr_buf *b, const char *name, const char *labels,
    double value)
{
	char v[64];

	fmt_value(v, sizeof(v), value);
	puts_(b, name);
	if (labels[0] != '\0') {
		puts_(b, "{");
		puts_(b, labels);
		puts_(b, "}");
	}
	puts_(b, " ");
	puts_(b, v);
	puts_(b, "\n");
}

void
metrics_label(char *lab, size_t len, const char *k, const char *v)
{
	size_t n = strlen(lab);

#define ADD(ch) do { if (n + 1 < len) lab[n++] = (ch); } while (0)
	if (n > 0)
		ADD(',');
	for (; *k; k++)
		ADD(*k);
	ADD('=');
	ADD('"');
	for (; *v; v++) {
		if (*v == '\\' || *v == '"') {
			ADD('\\');
			ADD(*v);
		} else if (*v == '\n') {
			ADD('\\');
			ADD('n');
		} else
			ADD(*v);
	}
	ADD('"');
#undef ADD
	lab[n < len ? n : len - 1] = '\0';
}

void
metrics_histogram(struct rr_buf *b, const char *name, const char *labels,
    const double *bounds, const uint64_t *n, size_t nb, double sum)
{
	char full[160], lab[512], le[32];
	uint64_t cum = 0;

	snprintf(full, sizeof(full), "%s_bucket", name);
	for (size_t i = 0; i <= nb; i++) {
		cum += n[i];
		snprintf(lab, sizeof(lab), "%s", labels);
		if (i < nb)
			fmt_value(le, sizeof(le), bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		metrics_label(lab, sizeof(lab), "le", le);
		metrics_sample(b, full, lab, (double)cum);
	}
	snprintf(full, sizeof(full), "%s_sum", name);
	metrics_sample(b, full, labels, sum);
	snprintf(full, sizeof(full), "%s_count", name);
	metrics_sample(b, full, labels, (double)cum);
}

/* --- the page --------------------------------------------------------------- */

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

static double
resident_bytes(void)
{
	unsigned long long size, res;
	FILE *fp = fopen("/proc/self/statm", "r");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fscanf(fp, "%llu %llu", &size, &res) == 2;
	fclose(fp);
	return ok ? (double)res * (double)sysconf(_SC_PAGESIZE) : -1;
}

struct restart_ctx {
	struct rr_buf	*b;
};

static void
put_restart(void *arg, const char *reason, uint64_t n)
{
	struct restart_ctx *rc = arg;
	char lab[128] = "";

	metrics_label(lab, sizeof(lab), "reason", reason);
	metrics_sample(rc->b, "rrtcp_worker_restarts_total", lab, (double)n);
}

/* One labelled series per server and per value of a second label. */
#define PER_SERVER(b, name, sums, ns, ...) do {				\
	char lab_[512] = "", srv_[128];					\
	for (size_t i_ = 0; i_ < (ns); i_++) {				\
		stats_server_name(i_, srv_, sizeof(srv_));		\
		lab_[0] = '\0';						\
		metrics_label(lab_, sizeof(lab_), "server", srv_);	\
		__VA_ARGS__;						\
	}								\
} while (0)

int
metrics_render(struct rr_buf *b)
{
	size_t ns = stats_nservers();
	struct stats_server_sum *sum = NULL;
	struct stats_pool pool;
	struct restart_ctx rc = { b };
	double v, bounds[STATS_NBUCKETS];

	for (int i = 0; i < STATS_NBUCKETS; i++)
		bounds[i] = (double)stats_bucket_ns[i] / 1e9;
	b->rpos = b->wpos = 0;
	if (ns > 0 && (sum = calloc(ns, sizeof(*sum))) == NULL)
		return -1;
	for (size_t i = 0; i < ns; i++)
		stats_sum_server(i, &sum[i]);

	metrics_family(b, "rrtcp_connections_open", "gauge",
	    "Client connections whose socket is open.");
	PER_SERVER(b, x, sum, ns, {
		uint64_t closed = 0;
		for (int k = 0; k < STATS_CLOSE_N; k++)
			closed += sum[i_].closed[k];
		metrics_sample(b, "rrtcp_connections_open", lab_,
		    sum[i_].accepted > closed ?
		    (double)(sum[i_].accepted - closed) : 0);
	});
	metrics_family(b, "rrtcp_connections_accepted_total", "counter",
	    "Client connections accepted.");
	PER_SERVER(b, x, sum, ns, metrics_sample(b,
	    "rrtcp_connections_accepted_total", lab_,
	    (double)sum[i_].accepted));
	metrics_family(b, "rrtcp_connections_closed_total", "counter",
	    "Client sockets closed, by reason class.");
	PER_SERVER(b, x, sum, ns, {
		size_t base = strlen(lab_);
		for (int k = 0; k < STATS_CLOSE_N; k++) {
			lab_[base] = '\0';
			metrics_label(lab_, sizeof(lab_), "reason",
			    stats_close_str((enum stats_close)k));
			metrics_sample(b, "rrtcp_connections_closed_total",
			    lab_, (double)sum[i_].closed[k]);
		}
	});
	metrics_family(b, "rrtcp_connections_refused_total", "counter",
	    "Client connections refused at accept, by limit.");
	PER_SERVER(b, x, sum, ns, {
		size_t base = strlen(lab_);
		for (int k = 0; k < STATS_REFUSE_N; k++) {
			lab_[base] = '\0';
			metrics_label(lab_, sizeof(lab_), "reason",
			    stats_refuse_str((enum stats_refuse)k));
			metrics_sample(b, "rrtcp_connections_refused_total",
			    lab_, (double)sum[i_].refused[k]);
		}
	});
	metrics_family(b, "rrtcp_received_bytes_total", "counter",
	    "Bytes read from clients.");
	PER_SERVER(b, x, sum, ns, metrics_sample(b,
	    "rrtcp_received_bytes_total", lab_, (double)sum[i_].bytes_in));
	metrics_family(b, "rrtcp_sent_bytes_total", "counter",
	    "Reply bytes written to clients.");
	PER_SERVER(b, x, sum, ns, metrics_sample(b,
	    "rrtcp_sent_bytes_total", lab_, (double)sum[i_].bytes_out));
	metrics_family(b, "rrtcp_events_total", "counter",
	    "Events dispatched to workers, by type (DATA: one per message).");
	PER_SERVER(b, x, sum, ns, {
		size_t base = strlen(lab_);
		for (int k = 0; k < STATS_EV_N; k++) {
			lab_[base] = '\0';
			metrics_label(lab_, sizeof(lab_), "event",
			    stats_event_str((enum stats_event)k));
			metrics_sample(b, "rrtcp_events_total", lab_,
			    (double)sum[i_].events[k]);
		}
	});
	metrics_family(b, "rrtcp_events_failed_total", "counter",
	    "Events that failed, by reason class.");
	PER_SERVER(b, x, sum, ns, {
		size_t base = strlen(lab_);
		for (int k = 0; k < STATS_FAIL_N; k++) {
			lab_[base] = '\0';
			metrics_label(lab_, sizeof(lab_), "reason",
			    stats_fail_str((enum stats_fail)k));
			metrics_sample(b, "rrtcp_events_failed_total", lab_,
			    (double)sum[i_].failed[k]);
		}
	});
	metrics_family(b, "rrtcp_event_queue_wait_seconds", "histogram",
	    "Time an event waited for a worker.");
	PER_SERVER(b, x, sum, ns, metrics_histogram(b,
	    "rrtcp_event_queue_wait_seconds", lab_, bounds,
	    sum[i_].wait, STATS_NBUCKETS, (double)sum[i_].wait_sum_ns / 1e9));
	metrics_family(b, "rrtcp_event_duration_seconds", "histogram",
	    "Time from sending an event to a worker to its outcome.");
	PER_SERVER(b, x, sum, ns, metrics_histogram(b,
	    "rrtcp_event_duration_seconds", lab_, bounds,
	    sum[i_].exec, STATS_NBUCKETS, (double)sum[i_].exec_sum_ns / 1e9));
	free(sum);

	stats_pool(&pool);
	metrics_family(b, "rrtcp_workers", "gauge",
	    "Worker processes by state (RoadRunner's state names).");
	for (int s = 0; s <= WS_EXEC_TTL && s < STATS_NSTATES; s++) {
		const char *name = pool_status_str(s);
		char lab[96] = "";

		metrics_label(lab, sizeof(lab), "state", name);
		metrics_sample(b, "rrtcp_workers", lab,
		    (double)pool.by_state[s]);
	}
	metrics_family(b, "rrtcp_worker_restarts_total", "counter",
	    "Workers that left service while the pool ran, by reason.");
	stats_worker_restarts(put_restart, &rc);
	metrics_family(b, "rrtcp_pending_output_bytes", "gauge",
	    "Reply bytes waiting for clients to read them.");
	metrics_sample(b, "rrtcp_pending_output_bytes", "",
	    (double)stats_pending_out());
	metrics_family(b, "rrtcp_buffer_memory_bytes", "gauge",
	    "Bytes held for clients and RPC peers (tcp.max_buffer_memory).");
	metrics_sample(b, "rrtcp_buffer_memory_bytes", "", (double)mem_held());
	metrics_family(b, "rrtcp_ready", "gauge",
	    "1 while serving and not draining.");
	metrics_sample(b, "rrtcp_ready", "", health_serving() &&
	    !health_draining() ? 1 : 0);
	if ((v = resident_bytes()) >= 0) {
		metrics_family(b, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.");
		metrics_sample(b, "process_resident_memory_bytes", "", v);
	}
	if ((v = open_fds()) >= 0) {
		metrics_family(b, "process_open_fds", "gauge",
		    "Number of open file descriptors.");
		metrics_sample(b, "process_open_fds", "", v);
	}
	return buf_len(b) >= METRICS_MAX_PAGE ? -1 : 0;
}
