/*
 * A single-producer single-consumer ring of pointers (ck_ring underneath).
 *
 * Contract: exactly one thread pushes and exactly one other thread pops; ck_ring
 * orders the slot write before the index publish, so a popped pointer's target is
 * fully visible to the consumer. The ring never owns what the pointers point to.
 */
#ifndef WIREWATCH_SPSC_RING_H
#define WIREWATCH_SPSC_RING_H

#include <ck_ring.h>
#include <stdbool.h>
#include <stdint.h>

struct spsc_ring {
	struct ck_ring ring;
	struct ck_ring_buffer *slots;
} __attribute__((aligned(64))); /* producer and consumer indices of neighbours never share a line */

/* Allocates a ring that holds at least `entries` pointers. Returns 0 or -ENOMEM. */
int spsc_ring_init(struct spsc_ring *r, uint32_t entries);
void spsc_ring_destroy(struct spsc_ring *r);

static inline bool spsc_ring_push(struct spsc_ring *r, void *p)
{
	return ck_ring_enqueue_spsc(&r->ring, r->slots, p);
}

static inline void *spsc_ring_pop(struct spsc_ring *r)
{
	void *p;

	return ck_ring_dequeue_spsc(&r->ring, r->slots, &p) ? p : NULL;
}

static inline uint32_t spsc_ring_count(struct spsc_ring *r)
{
	return ck_ring_size(&r->ring);
}

/* Smallest power of two >= n (n >= 1). */
static inline uint32_t pow2_ceil(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

#endif
