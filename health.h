/*
 * health.h - process-wide facts the status endpoints, the metrics and the
 * systemd notifications report, set by whoever knows them (any thread).
 */
#ifndef RRTCP_HEALTH_H
#define RRTCP_HEALTH_H

#include <stdint.h>

/* Every listener is bound and the reactors run (rrtcp.c, after startup). */
void	health_set_serving(int on);
int	health_serving(void);
/* Shutdown has begun: readiness goes first (tcp.drain_delay). */
void	health_set_draining(int on);
int	health_draining(void);

#endif
