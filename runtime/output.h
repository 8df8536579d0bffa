/*
 * Output: NDJSON records leave the process here, in batches.
 *
 * Each producer (a worker shard, or the stats thread) owns a fixed set of batches.
 * It fills one with whole records (one '\n'-terminated JSON object each), then
 * submits it; the output thread writes submitted batches to the sink with io_uring
 * and hands each batch back to its producer once written (or spooled).
 *
 * Rings: per producer, one SPSC ring producer -> output thread (submitted batches,
 * in order) and one SPSC ring output thread -> producer (free batches). The output
 * thread is the only thread that touches the sink, the spool and the io_uring.
 * Order: records of one producer leave in the order submitted; producers interleave
 * at batch granularity.
 *
 * A socket sink that is down or slow never blocks producers: batches that cannot be
 * sent go to the on-disk spool (runtime/spool.h) and are sent, in order and before any
 * newer batch, after reconnecting with backoff. Only a full spool drops, counted.
 */
#ifndef WIREWATCH_OUTPUT_H
#define WIREWATCH_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct output;

struct out_batch {
	char *data;   /* cap bytes, owned by the output module */
	uint32_t len; /* bytes of whole records in data */
	uint32_t cap;
	uint32_t records; /* records in data */
	uint32_t producer;
	uint64_t first_ns; /* CLOCK_MONOTONIC when the first record went in (flush timer) */
};

/*
 * Opens the sink named by cfg->output and allocates cfg->batches batches of
 * cfg->batch_bytes for each of `producers` producers. Returns 0 or -errno with a
 * message in err (a file that cannot be opened, a host that does not resolve).
 * An unreachable socket sink is not an error: it spools until the peer is up.
 */
int output_open(struct output **out, const struct config *cfg, uint32_t producers, char *err,
		size_t err_len);

/* Starts the output thread. */
int output_start(struct output *o);

/*
 * Producer side (only from the producer's own thread). Returns a free, empty batch,
 * or NULL when all of the producer's batches are in flight (the caller waits and
 * counts, see output_wait_batch).
 */
struct out_batch *output_batch_get(struct output *o, uint32_t producer);

/* Like output_batch_get but waits (sleeping in short steps) until one is free. */
struct out_batch *output_wait_batch(struct output *o, uint32_t producer);

/* Hands a batch (len may be 0: it is just returned) to the output thread. */
void output_batch_submit(struct output *o, struct out_batch *b);

/* Asks the output thread to reopen a file sink (SIGHUP, log rotation). Async-signal-safe. */
void output_request_reopen(struct output *o);

/*
 * Stops after every submitted batch has been written or spooled; for a socket sink,
 * waits up to cfg->flush_ms * 50 ms for the spool to drain to a live peer. Joins the
 * thread, closes the sink, frees everything.
 */
void output_close(struct output *o);

#endif
