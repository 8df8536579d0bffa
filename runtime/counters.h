/*
 * Counters: every place that can drop, evict, resync or fail counts it here, and
 * metrics (Prometheus) and stats records read the same numbers.
 *
 * Contract: a counter block is written by exactly one thread (its owner, named at
 * registration) with relaxed atomic stores, and read by the metrics and stats
 * threads with relaxed atomic loads; a reader may see a value a few increments old,
 * never a torn one. Blocks are registered before the threads start and live until
 * exit, so the registry itself needs no lock after startup.
 */
#ifndef WIREWATCH_COUNTERS_H
#define WIREWATCH_COUNTERS_H

#include <stdint.h>

struct counter_def {
	const char *name; /* Prometheus name without the "wirewatch_" prefix, e.g. "chunks_total" */
	const char *help;
};

/*
 * Registers n counters whose values live in values[0..n). label_key/label_value
 * tell instances apart (e.g. "worker", "3"); label_key NULL for a singleton.
 * Returns 0, or -ENOSPC when the registry is full.
 */
int counters_register(const char *label_key, const char *label_value,
		      const struct counter_def *defs, uint32_t n, uint64_t *values);

/* Owner side: add to one counter of a block it owns. */
static inline void counter_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* A counter any thread may add to (rare events only: it costs a locked instruction). */
static inline void counter_add_shared(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static inline uint64_t counter_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Visits every registered counter (metrics and stats use it). */
typedef void (*counter_visit_fn)(void *arg, const struct counter_def *def, const char *label_key,
				 const char *label_value, uint64_t value);
void counters_visit(counter_visit_fn fn, void *arg);

/* Sum of every instance of the counter called name. */
uint64_t counters_total(const char *name);

#endif
