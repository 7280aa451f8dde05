/*
 * sig.h - signal names without glibc: sig_abbrev(SIGTERM) is "TERM".
 *
 * The drop-in for glibc's sigabbrev_np(), which musl lacks: the same
 * abbreviations (no "SIG" prefix) and the same NULL for a number that has
 * none, such as the real-time signals.  Constant strings; thread-safe.
 */
#ifndef RRTCP_SIG_H
#define RRTCP_SIG_H

const char	*sig_abbrev(int sig);

#endif
