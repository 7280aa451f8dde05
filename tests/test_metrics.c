/*
 * test_metrics.c - the exposition writer (metrics.c) and the request parser
 * of the status server (status.c).
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "metrics.h"
#include "status.h"

static char *
text(struct rr_buf *b)
{
	static char out[8192];
	size_t n = buf_len(b) < sizeof(out) - 1 ? buf_len(b) : sizeof(out) - 1;

	memcpy(out, buf_rptr(b), n);
	out[n] = '\0';
	return out;
}

Test(metrics, family_has_help_then_type)
{
	struct rr_buf b = { 0 };

	metrics_family(&b, "rrtcp_x_total", "counter", "Things.");
	cr_assert_str_eq(text(&b), "# HELP rrtcp_x_total Things.\n"
	    "# TYPE rrtcp_x_total counter\n");
	buf_free(&b);
}

Test(metrics, label_values_are_escaped)
{
	char lab[128] = "";

	metrics_label(lab, sizeof(lab), "server", "a\"b\\c\nd");
	metrics_label(lab, sizeof(lab), "reason", "x");
	cr_assert_str_eq(lab, "server=\"a\\\"b\\\\c\\nd\",reason=\"x\"");
}

Test(metrics, label_truncates_within_its_buffer)
{
	char lab[8] = "";

	metrics_label(lab, sizeof(lab), "server", "longvalue");
	cr_assert_eq(strlen(lab), 7);
}

Test(metrics, samples_print_integers_without_exponent)
{
	struct rr_buf b = { 0 };

	metrics_sample(&b, "a", "", 12345678901.0);
	metrics_sample(&b, "b", "k=\"v\"", 0.25);
	cr_assert_str_eq(text(&b), "a 12345678901\nb{k=\"v\"} 0.25\n");
	buf_free(&b);
}

Test(metrics, histogram_buckets_are_cumulative_with_inf_and_count)
{
	struct rr_buf b = { 0 };
	const double bounds[2] = { 0.5, 1 };
	const uint64_t n[3] = { 2, 0, 3 };

	metrics_histogram(&b, "h_seconds", "server=\"m\"", bounds, n, 2, 7.5);
	cr_assert_str_eq(text(&b),
	    "h_seconds_bucket{server=\"m\",le=\"0.5\"} 2\n"
	    "h_seconds_bucket{server=\"m\",le=\"1\"} 2\n"
	    "h_seconds_bucket{server=\"m\",le=\"+Inf\"} 5\n"
	    "h_seconds_sum{server=\"m\"} 7.5\n"
	    "h_seconds_count{server=\"m\"} 5\n");
	buf_free(&b);
}

/* The input ends flush against a PROT_NONE page: an over-read faults. */
static int
parse_guarded(const char *s, struct status_request *rq)
{
	static char *page;
	long ps = sysconf(_SC_PAGESIZE);
	size_t len = strlen(s);

	if (page == NULL) {
		page = mmap(NULL, (size_t)ps * 4, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		cr_assert_neq(page, MAP_FAILED);
		mprotect(page + ps * 3, (size_t)ps, PROT_NONE);
	}
	cr_assert_leq(len, (size_t)ps * 3);
	memcpy(page + ps * 3 - len, s, len);
	return status_parse_request(page + ps * 3 - len, len, rq);
}

Test(status_parse, get_with_query_and_headers)
{
	struct status_request rq;
	const char *req = "GET /ready?plugin=tcp HTTP/1.1\r\nHost: x\r\n\r\n";

	cr_assert_eq(parse_guarded(req, &rq), (int)strlen(req));
	cr_assert_eq(rq.head, 0);
	cr_assert_eq(rq.minor, 1);
	cr_assert_eq(rq.pathlen, 6);
	cr_assert(memcmp(rq.path, "/ready", 6) == 0);
	cr_assert_eq(rq.querylen, 10);
	cr_assert(memcmp(rq.query, "plugin=tcp", 10) == 0);
}

Test(status_parse, head_http10_bare_newlines)
{
	struct status_request rq;

	cr_assert_eq(parse_guarded("HEAD /health HTTP/1.0\n\n", &rq), 23);
	cr_assert_eq(rq.head, 1);
	cr_assert_eq(rq.minor, 0);
	cr_assert_null(rq.query);
}

Test(status_parse, every_prefix_needs_more)
{
	struct status_request rq;
	const char *req = "GET /metrics HTTP/1.1\r\nA: b\r\n\r\n";

	for (size_t i = 0; i < strlen(req); i++) {
		char part[64];

		memcpy(part, req, i);
		part[i] = '\0';
		cr_assert_eq(parse_guarded(part, &rq), -2, "prefix %zu", i);
	}
}

Test(status_parse, refusals)
{
	struct status_request rq;

	cr_assert_eq(parse_guarded("POST /ready HTTP/1.1\r\n\r\n", &rq), -405);
	cr_assert_eq(parse_guarded("GET /ready HTTP/2.0\r\n\r\n", &rq), -505);
	cr_assert_eq(parse_guarded("GET /ready HTTP/1.1 x\r\n\r\n", &rq),
	    -400);
	cr_assert_eq(parse_guarded("\x16\x03\x01 garbage\r\n\r\n", &rq), -400);
	cr_assert_eq(parse_guarded("GET  HTTP/1.1\r\n\r\n", &rq), -400);
	cr_assert_eq(parse_guarded("GET / HTTP/1.1\r\nno colon\r\n\r\n",
	    &rq), -400);
	cr_assert_eq(parse_guarded("GET / HTTP/1.1\r\n: v\r\n\r\n", &rq),
	    -400);
}

Test(status_parse, plugins_in_the_query)
{
	const char *other;
	size_t olen;

	cr_assert_eq(status_query_plugins("plugin=tcp", 10, &other, &olen), 1);
	cr_assert_null(other);
	cr_assert_eq(status_query_plugins("x=1&plugin=tcp&plugin=http", 26,
	    &other, &olen), 2);
	cr_assert_eq(olen, 4);
	cr_assert(memcmp(other, "http", 4) == 0);
	cr_assert_eq(status_query_plugins(NULL, 0, &other, &olen), 0);
	cr_assert_eq(status_query_plugins("plugin=tcpx", 11, &other, &olen), 1);
	cr_assert_eq(olen, 4);
}
