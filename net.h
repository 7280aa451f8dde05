/*
 * net.h - sockets: listeners for a configured server, peer address text as
 * Go prints it, and connection uuids.
 */
#ifndef RRTCP_NET_H
#define RRTCP_NET_H

#include <stddef.h>
#include <sys/socket.h>

struct rr_server_conf;

#define NET_ADDRSTRLEN	64	/* "[ipv6%zone]:65535" fits */
#define NET_UUIDLEN	36

/*
 * Opens non-blocking listening sockets for srv: every address getaddrinfo
 * gives for its host (Q10), SO_REUSEPORT so each reactor can bind its own
 * copy when reuseport is set.  Fills fds (up to max) and returns the count,
 * or -1 with a message in err.  srv->host "" is IPv4 any (RR), NULL every
 * address (Go's ":port").  exclusive: check first that nobody else
 * (another process, another server entry) already listens there (Q19).
 */
int	net_listen(const struct rr_server_conf *srv, int reuseport,
	    int exclusive, int *fds, int max, char *err, size_t errlen);

/* Formats a peer as Go does: "1.2.3.4:5", "[::1]:5", mapped v4 as v4, unix "@". */
void	net_format_addr(const struct sockaddr *sa, socklen_t len,
	    char *out, size_t outlen);

/* Writes a random lowercase v4 uuid (36 chars + NUL) into out. */
void	net_uuid(char out[NET_UUIDLEN + 1]);

#endif
