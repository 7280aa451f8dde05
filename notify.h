/*
 * notify.h - the service manager's readiness protocol (systemd's sd_notify),
 * written by hand: one datagram of "KEY=value" lines to $NOTIFY_SOCKET.
 *
 * notify_init() reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and
 * removes them from the environment, so the workers rrtcp spawns neither
 * inherit them nor report in its name.  Without NOTIFY_SOCKET every call is
 * a no-op.  Sending never blocks: the socket is non-blocking, and a failed
 * send is logged once and otherwise ignored.  Main thread only.
 */
#ifndef RRTCP_NOTIFY_H
#define RRTCP_NOTIFY_H

#include <stdint.h>
#include <sys/types.h>

/* Reads and unsets the variables; opens the socket.  0, or -1 (logged)
 * when NOTIFY_SOCKET is set but unusable: notifications are then off. */
int		 notify_init(void);
int		 notify_enabled(void);
/* Sends text as one datagram ("READY=1\nSTATUS=..."); 0 or -1. */
int		 notify_send(const char *text);
/* printf into one datagram; 0 or -1 (also when it does not fit). */
int		 notify_sendf(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
/* CLOCK_MONOTONIC in microseconds, as RELOADING=1 wants it beside it. */
uint64_t	 notify_monotonic_usec(void);
/* The watchdog interval notify_init() accepted, in µs; 0 when none. */
uint64_t	 notify_watchdog_usec(void);
/*
 * WATCHDOG_USEC and WATCHDOG_PID as sd_watchdog_enabled() reads them: the
 * interval in µs when usec is a positive decimal and pid is NULL or equals
 * self, else 0.  Pure, for the tests.
 */
uint64_t	 notify_parse_watchdog(const char *usec, const char *pid,
		    pid_t self);
void		 notify_close(void);

#endif
