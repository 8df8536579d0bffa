/*
 * The baseline the pipeline figures are divided by: copying the same chunk payloads
 * (the synth mix's request and response vectors) into a ring of chunk-sized buffers,
 * one thread, nothing else. Prints ns per chunk and chunks per second.
 *   memcpy_baseline CHUNKS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "synth_vectors.h"

#define SLOTS	   4096
#define SLOT_BYTES 16384

int main(int argc, char **argv)
{
	const struct synth_vector *mix[SYNTH_VECTORS_MAX];
	uint32_t nmix = synth_vectors_mix("default", mix);
	unsigned long long chunks = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ull;
	uint8_t *slots = malloc((size_t)SLOTS * SLOT_BYTES);
	uint64_t start, elapsed, sum = 0;

	if (!slots)
		return 1;
	memset(slots, 0, (size_t)SLOTS * SLOT_BYTES);
	start = monotonic_ns();
	for (unsigned long long i = 0; i < chunks; i++) {
		const struct synth_vector *v = mix[(i / 2) % nmix];
		uint8_t *dst = slots + (i % SLOTS) * SLOT_BYTES;

		if (i & 1)
			memcpy(dst, v->resp, v->resp_len);
		else
			memcpy(dst, v->req, v->req_len);
		sum += dst[i % 7]; /* keep the copies observable */
	}
	elapsed = monotonic_ns() - start;
	printf("memcpy_baseline chunks=%llu ns_per_chunk=%.2f chunks_per_s=%.0f (check %llu)\n",
	       chunks, (double)elapsed / (double)chunks, (double)chunks * 1e9 / (double)elapsed,
	       (unsigned long long)sum);
	free(slots);
	return 0;
}
