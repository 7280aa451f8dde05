/*
 * test_sig.c - sig_abbrev(): the names rrtcp logs, and, where glibc is
 * there to compare with, the same answer as sigabbrev_np() for every number.
 */
#include "sig.h"

#include <signal.h>
#include <string.h>

#include <criterion/criterion.h>

Test(sig, names_of_the_signals_rrtcp_handles)
{
	cr_assert_str_eq(sig_abbrev(SIGTERM), "TERM");
	cr_assert_str_eq(sig_abbrev(SIGINT), "INT");
	cr_assert_str_eq(sig_abbrev(SIGQUIT), "QUIT");
	cr_assert_str_eq(sig_abbrev(SIGHUP), "HUP");
	cr_assert_str_eq(sig_abbrev(SIGCHLD), "CHLD");
	cr_assert_str_eq(sig_abbrev(SIGUSR1), "USR1");
	cr_assert_str_eq(sig_abbrev(SIGUSR2), "USR2");
	cr_assert_str_eq(sig_abbrev(SIGKILL), "KILL");
	cr_assert_str_eq(sig_abbrev(SIGSEGV), "SEGV");
}

Test(sig, no_name_is_null)
{
	cr_assert_null(sig_abbrev(0));
	cr_assert_null(sig_abbrev(-1));
	cr_assert_null(sig_abbrev(SIGRTMIN + 1));
	cr_assert_null(sig_abbrev(100000));
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
Test(sig, agrees_with_glibc)
{
	for (int s = 1; s < SIGRTMIN; s++) {
		const char *want = sigabbrev_np(s), *got = sig_abbrev(s);

		if (want == NULL)
			cr_assert_null(got, "signal %d: got %s", s, got);
		else
			cr_assert(got != NULL && strcmp(got, want) == 0,
			    "signal %d: want %s, got %s", s, want,
			    got ? got : "NULL");
	}
}
#endif
