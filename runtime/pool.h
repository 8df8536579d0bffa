/*
 * The chunk pool of one reader: a contiguous block of fixed-size chunks and a free
 * stack. Only the owning reader takes from it. Workers give chunks back through one
 * return ring per worker (worker pushes, reader pops), so refilling needs no lock:
 * when the free stack runs dry the reader drains its return rings into it.
 */
#ifndef WIREWATCH_POOL_H
#define WIREWATCH_POOL_H

#include <stdint.h>

#include "chunk.h"
#include "spsc_ring.h"

struct chunk_pool {
	uint8_t *mem;	   /* count * stride bytes */
	uint32_t stride;   /* sizeof(struct chunk) + capacity, cache-line aligned */
	uint32_t capacity; /* payload bytes per chunk */
	uint32_t count;
	struct chunk **free; /* stack, owned by the reader */
	uint32_t nfree;
	struct spsc_ring *returns; /* one per worker: worker -> this reader */
	uint32_t nreturns;
};

int chunk_pool_init(struct chunk_pool *pool, uint32_t count, uint32_t capacity, uint32_t workers);
void chunk_pool_destroy(struct chunk_pool *pool);

/* Reader side: an empty chunk, or NULL when none is free even after reclaiming returns. */
struct chunk *chunk_pool_get(struct chunk_pool *pool);
/* Reader side: give back a chunk the reader never handed on (dropped). */
void chunk_pool_put_local(struct chunk_pool *pool, struct chunk *c);
/* Worker side: give back a consumed chunk through that worker's return ring. */
void chunk_pool_return(struct chunk_pool *pool, uint32_t worker, struct chunk *c);

/* Bytes the pool allocates for these values (memory cap check). */
uint64_t chunk_pool_bytes(uint32_t count, uint32_t capacity);

#endif
