/*
 * rpc_addr.c - RPC addresses: splitting "tcp://host:port" and "unix:///path"
 * for the server and the client, and telling a local address from one that
 * exposes the unauthenticated RPC to the network.  No sockets, no state.
 */
#include "rpc_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "rpc.h"

int
rpc_addr_split_hostport(const char *hp, char *host, size_t hostlen,
    char *port, size_t portlen)
{
	const char	*end, *colon;
	size_t		 hl;

	if (hp[0] == '[') {
		if ((end = strchr(hp, ']')) == NULL || end[1] != ':')
			return -1;
		hp++;
		hl = (size_t)(end - hp);
		colon = end + 1;
	} else {
		if ((colon = strrchr(hp, ':')) == NULL)
			return -1;
		hl = (size_t)(colon - hp);
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen ||
	    colon[1] == '\0')
		return -1;
	memcpy(host, hp, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

const char *
rpc_addr_unix_path(const char *addr)
{
	size_t	 n = strlen(RPC_ADDR_UNIX);

	return strncmp(addr, RPC_ADDR_UNIX, n) == 0 ? addr + n : NULL;
}

const char *
rpc_addr_tcp_part(const char *addr)
{
	if (strncmp(addr, "tcp://", 6) == 0)
		return addr + 6;
	if (strstr(addr, "://") != NULL)
		return NULL;
	return addr;
}

int
rpc_addr_is_local(const char *addr)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 host[RPC_ADDR_HOSTLEN], port[RPC_ADDR_PORTLEN];
	const char	*hp;

	if (rpc_addr_unix_path(addr) != NULL)
		return 1;
	if ((hp = rpc_addr_tcp_part(addr)) == NULL ||
	    rpc_addr_split_hostport(hp, host, sizeof(host), port,
	    sizeof(port)) == -1)
		return 0;
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}
