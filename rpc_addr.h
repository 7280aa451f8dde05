/*
 * rpc_addr.h - private to the rpc_*.c files: the syntax of an RPC address,
 * "tcp://host:port", "host:port", "[v6]:port" or "unix:///path", shared by
 * the server (rpc.c) and the client (rpc_client.c).
 * rpc_addr_is_local() is declared in rpc.h.
 */
#ifndef RRTCP_RPC_ADDR_H
#define RRTCP_RPC_ADDR_H

#include <stddef.h>

#define RPC_ADDR_UNIX	"unix://"
#define RPC_ADDR_HOSTLEN 256
#define RPC_ADDR_PORTLEN 32

/* The path of a "unix://" address, NULL for other schemes. */
const char	*rpc_addr_unix_path(const char *addr);

/* The host:port part of a tcp address (no scheme or "tcp://"), else NULL. */
const char	*rpc_addr_tcp_part(const char *addr);

/*
 * Splits "host:port" or "[v6]:port" into NUL-terminated host (may be "")
 * and port (never "").  Returns 0, or -1 when hp is not of that form or a
 * part does not fit.
 */
int		 rpc_addr_split_hostport(const char *hp, char *host,
		    size_t hostlen, char *port, size_t portlen);

#endif
