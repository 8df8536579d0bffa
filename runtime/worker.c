/*
 * A worker shard: pops chunks from its queues (one per reader), keeps the state of
 * the connections hashed to it, writes their records, and gives each chunk back to
 * the pool it came from. Pinned to one CPU; the only thread that touches its
 * connection table and its emitter.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "counters.h"
#include "engine.h"
#include "record.h"
#include "runtime.h"

#define WORKER_BURST 64
/*
 * Per-CPU sources (the BPF rings) can deliver a connection's events out of order across
 * CPUs: an open or a last write may arrive after the close. Generations are never reused,
 * so a {key, generation} that was closed stays closed; this direct-mapped set remembers
 * the recently closed ones so that late events are counted instead of reopening them.
 *
 * A slot holds the exact {key, generation}. It held a 64-bit hash of
 * key ^ (generation << 32 | generation) once, under which connections whose tgids, fds and
 * generations differ by one same XOR are equal (redis-cli 20952:3:34 and then curl
 * 20958:5:36: all three differ by 6). tgids, fds and generations are all small numbers
 * handed out in sequence, so it happened: the curl connection was taken for a late event
 * of the redis-cli one and dropped whole, open, data and close. A slot a newer close takes
 * over costs only the older connection's late events their recognition (they reopen it,
 * in the open), never a new connection its records.
 */
#define WORKER_CLOSED_SLOTS 8192
_Static_assert((WORKER_CLOSED_SLOTS & (WORKER_CLOSED_SLOTS - 1)) == 0, "a power of two");
/*
 * The reorder window. Bytes written on one CPU can reach the shard a reader pass after
 * later bytes written on another CPU. A chunk that starts beyond what its connection has
 * seen (and any close) waits until every reader has completed two full passes over its
 * rings since the chunk arrived: by then whatever was written before it has arrived, or
 * was lost in the kernel (counted there). Under load passes slow down and the window
 * stretches with them; WORKER_REORDER_MAX_NS bounds it should a reader stall.
 */
#define WORKER_REORDER_PASSES 2
#define WORKER_REORDER_MAX_NS 2000000000ull
#define WORKER_SWEEP_NS	      250000000ull /* idle eviction runs four times a second */

static const struct counter_def worker_counter_defs[WORKER_COUNTERS] = {
	[WORKER_CHUNKS] = {"worker_chunks_total", "Chunks processed by the worker"},
	[WORKER_BYTES] = {"worker_bytes_total", "Payload bytes that moved on the connections"},
	[WORKER_CONN_OPENED] = {"conn_opened_total", "Connections first seen"},
	[WORKER_CONN_CLOSED] = {"conn_closed_total", "Connections closed by their owner"},
	[WORKER_EVICTED_IDLE] = {"conn_evicted_idle_total",
				 "Connections evicted after conn_idle_s without activity"},
	[WORKER_EVICTED_FULL] = {"conn_evicted_full_total",
				 "Least recently active connections evicted from a full table"},
	[WORKER_LOST_BYTES] = {"conn_lost_bytes_total",
			       "Bytes known to be missing from captured streams (gaps)"},
	[WORKER_CLOSE_UNKNOWN] = {"conn_close_unknown_total",
				  "Close events for connections the shard never saw"},
	[WORKER_LATE_EVENTS] = {"conn_late_events_total",
				"Events for a connection already closed (reordered across CPUs)"},
	[WORKER_REORDERED] =
		{"conn_reordered_chunks_total",
		 "Chunks that arrived ahead of earlier bytes and were put back in order"},
	[WORKER_REORDER_EXPIRED] =
		{"conn_reorder_expired_total",
		 "Chunks whose earlier bytes never came within the reorder window"},
};

int worker_init(struct worker *w, struct runtime *rt, uint32_t index)
{
	char label[16];
	int err;

	memset(w, 0, sizeof(*w));
	w->rt = rt;
	w->index = index;
	err = conn_table_init(&w->conns, rt->cfg->conn_table);
	if (err)
		return err;
	w->recently_closed = calloc(WORKER_CLOSED_SLOTS, sizeof(*w->recently_closed));
	if (!w->recently_closed) {
		conn_table_destroy(&w->conns);
		return -ENOMEM;
	}
	snprintf(label, sizeof(label), "%u", index);
	err = emitter_init(&w->emit, rt->out, index, rt->cfg->flush_ms, "worker", label);
	if (!err)
		err = parse_engine_create(&w->engine, rt->cfg, &w->emit, rt->pii, index,
					  rt->cfg->conn_table);
	if (!err)
		err = counters_register("worker", label, worker_counter_defs, WORKER_COUNTERS,
					w->counters);
	if (err)
		conn_table_destroy(&w->conns);
	return err;
}

void worker_destroy(struct worker *w)
{
	parse_engine_destroy(w->engine);
	conn_table_destroy(&w->conns);
	free(w->recently_closed);
}

/* Only where a closed connection is remembered: the slot is compared whole. */
static uint32_t closed_slot(uint64_t key, uint32_t generation)
{
	uint64_t h = key ^ ((uint64_t)generation * 0x9e3779b97f4a7c15ULL);

	h ^= h >> 33; /* murmur3 finaliser: every input bit reaches the slot bits */
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (uint32_t)h & (WORKER_CLOSED_SLOTS - 1);
}

static bool recently_closed(const struct worker *w, uint64_t key, uint32_t generation)
{
	const struct closed_conn *s = &w->recently_closed[closed_slot(key, generation)];

	return s->used && s->key == key && s->generation == generation;
}

static void conn_close(struct worker *w, struct conn *c, enum conn_close_reason reason,
		       uint64_t ts_ns)
{
	static const enum worker_counter reason_counter[] = {
		[CONN_CLOSED] = WORKER_CONN_CLOSED,
		[CONN_CLOSED_IDLE] = WORKER_EVICTED_IDLE,
		[CONN_CLOSED_EVICTED] = WORKER_EVICTED_FULL,
		[CONN_CLOSED_SHUTDOWN] = WORKER_CONN_CLOSED,
	};

	parse_engine_close(w->engine, c, ts_ns);
	conn_record_emit(&w->emit, c, CONN_EVENT_CLOSE, reason, ts_ns);
	if (reason != CONN_CLOSED_SHUTDOWN)
		counter_add(&w->counters[reason_counter[reason]], 1);
	if (reason == CONN_CLOSED)
		w->recently_closed[closed_slot(c->key, c->generation)] =
			(struct closed_conn){.key = c->key, .generation = c->generation, .used = 1};
	conn_table_remove(&w->conns, c);
}

/* Held chunks of {key, generation} other than ch (a close that came before the open). */
static uint16_t held_count(const struct worker *w, uint64_t key, uint32_t generation,
			   const struct chunk *ch)
{
	uint16_t n = 0;

	for (uint32_t i = 0; i < w->nheld; i++)
		n += w->held[i].ch != ch && w->held[i].ch->conn_key == key &&
		     w->held[i].ch->generation == generation;
	return n;
}

static struct conn *conn_open(struct worker *w, const struct chunk *ch)
{
	struct conn *c = conn_table_insert(&w->conns, ch->conn_key, ch->generation);

	if (!c) {
		struct conn *oldest = conn_table_oldest(&w->conns);

		conn_close(w, oldest, CONN_CLOSED_EVICTED, oldest->last_ts_ns);
		c = conn_table_insert(&w->conns, ch->conn_key, ch->generation);
	}
	conn_parse_init(&c->parse);
	c->pid = ch->pid;
	memcpy(c->comm, ch->comm, sizeof(c->comm));
	c->role = ch->role;
	c->flags = ch->flags & (CHUNK_F_TLS | CHUNK_F_UDP | CHUNK_F_UNIX);
	c->src = ch->src;
	c->dst = ch->dst;
	c->first_ts_ns = ch->ts_ns;
	c->last_ts_ns = ch->ts_ns;
	c->midstream = ch->kind != CHUNK_OPEN;
	c->held = w->nheld ? held_count(w, ch->conn_key, ch->generation, ch) : 0;
	/* an unordered source numbers every connection's bytes from 0, from first sight on:
	 * a first chunk that starts later is early, not a stream joined in the middle */
	if (c->midstream && !w->rt->source.ops->unordered) {
		/* the stream is joined where we first see it: no bytes before are missing */
		c->next_offset[DIR_REQUEST] = UINT64_MAX;
		c->next_offset[DIR_RESPONSE] = UINT64_MAX;
	}
	counter_add(&w->counters[WORKER_CONN_OPENED], 1);
	conn_record_emit(&w->emit, c, CONN_EVENT_OPEN, CONN_CLOSED, ch->ts_ns);
	return c;
}

/* Bytes skipped between what this direction has seen and where the chunk starts. */
static void conn_account_gap(struct worker *w, struct conn *c, const struct chunk *ch)
{
	uint64_t expected = c->next_offset[ch->dir];

	if (expected != UINT64_MAX && ch->offset > expected) {
		c->lost_bytes[ch->dir] += ch->offset - expected;
		counter_add(&w->counters[WORKER_LOST_BYTES], ch->offset - expected);
		parse_engine_gap(w->engine, c, ch->dir, ch->offset - expected, ch->ts_ns);
	}
	c->next_offset[ch->dir] = ch->offset + ch->len_true;
	if (ch->len < ch->len_true) { /* the capture budget cut the tail of this chunk */
		c->lost_bytes[ch->dir] += ch->len_true - ch->len;
		counter_add(&w->counters[WORKER_LOST_BYTES], ch->len_true - ch->len);
	}
}

/* Whether ch must wait: bytes before it are in flight; a close always waits a little. */
static bool chunk_is_early(const struct conn *c, const struct chunk *ch)
{
	if (ch->kind == CHUNK_CLOSE)
		return true;
	if ((ch->kind != CHUNK_DATA && ch->kind != CHUNK_GAP) || !c)
		return false;
	return c->next_offset[ch->dir] != UINT64_MAX && ch->offset > c->next_offset[ch->dir];
}

/*
 * Whether ch waits in the reorder window: its connection has chunks waiting already, bytes
 * before it are in flight, or it is a close with no connection yet. The bytes and the open
 * of that one were written on another CPU and are still on their way (a process that moved
 * between CPUs): the close waits for them like any close, and the connection they make finds
 * it (held_count). Should nothing come within the window, it is counted as an unknown close.
 */
static bool chunk_waits(const struct worker *w, const struct conn *c, const struct chunk *ch)
{
	if (c)
		return c->held || chunk_is_early(c, ch);
	return ch->kind == CHUNK_CLOSE && !recently_closed(w, ch->conn_key, ch->generation);
}

static void worker_apply(struct worker *w, const struct chunk *ch);

static void held_release(struct worker *w, uint32_t i)
{
	struct held_chunk *h = &w->held[i];

	chunk_pool_return(&w->rt->readers[h->reader].pool, w->index, h->ch);
	w->held[i] = w->held[--w->nheld];
}

/* Applies the held chunks of a connection that are now in order. */
static void held_drain_conn(struct worker *w, uint64_t key, uint32_t generation)
{
	bool progress = true;

	while (progress) {
		struct conn *c = conn_table_lookup(&w->conns, key, generation);

		progress = false;
		if (!c || !c->held)
			return;
		for (uint32_t i = 0; i < w->nheld; i++) {
			const struct chunk *ch = w->held[i].ch;

			if (ch->conn_key != key || ch->generation != generation ||
			    chunk_is_early(c, ch))
				continue;
			c->held--;
			worker_apply(w, ch);
			held_release(w, i);
			progress = true;
			break;
		}
	}
}

/* Stops waiting for a connection: its held chunks in offset order (gaps counted), the
 * close last. */
static void held_expire_conn(struct worker *w, uint64_t key, uint32_t generation)
{
	for (;;) {
		struct conn *c = conn_table_lookup(&w->conns, key, generation);
		uint32_t best = UINT32_MAX;

		for (uint32_t i = 0; i < w->nheld; i++) {
			const struct chunk *ch = w->held[i].ch;
			const struct chunk *b = best == UINT32_MAX ? NULL : w->held[best].ch;

			if (ch->conn_key != key || ch->generation != generation)
				continue;
			if (!b || (b->kind == CHUNK_CLOSE && ch->kind != CHUNK_CLOSE) ||
			    (ch->kind != CHUNK_CLOSE && b->kind != CHUNK_CLOSE &&
			     ch->offset < b->offset))
				best = i;
		}
		if (best == UINT32_MAX)
			return;
		if (c) {
			if (w->held[best].ch->kind != CHUNK_CLOSE &&
			    chunk_is_early(c, w->held[best].ch))
				counter_add(&w->counters[WORKER_REORDER_EXPIRED], 1);
			c->held--;
		}
		worker_apply(w, w->held[best].ch);
		held_release(w, best);
	}
}

/* The pass count of the slowest reader (acquire: its pushes before it are visible). */
static uint64_t readers_round(const struct runtime *rt)
{
	uint64_t min = UINT64_MAX;

	for (uint32_t r = 0; r < rt->nreaders; r++) {
		uint64_t n = __atomic_load_n(&rt->readers[r].rounds, __ATOMIC_ACQUIRE);

		if (n < min)
			min = n;
	}
	return min;
}

/* Expires held chunks whose window has passed (all of them at shutdown). */
static void held_expire(struct worker *w, uint64_t now_mono, bool all)
{
	uint64_t round = readers_round(w->rt);

	while (w->nheld) {
		uint32_t oldest = 0;

		for (uint32_t i = 1; i < w->nheld; i++)
			if (w->held[i].arrived_ns < w->held[oldest].arrived_ns)
				oldest = i;
		if (!all && round < w->held[oldest].round + WORKER_REORDER_PASSES &&
		    w->held[oldest].arrived_ns + WORKER_REORDER_MAX_NS > now_mono)
			return;
		held_expire_conn(w, w->held[oldest].ch->conn_key, w->held[oldest].ch->generation);
	}
}

/*
 * Takes one chunk from a queue. Returns true when the worker keeps it for now: it waits in
 * the reorder window and goes back to its pool once applied.
 */
static bool worker_process(struct worker *w, struct chunk *ch, uint32_t reader)
{
	bool unordered = w->rt->source.ops->unordered;

	if (unordered && ch->kind != CHUNK_OPEN) {
		struct conn *c = conn_table_lookup(&w->conns, ch->conn_key, ch->generation);

		/* data ahead of its connection's open: open it now so the data can wait */
		if (!c && ch->kind == CHUNK_DATA && ch->offset > 0 &&
		    !recently_closed(w, ch->conn_key, ch->generation))
			c = conn_open(w, ch);

		if (chunk_waits(w, c, ch)) {
			if (w->nheld == WORKER_HELD_MAX) {
				held_expire_conn(w, w->held[0].ch->conn_key,
						 w->held[0].ch->generation);
				c = conn_table_lookup(&w->conns, ch->conn_key, ch->generation);
			}
			if (c || chunk_waits(w, NULL, ch)) {
				if (ch->kind != CHUNK_CLOSE)
					counter_add(&w->counters[WORKER_REORDERED], 1);
				if (c)
					c->held++;
				w->held[w->nheld++] = (struct held_chunk){
					ch, reader, monotonic_ns(), readers_round(w->rt)};
				held_drain_conn(w, ch->conn_key, ch->generation);
				return true;
			}
		}
	}
	worker_apply(w, ch);
	if (unordered)
		held_drain_conn(w, ch->conn_key, ch->generation);
	return false;
}

static void worker_apply(struct worker *w, const struct chunk *ch)
{
	struct conn *c = conn_table_lookup(&w->conns, ch->conn_key, ch->generation);

	counter_add(&w->counters[WORKER_CHUNKS], 1);
	if (ch->ts_ns > w->now_ns)
		w->now_ns = ch->ts_ns;
	if (!c) {
		if (ch->kind == CHUNK_CLOSE) {
			counter_add(&w->counters[WORKER_CLOSE_UNKNOWN], 1);
			return;
		}
		if (recently_closed(w, ch->conn_key, ch->generation)) {
			counter_add(&w->counters[WORKER_LATE_EVENTS], 1);
			return;
		}
		c = conn_open(w, ch);
	} else {
		conn_table_touch(&w->conns, c);
	}
	if (ch->ts_ns > c->last_ts_ns)
		c->last_ts_ns = ch->ts_ns;
	if (ch->dir > DIR_RESPONSE)
		return;

	switch (ch->kind) {
	case CHUNK_DATA:
		if (c->next_offset[ch->dir] != UINT64_MAX && ch->offset < c->next_offset[ch->dir]) {
			/* bytes already declared lost when the reorder window closed */
			counter_add(&w->counters[WORKER_LATE_EVENTS], 1);
			break;
		}
		conn_account_gap(w, c, ch);
		c->bytes[ch->dir] += ch->len_true;
		c->chunks[ch->dir]++;
		c->flags |= ch->flags & CHUNK_F_TLS;
		counter_add(&w->counters[WORKER_BYTES], ch->len_true);
		parse_engine_data(w->engine, c, ch);
		break;
	case CHUNK_GAP:
		c->lost_bytes[ch->dir] += ch->len_true;
		counter_add(&w->counters[WORKER_LOST_BYTES], ch->len_true);
		c->bytes[ch->dir] += ch->len_true;
		if (c->next_offset[ch->dir] != UINT64_MAX)
			c->next_offset[ch->dir] += ch->len_true;
		parse_engine_gap(w->engine, c, ch->dir, ch->len_true, ch->ts_ns);
		break;
	case CHUNK_CLOSE:
		conn_close(w, c, CONN_CLOSED, ch->ts_ns);
		break;
	default: /* a repeated open changes nothing */
		break;
	}
}

/* Evicts connections silent for longer than conn_idle_s, oldest first. */
static void worker_sweep_idle(struct worker *w)
{
	uint64_t idle_ns = (uint64_t)w->rt->cfg->conn_idle_s * 1000000000ull;
	struct conn *c;

	if (w->rt->source.ops->live) {
		uint64_t now = realtime_ns();

		if (now > w->now_ns)
			w->now_ns = now;
	}
	while ((c = conn_table_oldest(&w->conns)) != NULL && c->last_ts_ns + idle_ns < w->now_ns)
		conn_close(w, c, CONN_CLOSED_IDLE, c->last_ts_ns);
}

static uint32_t worker_drain(struct worker *w)
{
	struct runtime *rt = w->rt;
	uint32_t total = 0;

	for (uint32_t r = 0; r < rt->nreaders; r++) {
		struct spsc_ring *q = &rt->queues[r * rt->nworkers + w->index];
		struct chunk_pool *pool = &rt->readers[r].pool;
		struct chunk *ch;
		uint32_t n = 0;

		while (n < WORKER_BURST && (ch = spsc_ring_pop(q)) != NULL) {
			if (!worker_process(w, ch, r))
				chunk_pool_return(pool, w->index, ch);
			n++;
		}
		total += n;
	}
	return total;
}

static void worker_pin(struct worker *w)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (cpus <= 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(w->index % (uint32_t)cpus, &set);
	/* best effort: a container may forbid the CPU; the shard still works unpinned */
	sched_setaffinity(0, sizeof(set), &set);
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t next_sweep = monotonic_ns() + WORKER_SWEEP_NS;
	uint32_t idle_rounds = 0;

	worker_pin(w);
	for (;;) {
		uint32_t n = worker_drain(w);
		uint64_t now = monotonic_ns();

		emitter_tick(&w->emit, now);
		/* only when the queues are (nearly) drained: what the readers pushed is in */
		if (w->nheld && n < WORKER_BURST)
			held_expire(w, now, false);
		if (now >= next_sweep) {
			worker_sweep_idle(w);
			next_sweep = now + WORKER_SWEEP_NS;
		}
		if (n) {
			idle_rounds = 0;
			continue;
		}
		if (__atomic_load_n(&w->rt->readers_done, __ATOMIC_ACQUIRE)) {
			/* every push happened before readers_done: one more pass empties the queues */
			while (worker_drain(w))
				;
			held_expire(w, 0, true);
			break;
		}
		/* spin briefly, then sleep in growing steps up to 1 ms: idle shards cost nothing */
		if (++idle_rounds > 64) {
			struct timespec ts = {0, idle_rounds > 1000 ? 1000000 : 50000};

			nanosleep(&ts, NULL);
		} else {
			sched_yield();
		}
	}

	struct conn *c;

	while ((c = conn_table_oldest(&w->conns)) != NULL)
		conn_close(w, c, CONN_CLOSED_SHUTDOWN, c->last_ts_ns);
	emitter_flush(&w->emit);
	return NULL;
}
