/*
 * The runtime: reader threads, worker shards, the rings between them, the output, the
 * stats and metrics threads, and the order they start and stop in.
 *
 * Queues: queues[r * workers + w] is the SPSC ring from reader r to worker w (reader r
 * pushes, worker w pops, chunk ownership moves with the pointer). Each reader's pool
 * has one return ring per worker for the way back (see pool.h).
 *
 * Stop order (nothing in flight is lost): readers stop (signal, --duration or end of
 * input) and are joined; `readers_done` is published (release); each worker drains its
 * queues once more after seeing it (acquire), closes its connections, flushes its
 * batch and exits; then the stats thread writes its last record and the output drains.
 */
#ifndef WIREWATCH_RUNTIME_H
#define WIREWATCH_RUNTIME_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "conn_table.h"
#include "emit.h"
#include "engine.h"
#include "pool.h"
#include "source.h"
#include "spsc_ring.h"

struct recorder;
struct pii_engine;

enum reader_counter {
	READER_CHUNKS,
	READER_BYTES,
	READER_POOL_EMPTY,
	READER_QUEUE_FULL_DROPS,
	READER_QUEUE_FULL_WAITS,
	READER_SOURCE_DROPS,
	READER_FILTERED,
	READER_ORDER_FORCED,
	READER_COUNTERS,
};

#define READER_BATCH 32 /* chunks gathered per worker before one push burst */

/* A chunk held by its reader until the pass's watermark passes it (see source.h). */
struct pass_entry {
	struct chunk *c;
	uint64_t seq; /* arrival order: ties in timestamp keep it */
};

struct reader {
	struct runtime *rt;
	uint32_t index;
	pthread_t thread;
	int result;
	struct chunk_pool pool;
	struct chunk **pending;	 /* [worker * READER_BATCH + i], owned by this reader */
	uint32_t *npending;	 /* [worker] */
	struct pass_entry *pass; /* unordered sources: chunks of the current pass, owned here */
	uint32_t npass;
	uint64_t pass_seq;
	uint64_t rounds; /* complete passes (reader_round_done); UINT64_MAX once finished.
			  * Written by the reader (release), read by workers (acquire). */
	uint64_t counters[READER_COUNTERS];
};

enum worker_counter {
	WORKER_CHUNKS,
	WORKER_BYTES,
	WORKER_CONN_OPENED,
	WORKER_CONN_CLOSED,
	WORKER_EVICTED_IDLE,
	WORKER_EVICTED_FULL,
	WORKER_LOST_BYTES,
	WORKER_CLOSE_UNKNOWN,
	WORKER_LATE_EVENTS,
	WORKER_REORDERED,
	WORKER_REORDER_EXPIRED,
	WORKER_COUNTERS,
};

/* A chunk that arrived ahead of bytes still in flight on another CPU's ring. */
struct held_chunk {
	struct chunk *ch;
	uint32_t reader;     /* whose pool it goes back to */
	uint64_t arrived_ns; /* monotonic */
	uint64_t round;	     /* the slowest reader's pass count when it arrived */
};

#define WORKER_HELD_MAX 256

/*
 * A connection the worker closed, remembered exactly (not by a fingerprint: a fingerprint
 * of {key, generation} can equal a new connection's and swallow that one whole).
 * used = 0 marks an empty slot (packet sources number generations from 0).
 */
struct closed_conn {
	uint64_t key;
	uint32_t generation;
	uint32_t used;
};

struct worker {
	struct runtime *rt;
	uint32_t index;
	pthread_t thread;
	struct conn_table conns;
	struct emitter emit;
	struct parse_engine *engine;
	uint64_t now_ns; /* source time: newest chunk timestamp seen (live: or the wall clock) */
	struct closed_conn *recently_closed; /* WORKER_CLOSED_SLOTS, direct-mapped */
	uint32_t nheld;
	struct held_chunk held[WORKER_HELD_MAX]; /* the reorder window (see worker.c) */
	uint64_t counters[WORKER_COUNTERS];
};

struct runtime {
	const struct config *cfg;
	struct source source;
	uint32_t nworkers;
	uint32_t nreaders;
	struct worker *workers;
	struct reader *readers;
	struct spsc_ring *queues;
	struct output *out;
	struct recorder *rec;
	struct pii_engine *pii; /* loaded once, read-only, shared by every worker */
	uint32_t filter_pid;	/* 0 = all */
	uint32_t filter_port;	/* 0 = all */
	uint64_t duration_ns;	/* 0 = until a signal or the end of input */
	bool stop_readers;	/* written by the main thread, read by readers (relaxed) */
	bool readers_done;	/* release by main after joining readers, acquire by workers */
	uint32_t readers_running;
	int exit_code;
};

struct runtime_options {
	const char *source_spec;
	const char *record_path;
	uint32_t filter_pid;
	uint32_t filter_port;
	uint64_t duration_ns;
};

/* Builds everything (exit code 2 problems reported in err). */
int runtime_create(struct runtime **rt, const struct config *cfg, const struct runtime_options *opt,
		   char *err, size_t err_len);

/* Runs until a signal, --duration or the end of input; returns the process exit code. */
int runtime_run(struct runtime *rt);

void runtime_destroy(struct runtime *rt);

void *worker_main(void *arg);
void *reader_main(void *arg);
int reader_init(struct reader *rd, struct runtime *rt, uint32_t index);
void reader_destroy(struct reader *rd);
int worker_init(struct worker *w, struct runtime *rt, uint32_t index);
void worker_destroy(struct worker *w);

#endif
