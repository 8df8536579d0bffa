/*
 * A reader thread: runs one reader of the source, takes chunks from its own pool,
 * batches them per worker shard and pushes each batch into that shard's queue.
 * Implements the reader side of source.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "recording.h"
#include "runtime.h"

static const struct counter_def reader_counter_defs[READER_COUNTERS] = {
	[READER_CHUNKS] = {"reader_chunks_total", "Chunks handed from the source to the shards"},
	[READER_BYTES] = {"reader_bytes_total", "Payload bytes captured into chunks"},
	[READER_POOL_EMPTY] =
		{"reader_pool_empty_total",
		 "Times the reader's chunk pool was empty (events dropped by the source)"},
	[READER_QUEUE_FULL_DROPS] = {"reader_queue_full_drops_total",
				     "Chunks dropped because a shard queue was full (policy drop)"},
	[READER_QUEUE_FULL_WAITS] =
		{"reader_queue_full_waits_total",
		 "Times the reader waited for a full shard queue (policy wait)"},
	[READER_SOURCE_DROPS] = {"source_drops_total",
				 "Events the source itself lost (kernel ring full, budget, ...)"},
	[READER_FILTERED] = {"reader_filtered_total",
			     "Chunks skipped by --pid or --port (not a loss)"},
	[READER_ORDER_FORCED] =
		{"reader_order_forced_total",
		 "Passes handed on before their watermark because the chunk pool ran "
		 "dry (time order across CPUs not guaranteed for them)"},
};

int reader_init(struct reader *rd, struct runtime *rt, uint32_t index)
{
	uint32_t nw = rt->nworkers;
	char label[16];
	int err;

	memset(rd, 0, sizeof(*rd));
	rd->rt = rt;
	rd->index = index;
	err = chunk_pool_init(&rd->pool, rt->cfg->chunk_pool, rt->cfg->chunk_bytes, nw);
	if (err)
		return err;
	rd->pending = calloc((size_t)nw * READER_BATCH, sizeof(*rd->pending));
	if (rt->source.ops->unordered) {
		rd->pass = calloc(rt->cfg->chunk_pool, sizeof(*rd->pass));
		if (!rd->pass) {
			reader_destroy(rd);
			return -ENOMEM;
		}
	}
	rd->npending = calloc(nw, sizeof(*rd->npending));
	if (!rd->pending || !rd->npending) {
		reader_destroy(rd);
		return -ENOMEM;
	}
	snprintf(label, sizeof(label), "%u", index);
	return counters_register("reader", label, reader_counter_defs, READER_COUNTERS,
				 rd->counters);
}

void reader_destroy(struct reader *rd)
{
	chunk_pool_destroy(&rd->pool);
	free(rd->pending);
	free(rd->npending);
	free(rd->pass);
	rd->pass = NULL;
	rd->pending = NULL;
	rd->npending = NULL;
}

bool reader_stopping(const struct reader *rd)
{
	return __atomic_load_n(&rd->rt->stop_readers, __ATOMIC_RELAXED);
}

uint32_t reader_chunk_capacity(const struct reader *rd)
{
	return rd->pool.capacity;
}

static void pause_briefly(void)
{
	struct timespec ts = {0, 20000};

	nanosleep(&ts, NULL);
}

/* Pushes the pending batch of worker w into its queue, following the queue-full policy. */
static void reader_push(struct reader *rd, uint32_t w)
{
	struct runtime *rt = rd->rt;
	struct spsc_ring *q = &rt->queues[rd->index * rt->nworkers + w];
	struct chunk **batch = &rd->pending[(size_t)w * READER_BATCH];
	bool waited = false;

	for (uint32_t i = 0; i < rd->npending[w]; i++) {
		while (!spsc_ring_push(q, batch[i])) {
			if (rt->cfg->queue_full == QUEUE_FULL_DROP) {
				counter_add(&rd->counters[READER_QUEUE_FULL_DROPS], 1);
				chunk_pool_put_local(&rd->pool, batch[i]);
				break;
			}
			if (!waited)
				counter_add(&rd->counters[READER_QUEUE_FULL_WAITS], 1);
			waited = true;
			pause_briefly();
		}
	}
	rd->npending[w] = 0;
}

void reader_flush(struct reader *rd)
{
	for (uint32_t w = 0; w < rd->rt->nworkers; w++)
		if (rd->npending[w])
			reader_push(rd, w);
}

static void reader_pass_release(struct reader *rd, uint64_t watermark_ns);

struct chunk *reader_chunk_get(struct reader *rd)
{
	struct chunk *c = chunk_pool_get(&rd->pool);

	if (c)
		return c;
	/* chunks held for ordering or parked in pending batches count against the pool:
	 * hand them on (out of watermark order, counted) rather than wait for ourselves */
	if (rd->npass) {
		counter_add(&rd->counters[READER_ORDER_FORCED], 1);
		reader_pass_release(rd, UINT64_MAX);
	}
	reader_flush(rd);
	if (rd->rt->cfg->queue_full == QUEUE_FULL_WAIT) {
		while (!(c = chunk_pool_get(&rd->pool)))
			pause_briefly();
		return c;
	}
	c = chunk_pool_get(&rd->pool);
	if (!c)
		counter_add(&rd->counters[READER_POOL_EMPTY], 1);
	return c;
}

static bool reader_filtered(const struct runtime *rt, const struct chunk *c)
{
	if (rt->filter_pid && c->pid != rt->filter_pid)
		return true;
	if (rt->filter_port && c->src.port != rt->filter_port && c->dst.port != rt->filter_port)
		return true;
	return false;
}

/* Hands a chunk to its shard's pending batch (and the recording). */
static void reader_dispatch(struct reader *rd, struct chunk *c)
{
	struct runtime *rt = rd->rt;
	uint32_t w;

	if (rt->rec)
		recorder_write(rt->rec, c);
	counter_add(&rd->counters[READER_CHUNKS], 1);
	counter_add(&rd->counters[READER_BYTES], c->len);
	w = chunk_shard(c->conn_key, c->generation, rt->nworkers);
	rd->pending[(size_t)w * READER_BATCH + rd->npending[w]++] = c;
	if (rd->npending[w] == READER_BATCH)
		reader_push(rd, w);
}

static int pass_entry_cmp(const void *a, const void *b)
{
	const struct pass_entry *x = a, *y = b;

	if (x->c->ts_ns != y->c->ts_ns)
		return x->c->ts_ns < y->c->ts_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Hands on the held chunks stamped before watermark_ns (all of them for UINT64_MAX). */
static void reader_pass_release(struct reader *rd, uint64_t watermark_ns)
{
	uint32_t i = 0, kept;

	if (rd->npass == 0)
		return;
	qsort(rd->pass, rd->npass, sizeof(*rd->pass), pass_entry_cmp);
	while (i < rd->npass && rd->pass[i].c->ts_ns < watermark_ns)
		reader_dispatch(rd, rd->pass[i++].c);
	kept = rd->npass - i;
	memmove(rd->pass, rd->pass + i, kept * sizeof(*rd->pass));
	rd->npass = kept;
}

void reader_emit(struct reader *rd, struct chunk *c)
{
	if (reader_filtered(rd->rt, c)) {
		counter_add(&rd->counters[READER_FILTERED], 1);
		chunk_pool_put_local(&rd->pool, c);
		return;
	}
	if (rd->pass) {
		/* every chunk comes from the pool, so the pool's size bounds the pass */
		rd->pass[rd->npass++] = (struct pass_entry){c, rd->pass_seq++};
		return;
	}
	reader_dispatch(rd, c);
}

void reader_round_done(struct reader *rd, uint64_t watermark_ns)
{
	reader_pass_release(rd, watermark_ns);
	reader_flush(rd);
	__atomic_store_n(&rd->rounds, rd->rounds + 1, __ATOMIC_RELEASE);
}

void reader_count_source_drop(struct reader *rd, uint64_t n)
{
	counter_add(&rd->counters[READER_SOURCE_DROPS], n);
}

void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct runtime *rt = rd->rt;

	rd->result = rt->source.ops->run(&rt->source, rd, rd->index);
	reader_pass_release(rd, UINT64_MAX);
	reader_flush(rd);
	__atomic_store_n(&rd->rounds, UINT64_MAX, __ATOMIC_RELEASE); /* nothing more will come */
	__atomic_fetch_sub(&rt->readers_running, 1, __ATOMIC_RELEASE);
	return NULL;
}
