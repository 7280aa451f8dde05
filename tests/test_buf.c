/* test_buf.c - the byte buffer: lazy allocation, compaction, caps. */
#include "buf.h"

#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

Test(buf, starts_without_storage)
{
	struct rr_buf b = { 0 };

	cr_assert_null(b.data);
	cr_assert_eq(buf_len(&b), 0);
	buf_free(&b);
}

Test(buf, append_and_consume)
{
	struct rr_buf b = { 0 };

	cr_assert_eq(buf_append(&b, "hello world", 11, 1024), 0);
	cr_assert_eq(buf_len(&b), 11);
	buf_consume(&b, 6);
	cr_assert_eq(buf_len(&b), 5);
	cr_assert_eq(memcmp(buf_rptr(&b), "world", 5), 0);
	buf_consume(&b, 5);
	cr_assert_eq(b.rpos, 0, "markers reset when empty");
	cr_assert_eq(b.wpos, 0);
	buf_free(&b);
}

Test(buf, reserve_compacts_before_growing)
{
	struct rr_buf b = { 0 };
	uint8_t *before;

	cr_assert_eq(buf_reserve(&b, 16, 16, 64), 0);
	cr_assert_eq(b.cap, 16);
	memcpy(buf_wptr(&b), "0123456789abcdef", 16);
	b.wpos = 16;
	buf_consume(&b, 12);
	before = b.data;
	cr_assert_eq(buf_reserve(&b, 10, 16, 64), 0);
	cr_assert_eq(b.data, before, "compacted in place");
	cr_assert_eq(b.cap, 16);
	cr_assert_eq(memcmp(buf_rptr(&b), "cdef", 4), 0);
	cr_assert_eq(b.rpos, 0);
	buf_free(&b);
}

Test(buf, never_grows_past_the_cap)
{
	struct rr_buf b = { 0 };
	char big[100] = { 0 };

	cr_assert_eq(buf_append(&b, big, 60, 64), 0);
	errno = 0;
	cr_assert_eq(buf_append(&b, big, 10, 64), -1);
	cr_assert_eq(errno, ENOBUFS);
	cr_assert_eq(buf_len(&b), 60, "a refused append changes nothing");
	cr_assert_leq(b.cap, 64);
	buf_free(&b);
}
