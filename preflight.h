/*
 * preflight.h - what serve will try, tried without serving: the worker
 * command is there, each server's host resolves, and (rrtcp check) each
 * listener's address can be bound.  rrtcp check and a SIGHUP reload run the
 * same checks through preflight_run(), so a config check rejects is never
 * applied by a reload.
 */
#ifndef RRTCP_PREFLIGHT_H
#define RRTCP_PREFLIGHT_H

#include <sys/types.h>

#include "config.h"

/* Also bind (and at once close) each server's address: rrtcp check. */
#define PREFLIGHT_BIND	0x1

/*
 * Runs the checks on cfg, reporting each finding through report as
 * "file:line: message" (CONFIG_ERROR or CONFIG_WARN), and returns the number
 * of errors.  Relative worker programs resolve from the current directory:
 * call it from the work dir, where workers start.  An address in use is an
 * error, but only a warning when the work dir's .pid names a live rrtcp (the
 * running instance of this config, presumably).
 */
int	preflight_run(const struct rr_config *cfg, int flags,
	    config_report_fn *report, void *arg);

/* Is pid a live process (not a zombie)? */
int	preflight_pid_running(pid_t pid);

#endif
