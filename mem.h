/*
 * mem.h - one process-wide count of the bytes held for clients and RPC
 * peers (input awaiting a delimiter, output a client has not taken, partial
 * RPC frames), against tcp.max_buffer_memory.  Holders report what they
 * hold; over the limit, each holder sheds its most expensive users.
 */
#ifndef RRTCP_MEM_H
#define RRTCP_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Any thread: the limit in bytes (0 = none). */
void	mem_set_limit(size_t limit);
size_t	mem_limit(void);
/* Any thread: a holder's bytes went from *held to now; *held is updated. */
void	mem_update(size_t *held, size_t now);
/* Bytes held in all. */
size_t	mem_held(void);
/* Is the total over the limit? */
int	mem_over(void);

#endif
