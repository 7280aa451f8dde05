/*
 * config_side.h - the sections beside tcp (rpc, logs, status, metrics), for
 * config.c's schema walk only.
 */
#ifndef RRTCP_CONFIG_SIDE_H
#define RRTCP_CONFIG_SIDE_H

struct field;
struct loader;
struct node;

/* rpc: listen and rrtcp's RPC limits; ncpus sizes the default connection
 * cap when num_workers is left to the CPU count. */
void	config_walk_rpc(struct loader *, const struct node *, unsigned ncpus);
void	config_walk_logs(struct loader *, const struct node *);
/* status: and metrics: (RoadRunner's sections); sect is the top-level key. */
void	config_walk_status(struct loader *, const struct field *sect);
void	config_walk_metrics(struct loader *, const struct field *sect);

#endif
