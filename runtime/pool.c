/* Chunk pools (see pool.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

static uint32_t pool_stride(uint32_t capacity)
{
	return (uint32_t)((sizeof(struct chunk) + capacity + 63) & ~(size_t)63);
}

uint64_t chunk_pool_bytes(uint32_t count, uint32_t capacity)
{
	return (uint64_t)count * (pool_stride(capacity) + sizeof(void *) * 2);
}

int chunk_pool_init(struct chunk_pool *pool, uint32_t count, uint32_t capacity, uint32_t workers)
{
	memset(pool, 0, sizeof(*pool));
	pool->stride = pool_stride(capacity);
	pool->capacity = capacity;
	pool->count = count;
	pool->mem = aligned_alloc(64, (size_t)count * pool->stride);
	pool->free = calloc(count, sizeof(*pool->free));
	pool->returns = calloc(workers, sizeof(*pool->returns));
	if (!pool->mem || !pool->free || !pool->returns)
		goto err_free;
	pool->nreturns = workers;
	for (uint32_t w = 0; w < workers; w++)
		if (spsc_ring_init(&pool->returns[w], count) < 0) /* can never be full */
			goto err_free;
	for (uint32_t i = 0; i < count; i++)
		pool->free[i] =
			(struct chunk *)(pool->mem + (size_t)(count - 1 - i) * pool->stride);
	pool->nfree = count;
	return 0;

err_free:
	chunk_pool_destroy(pool);
	return -ENOMEM;
}

void chunk_pool_destroy(struct chunk_pool *pool)
{
	if (pool->returns)
		for (uint32_t w = 0; w < pool->nreturns; w++)
			spsc_ring_destroy(&pool->returns[w]);
	free(pool->returns);
	free(pool->free);
	free(pool->mem);
	memset(pool, 0, sizeof(*pool));
}

struct chunk *chunk_pool_get(struct chunk_pool *pool)
{
	if (pool->nfree == 0) {
		for (uint32_t w = 0; w < pool->nreturns; w++) {
			struct chunk *c;

			while ((c = spsc_ring_pop(&pool->returns[w])) != NULL)
				pool->free[pool->nfree++] = c;
		}
		if (pool->nfree == 0)
			return NULL;
	}
	return pool->free[--pool->nfree];
}

void chunk_pool_put_local(struct chunk_pool *pool, struct chunk *c)
{
	pool->free[pool->nfree++] = c;
}

void chunk_pool_return(struct chunk_pool *pool, uint32_t worker, struct chunk *c)
{
	/* sized for every chunk of the pool at once, so this push cannot fail */
	spsc_ring_push(&pool->returns[worker], c);
}
