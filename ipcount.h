/*
 * ipcount.h - connections per client address, per server, across all
 * reactors (tcp.servers.<name>.max_connections_per_ip).
 */
#ifndef RRTCP_IPCOUNT_H
#define RRTCP_IPCOUNT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ipcount_slot;

/*
 * Counts one more connection from ss's address on server srv_index.
 * Returns 1 when counted (*slot is what to give back), 0 when that address
 * already has limit connections, -1 out of memory (nothing counted then).
 * Unix-socket peers have no address: 1 with *slot NULL.
 */
int	ipcount_take(size_t srv_index, const struct sockaddr_storage *ss,
	    uint64_t limit, struct ipcount_slot **slot);
/* The connection counted in slot is gone (NULL: nothing to do). */
void	ipcount_give(struct ipcount_slot *slot);
/* Addresses with at least one connection (for tests and metrics). */
size_t	ipcount_addresses(void);

#endif
