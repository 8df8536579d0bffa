/*
 * Sources turn something outside (BPF ring buffers, a pcap, a recording, a generator)
 * into chunks. A source is a struct of operations (HAProxy-style ops); the runtime
 * starts `readers` reader threads and calls run() in each. A reader takes empty
 * chunks from its own pool, fills them and hands them on with reader_emit(); the
 * reader module (runtime/reader.c) batches them into the shard rings.
 */
#ifndef WIREWATCH_SOURCE_H
#define WIREWATCH_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk.h"
#include "config.h"

struct reader;
struct source;

struct source_ops {
	const char *name; /* the scheme in --source NAME[:ARG] */
	bool live;	  /* time advances by the wall clock (not only by chunk timestamps) */
	bool unordered;	  /* a connection's chunks may arrive out of order (per-CPU rings):
			   * workers put them back in offset order within a short window */
	/* Parses arg, opens what it needs; returns 0 or -errno with a message in err. */
	int (*open)(struct source *src, const char *arg, const struct config *cfg, char *err,
		    size_t err_len);
	/* Reader threads this source wants (called after open). */
	uint32_t (*readers)(struct source *src);
	/*
	 * Runs reader `index` until reader_stopping() or the input ends. Returns 0 at a
	 * normal end, -errno on failure (message already printed).
	 */
	int (*run)(struct source *src, struct reader *rd, uint32_t index);
	void (*close)(struct source *src);
};

struct source {
	const struct source_ops *ops;
	void *priv; /* owned by the source between open() and close() */
};

/* Finds the source for a --source value ("synth:...", "replay:FILE", "bpf"). */
const struct source_ops *source_find(const char *spec, const char **arg);

/* The sources this build knows, for --help and error messages. */
const char *source_names(void);

/*
 * Reader side, called only from the reader thread that owns rd.
 * reader_chunk_get() returns an empty chunk from the reader's pool (capacity
 * reader_chunk_capacity()), or NULL when the pool is exhausted even after
 * reclaiming returned chunks (counted as pool_empty; the caller drops its
 * event and counts it, or waits). reader_emit() takes ownership of the chunk.
 * reader_flush() pushes pending batches into the shard rings; call it whenever
 * the source has no more input ready.
 */
struct chunk *reader_chunk_get(struct reader *rd);
uint32_t reader_chunk_capacity(const struct reader *rd);
void reader_emit(struct reader *rd, struct chunk *c);
void reader_flush(struct reader *rd);
bool reader_stopping(const struct reader *rd);

/*
 * An unordered source (per-CPU rings) calls this after each complete pass over all of its
 * rings. watermark_ns is when the pass began, in the chunks' clock: every chunk stamped
 * before it was in a ring then and has been emitted by now. The reader holds the chunks
 * of a pass and hands them on in timestamp order up to the watermark, so the shards see
 * each connection's sends and receives in the order they happened, across CPUs. Workers
 * count passes as the clock of their own (per-direction) reorder window.
 */
void reader_round_done(struct reader *rd, uint64_t watermark_ns);

/* Counts an event the source itself had to drop (e.g. ring-full in the kernel). */
void reader_count_source_drop(struct reader *rd, uint64_t n);

#endif
