/*
 * test_json.c - Go-compatible string escaping, the event context prefix
 * (rrtcp-protocol(7) 4.3 and vector V1) and the control payload reader.
 *
 * Inputs sit flush against a PROT_NONE page (guard_copy()), so a read past
 * n faults even without ASan.
 */
#include "json.h"

#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"

#define UUID	"0b7e4a1c-3f2d-4c8e-9a6b-5d1f2e3c4b5a"
#define V1_CTX	"{\"remote_addr\":\"127.0.0.1:50000\",\"server\":\"smtp\"," \
		"\"uuid\":\"" UUID "\",\"event\":\"CONNECTED\"}"


/* json_quote() of s[0..n) read from a guarded copy, NUL-terminated. */
static const char *
quoted(const char *s, size_t n)
{
	static char	 out[4096];
	char		*g = guard_copy(s, n);
	size_t		 len;

	cr_assert(JSON_QUOTED_MAX(n) < sizeof(out));
	len = json_quote(out, g, n);
	cr_assert(len <= JSON_QUOTED_MAX(n));
	out[len] = '\0';
	guard_free(g, n);
	return out;
}

#define QUOTE_IS(in, want)						\
	cr_assert_str_eq(quoted(in, sizeof(in) - 1), want, "input %s", #in)

static int
control(const char *s, size_t n, int64_t *pid)
{
	char	*g = guard_copy(s, n);
	int	 r;

	r = json_control(g, n, pid);
	guard_free(g, n);
	return r;
}

/* json_control() of a literal; pid starts at -99 to catch stray writes. */
#define CONTROL(s, want, want_pid) do {					\
	int64_t	 pid_ = -99;						\
	cr_assert_eq(control(s, sizeof(s) - 1, &pid_), want, "%s", s);	\
	cr_assert_eq(pid_, want_pid, "%s: pid %lld", s, (long long)pid_);\
} while (0)

/* --- json_quote ------------------------------------------------------- */

Test(json, quote_empty_string)
{
	QUOTE_IS("", "\"\"");
}

Test(json, quote_plain_ascii_raw)
{
	QUOTE_IS("127.0.0.1:50000", "\"127.0.0.1:50000\"");
	QUOTE_IS("a b/c'~`{}[]:,", "\"a b/c'~`{}[]:,\"");
}

Test(json, quote_escapes_quote_and_backslash)
{
	QUOTE_IS("a\"b\\c", "\"a\\\"b\\\\c\"");
}

Test(json, quote_short_escapes_newline_cr_tab)
{
	QUOTE_IS("\n\r\t", "\"\\n\\r\\t\"");
}

Test(json, quote_other_controls_as_lowercase_u00xx)
{
	QUOTE_IS("\x01\x1f", "\"\\u0001\\u001f\"");
	/* Go 1.19 has no \b or \f short forms. */
	QUOTE_IS("\b\f\v\x1b", "\"\\u0008\\u000c\\u000b\\u001b\"");
	cr_assert_str_eq(quoted("a\0b", 3), "\"a\\u0000b\"");
}

Test(json, quote_del_stays_raw)
{
	QUOTE_IS("\x7f", "\"\x7f\"");
}

Test(json, quote_html_characters_escaped)
{
	QUOTE_IS("<a&b>", "\"\\u003ca\\u0026b\\u003e\"");
}

Test(json, quote_line_and_paragraph_separators_escaped)
{
	QUOTE_IS("a\xe2\x80\xa8" "b\xe2\x80\xa9", "\"a\\u2028b\\u2029\"");
	/* Their neighbours pass raw. */
	QUOTE_IS("\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\"");
}

Test(json, quote_valid_multibyte_raw)
{
	QUOTE_IS("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	QUOTE_IS("\xe2\x82\xac", "\"\xe2\x82\xac\"");			/* U+20AC */
	QUOTE_IS("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");		/* U+1F600 */
	QUOTE_IS("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");			/* U+FFFD */
	QUOTE_IS("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");			/* U+D7FF */
	QUOTE_IS("\xee\x80\x80", "\"\xee\x80\x80\"");			/* U+E000 */
	QUOTE_IS("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");		/* U+10FFFF */
	QUOTE_IS("\xc2\x80", "\"\xc2\x80\"");				/* U+0080 */
}

Test(json, quote_invalid_byte_becomes_replacement)
{
	QUOTE_IS("\xff", "\"\\ufffd\"");
	QUOTE_IS("\xfe", "\"\\ufffd\"");
	QUOTE_IS("\x80", "\"\\ufffd\"");
	QUOTE_IS("\xf5\x80\x80\x80",
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

Test(json, quote_truncated_sequence_at_end)
{
	QUOTE_IS("\xc3", "\"\\ufffd\"");
	QUOTE_IS("\xe2\x82", "\"\\ufffd\\ufffd\"");
	QUOTE_IS("\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\"");
}

Test(json, quote_bad_sequence_replaced_byte_by_byte)
{
	/* Go replaces the lead byte only and resumes at the next byte. */
	QUOTE_IS("\xe2\x28\xa1", "\"\\ufffd(\\ufffd\"");
	QUOTE_IS("\xc3" "a", "\"\\ufffda\"");
	QUOTE_IS("\xc3\xc3\xa9", "\"\\ufffd\xc3\xa9\"");
}

Test(json, quote_surrogates_invalid)
{
	QUOTE_IS("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");	/* U+D800 */
	QUOTE_IS("\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\"");	/* U+DFFF */
}

Test(json, quote_overlongs_invalid)
{
	QUOTE_IS("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	QUOTE_IS("\xc1\xbf", "\"\\ufffd\\ufffd\"");
	QUOTE_IS("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
	QUOTE_IS("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

Test(json, quote_above_10ffff_invalid)
{
	QUOTE_IS("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

Test(json, quote_worst_case_fits_bound)
{
	char	 in[600];
	size_t	 i;

	memset(in, '<', sizeof(in));
	cr_assert_eq(strlen(quoted(in, sizeof(in))), JSON_QUOTED_MAX(600));
	memset(in, 0xff, sizeof(in));
	cr_assert_eq(strlen(quoted(in, sizeof(in))), JSON_QUOTED_MAX(600));
	for (i = 0; i + 3 <= sizeof(in); i += 3)
		memcpy(in + i, "\xe2\x80\xa8", 3);
	cr_assert_eq(strlen(quoted(in, sizeof(in))), 2 + 6 * 200);
}

/* --- json_ctx_prefix ------------------------------------------------- */

static size_t
ctx(char *out, size_t cap, const char *ra, const char *srv, const char *ev)
{
	size_t	 n;

	n = json_ctx_prefix(out, cap, ra, srv, strlen(srv), UUID);
	cr_assert(n > 0);
	cr_assert(n + strlen(ev) + 2 <= cap);
	memcpy(out + n, ev, strlen(ev));
	memcpy(out + n + strlen(ev), "\"}", 2);
	return n + strlen(ev) + 2;
}

Test(json, ctx_v1_connected_is_115_bytes)
{
	/* V1's payload, copied from the hex of rrtcp-protocol(7) section 6. */
	static const char	 hex[] =
	    "7b2272656d6f74655f61646472223a223132372e302e302e313a3530303030222c"
	    "22736572766572223a22736d7470222c2275756964223a2230623765346131632d"
	    "336632642d346338652d396136622d356431663265336334623561222c22657665"
	    "6e74223a22434f4e4e4543544544227d";
	char			 want[128], out[256];
	size_t			 i, n;
	unsigned		 b;

	for (i = 0; i < sizeof(want) && hex[2 * i] != '\0'; i++) {
		cr_assert(sscanf(hex + 2 * i, "%2x", &b) == 1);
		want[i] = (char)b;
	}
	cr_assert_eq(i, 115);
	n = ctx(out, sizeof(out), "127.0.0.1:50000", "smtp", "CONNECTED");
	cr_assert_eq(n, 115);
	cr_assert(memcmp(out, want, 115) == 0);
	cr_assert(memcmp(out, V1_CTX, 115) == 0);
}

Test(json, ctx_v1b_data_is_110_bytes)
{
	static const char	 want[] = "{\"remote_addr\":\"127.0.0.1:50000\","
	    "\"server\":\"smtp\",\"uuid\":\"" UUID "\",\"event\":\"DATA\"}";
	char			 out[256];

	cr_assert_eq(ctx(out, sizeof(out), "127.0.0.1:50000", "smtp", "DATA"),
	    110);
	cr_assert(memcmp(out, want, 110) == 0);
}

Test(json, ctx_prefix_ends_inside_event_string)
{
	char	 out[256];
	size_t	 n;

	n = json_ctx_prefix(out, sizeof(out), "[::1]:50000", "smtp", 4, UUID);
	cr_assert_eq(n, strlen("{\"remote_addr\":\"[::1]:50000\",\"server\":"
	    "\"smtp\",\"uuid\":\"" UUID "\",\"event\":\""));
	cr_assert(memcmp(out + n - 10, ",\"event\":\"", 10) == 0);
}

Test(json, ctx_prefix_escapes_server_name)
{
	static const char	 want[] = "{\"remote_addr\":\"@\",\"server\":"
	    "\"a\\\"\\u003c\\u2028\\ufffd\",\"uuid\":\"" UUID "\",\"event\":\"";
	char			 out[256];
	size_t			 n;

	n = json_ctx_prefix(out, sizeof(out), "@", "a\"<\xe2\x80\xa8\xff", 7,
	    UUID);
	cr_assert_eq(n, sizeof(want) - 1);
	cr_assert(memcmp(out, want, n) == 0);
}

Test(json, ctx_prefix_uses_server_len_not_nul)
{
	char	 out[256];
	size_t	 n;

	n = json_ctx_prefix(out, sizeof(out), "@", "smtpXXX", 4, UUID);
	out[n] = '\0';
	cr_assert(strstr(out, "\"server\":\"smtp\",") != NULL);
}

Test(json, ctx_prefix_too_small_returns_zero)
{
	char	 out[256], *g;
	size_t	 need;

	need = json_ctx_prefix(out, sizeof(out), "127.0.0.1:50000", "smtp", 4,
	    UUID);
	cr_assert_eq(need, 115 - strlen("CONNECTED\"}"));
	/* Exactly enough room, flush against the guard page: fits. */
	g = guard_copy(out, need);
	cr_assert_eq(json_ctx_prefix(g, need, "127.0.0.1:50000", "smtp", 4,
	    UUID), need);
	cr_assert(memcmp(g, out, need) == 0);
	guard_free(g, need);
	/* One byte short: refused, and nothing written past cap. */
	g = guard_copy(out, need - 1);
	cr_assert_eq(json_ctx_prefix(g, need - 1, "127.0.0.1:50000", "smtp",
	    4, UUID), 0);
	guard_free(g, need - 1);
	cr_assert_eq(json_ctx_prefix(out, 0, "", "", 0, ""), 0);
}

/* --- json_control ---------------------------------------------------- */

Test(json, control_pid_reply)
{
	CONTROL("{\"pid\":4242}", 0, 4242);
	CONTROL("{\"pid\":4200}", 0, 4200);
}

Test(json, control_tolerates_whitespace)
{
	CONTROL("{ \"pid\" : 7 }", 0, 7);
	CONTROL(" \r\n\t{\n\t\"pid\"\t:\r\n7\n}\n ", 0, 7);
}

Test(json, control_pid_must_be_positive_integer)
{
	CONTROL("{\"pid\":0}", -1, -99);
	CONTROL("{\"pid\":-5}", -1, -99);
	CONTROL("{\"pid\":-0}", -1, -99);
	CONTROL("{\"pid\":4.5}", -1, -99);
	CONTROL("{\"pid\":42.0}", -1, -99);
	CONTROL("{\"pid\":1e3}", -1, -99);
	CONTROL("{\"pid\":\"42\"}", -1, -99);
	CONTROL("{\"pid\":true}", -1, -99);
	CONTROL("{\"pid\":null}", -1, -99);
	CONTROL("{\"pid\":[1]}", -1, -99);
}

Test(json, control_pid_range_is_int64)
{
	CONTROL("{\"pid\":9223372036854775807}", 0, INT64_MAX);
	CONTROL("{\"pid\":9223372036854775808}", -1, -99);
	CONTROL("{\"pid\":99999999999999999999999}", -1, -99);
}

Test(json, control_stop_true)
{
	CONTROL("{\"stop\":true}", 1, -99);
	CONTROL("{ \"stop\" : true }", 1, -99);
}

Test(json, control_stop_php_truthiness)
{
	CONTROL("{\"stop\":1}", 1, -99);
	CONTROL("{\"stop\":-2.5}", 1, -99);
	CONTROL("{\"stop\":0.001}", 1, -99);
	CONTROL("{\"stop\":\"yes\"}", 1, -99);
	CONTROL("{\"stop\":\"00\"}", 1, -99);
	CONTROL("{\"stop\":\"0.0\"}", 1, -99);
	CONTROL("{\"stop\":\"false\"}", 1, -99);
	CONTROL("{\"stop\":[0]}", 1, -99);
	CONTROL("{\"stop\":{\"a\":null}}", 1, -99);
}

Test(json, control_stop_php_falsiness)
{
	CONTROL("{\"stop\":false}", -1, -99);
	CONTROL("{\"stop\":null}", -1, -99);
	CONTROL("{\"stop\":0}", -1, -99);
	CONTROL("{\"stop\":-0}", -1, -99);
	CONTROL("{\"stop\":0.0}", -1, -99);
	CONTROL("{\"stop\":0e5}", -1, -99);
	CONTROL("{\"stop\":\"\"}", -1, -99);
	CONTROL("{\"stop\":\"0\"}", -1, -99);
	CONTROL("{\"stop\":\"\\u0030\"}", -1, -99);
	CONTROL("{\"stop\":[]}", -1, -99);
	CONTROL("{\"stop\":{}}", -1, -99);
}

Test(json, control_stop_wins_over_pid)
{
	CONTROL("{\"pid\":5,\"stop\":true}", 1, -99);
	CONTROL("{\"stop\":true,\"pid\":5}", 1, -99);
	CONTROL("{\"pid\":5,\"stop\":false}", 0, 5);
}

Test(json, control_last_duplicate_key_wins)
{
	CONTROL("{\"pid\":1,\"pid\":2}", 0, 2);
	CONTROL("{\"pid\":1,\"pid\":0}", -1, -99);
	CONTROL("{\"stop\":true,\"stop\":false}", -1, -99);
}

Test(json, control_skips_unknown_keys)
{
	CONTROL("{\"a\":\"x\\\"}\",\"pid\":5}", 0, 5);
	CONTROL("{\"a\":1,\"b\":-2.5e-3,\"c\":null,\"d\":false,\"pid\":6}",
	    0, 6);
	CONTROL("{\"a\":{\"b\":[1,2,{\"c\":\"}]\"}],\"d\":{}},\"pid\":6}",
	    0, 6);
	CONTROL("{\"a\":\"\\\\\\\"\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\","
	    "\"pid\":6}", 0, 6);
	CONTROL("{\"a\":\"caf\xc3\xa9\",\"pid\":6}", 0, 6);
	CONTROL("{}", -1, -99);
}

Test(json, control_ignores_nested_keys)
{
	CONTROL("{\"a\":{\"pid\":5}}", -1, -99);
	CONTROL("{\"a\":[{\"stop\":true}]}", -1, -99);
}

Test(json, control_matches_keys_after_unescaping)
{
	CONTROL("{\"p\\u0069d\":8}", 0, 8);
	CONTROL("{\"pid \":8}", -1, -99);
	CONTROL("{\"pi\":8}", -1, -99);
	CONTROL("{\"PID\":8}", -1, -99);
	CONTROL("{\"stopper\":true}", -1, -99);
}

Test(json, control_truncated_input_rejected)
{
	static const char	*const full[] = {
		"{\"pid\":4242}",
		"{\"a\":\"x\\\"}\",\"pid\":5}",
		"{\"stop\":true}",
		"{\"a\":[1,{\"b\":\"\\u00e9\"}],\"pid\":1.5e3}",
	};
	size_t			 i, k;
	int64_t			 pid;

	for (i = 0; i < sizeof(full) / sizeof(full[0]); i++)
		for (k = 0; k < strlen(full[i]); k++) {
			pid = -99;
			cr_assert_eq(control(full[i], k, &pid), -1,
			    "%.*s", (int)k, full[i]);
			cr_assert_eq(pid, -99);
		}
}

Test(json, control_non_object_rejected)
{
	CONTROL("", -1, -99);
	CONTROL("   ", -1, -99);
	CONTROL("[]", -1, -99);
	CONTROL("[{\"pid\":1}]", -1, -99);
	CONTROL("\"pid\"", -1, -99);
	CONTROL("4242", -1, -99);
	CONTROL("null", -1, -99);
	CONTROL("true", -1, -99);
}

Test(json, control_syntax_errors_rejected)
{
	CONTROL("{\"pid\":1}x", -1, -99);
	CONTROL("{\"pid\":1}{}", -1, -99);
	CONTROL("{\"pid\":1,}", -1, -99);
	CONTROL("{,\"pid\":1}", -1, -99);
	CONTROL("{pid:1}", -1, -99);
	CONTROL("{'pid':1}", -1, -99);
	CONTROL("{\"pid\" 1}", -1, -99);
	CONTROL("{\"pid\":01}", -1, -99);
	CONTROL("{\"pid\":+1}", -1, -99);
	CONTROL("{\"pid\":1.}", -1, -99);
	CONTROL("{\"pid\":1e}", -1, -99);
	CONTROL("{\"pid\":tru}", -1, -99);
	CONTROL("{\"pid\":1 2}", -1, -99);
	CONTROL("{\"a\":\"\\x\",\"pid\":1}", -1, -99);
	CONTROL("{\"a\":\"\\u12g4\",\"pid\":1}", -1, -99);
	CONTROL("{\"a\":\"\x01\",\"pid\":1}", -1, -99);
	CONTROL("{\"a\":\"\xff\",\"pid\":1}", -1, -99);
	CONTROL("{\"a\":[1,],\"pid\":1}", -1, -99);
}

Test(json, control_trailing_whitespace_allowed)
{
	CONTROL("{\"pid\":1} \r\n", 0, 1);
}

Test(json, control_embedded_nul_rejected)
{
	int64_t	 pid = -99;

	cr_assert_eq(control("{\"pid\":1}\0", 10, &pid), -1);
	cr_assert_eq(control("{\"a\":\"\0\",\"pid\":1}", 17, &pid), -1);
	cr_assert_eq(pid, -99);
}

Test(json, control_deep_nesting_bounded)
{
	char	 buf[20000];
	size_t	 n, i;
	int64_t	 pid = -99;

	/* Moderate nesting is skipped... */
	n = (size_t)sprintf(buf, "{\"a\":[[[[[[[[[[]]]]]]]]]],\"pid\":3}");
	cr_assert_eq(control(buf, n, &pid), 0);
	cr_assert_eq(pid, 3);
	/* ...deep nesting is refused without exhausting the stack. */
	memcpy(buf, "{\"a\":", 5);
	for (i = 5; i < sizeof(buf); i++)
		buf[i] = '[';
	cr_assert_eq(control(buf, sizeof(buf), &pid), -1);
}
