/* Allocation for spsc_ring.h: ck_ring needs a power-of-two slot array and keeps one free. */
#include <errno.h>
#include <stdlib.h>

#include "spsc_ring.h"

int spsc_ring_init(struct spsc_ring *r, uint32_t entries)
{
	uint32_t size = pow2_ceil(entries + 1);

	r->slots = calloc(size, sizeof(*r->slots));
	if (!r->slots)
		return -ENOMEM;
	ck_ring_init(&r->ring, size);
	return 0;
}

void spsc_ring_destroy(struct spsc_ring *r)
{
	free(r->slots);
	r->slots = NULL;
}
