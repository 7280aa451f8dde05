/*
 * ipcount.c - a small hash table of (server, address) -> connections,
 * behind one mutex: it is touched once per accept and once per close.
 * IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
 */
#include "ipcount.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS	4096

struct ipkey {
	size_t		 srv;
	uint8_t		 addr[16];	/* IPv4 in the first 4 bytes */
	uint8_t		 len;
};

struct ipcount_slot {
	struct ipkey	 key;
	uint64_t	 count;
	size_t		 bucket;
	struct ipcount_slot *next;
};

static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static struct ipcount_slot	*buckets[NBUCKETS];
static size_t		 naddrs;

/* Fills k from ss; 0, or -1 for a peer with no IP address. */
static int
key_of(size_t srv, const struct sockaddr_storage *ss, struct ipkey *k)
{
	memset(k, 0, sizeof(*k));
	k->srv = srv;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		memcpy(k->addr, &in->sin_addr, 4);
		k->len = 4;
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(k->addr, in6->sin6_addr.s6_addr + 12, 4);
			k->len = 4;
		} else {
			memcpy(k->addr, &in6->sin6_addr, 16);
			k->len = 16;
		}
		return 0;
	}
	return -1;
}

static size_t
hash(const struct ipkey *k)
{
	uint64_t h = 1469598103934665603ULL ^ k->srv;	/* FNV-1a */

	for (int i = 0; i < k->len; i++)
		h = (h ^ k->addr[i]) * 1099511628211ULL;
	return (size_t)(h % NBUCKETS);
}

static int
same(const struct ipkey *a, const struct ipkey *b)
{
	return a->srv == b->srv && a->len == b->len &&
	    memcmp(a->addr, b->addr, a->len) == 0;
}

int
ipcount_take(size_t srv_index, const struct sockaddr_storage *ss,
    uint64_t limit, struct ipcount_slot **slot)
{
	struct ipkey k;
	struct ipcount_slot *e;
	size_t b;
	int rc = 1;

	*slot = NULL;
	if (key_of(srv_index, ss, &k) == -1)
		return 1;
	b = hash(&k);
	pthread_mutex_lock(&mtx);
	for (e = buckets[b]; e != NULL; e = e->next)
		if (same(&e->key, &k))
			break;
	if (e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		e->key = k;
		e->bucket = b;
		e->next = buckets[b];
		buckets[b] = e;
		naddrs++;
	}
	if (e == NULL)
		rc = -1;
	else if (limit > 0 && e->count >= limit)
		rc = 0;
	else {
		e->count++;
		*slot = e;
	}
	pthread_mutex_unlock(&mtx);
	return rc;
}

void
ipcount_give(struct ipcount_slot *slot)
{
	struct ipcount_slot **pp;

	if (slot == NULL)
		return;
	pthread_mutex_lock(&mtx);
	if (--slot->count == 0) {
		for (pp = &buckets[slot->bucket]; *pp != slot; pp = &(*pp)->next)
			;
		*pp = slot->next;
		free(slot);
		naddrs--;
	}
	pthread_mutex_unlock(&mtx);
}

size_t
ipcount_addresses(void)
{
	size_t n;

	pthread_mutex_lock(&mtx);
	n = naddrs;
	pthread_mutex_unlock(&mtx);
	return n;
}
