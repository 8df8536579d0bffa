/*
 * The emitter: how a producer thread (a worker shard, the stats thread) turns records
 * into output batches. A record is encoded straight into the free space of the
 * producer's current batch; a record that does not fit closes the batch and is encoded
 * again into a fresh one. Batches leave when full or when the flush timer runs out.
 * Owner: one producer thread per emitter.
 */
#ifndef WIREWATCH_EMIT_H
#define WIREWATCH_EMIT_H

#include <stdint.h>

#include "json.h"
#include "output.h"

struct emitter {
	struct output *out;
	uint32_t producer;
	uint32_t flush_ms;
	struct out_batch *cur;
	uint64_t counters[3]; /* see emit.c: records, too large, waits for a batch */
};

typedef void (*record_encode_fn)(struct json_writer *w, const void *arg);

int emitter_init(struct emitter *e, struct output *out, uint32_t producer, uint32_t flush_ms,
		 const char *label_key, const char *label_value);

/* Encodes one record (an object; the newline is added here) into the current batch. */
void emitter_record(struct emitter *e, record_encode_fn encode, const void *arg);

/* Submits the current batch if it is older than flush_ms (call once per loop turn). */
void emitter_tick(struct emitter *e, uint64_t now_mono_ns);

/* Submits whatever is pending (shutdown). */
void emitter_flush(struct emitter *e);

uint64_t monotonic_ns(void);
uint64_t realtime_ns(void);

#endif
