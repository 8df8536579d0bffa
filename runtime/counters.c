/*
 * The counter registry: a fixed table of counter blocks filled during startup and
 * read by the metrics and stats threads afterwards. See counters.h for the contract.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"

#define COUNTERS_MAX_BLOCKS 512
#define COUNTERS_LABEL_MAX  32

struct counter_block {
	const struct counter_def *defs;
	uint32_t n;
	uint64_t *values;
	char label_key[COUNTERS_LABEL_MAX];
	char label_value[COUNTERS_LABEL_MAX];
};

/* Written under registry_lock during startup; published to readers by the release store of
 * block_count, so a reader that loads block_count (acquire) sees complete blocks. */
static struct counter_block blocks[COUNTERS_MAX_BLOCKS];
static uint32_t block_count;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

int counters_register(const char *label_key, const char *label_value,
		      const struct counter_def *defs, uint32_t n, uint64_t *values)
{
	int err = 0;

	pthread_mutex_lock(&registry_lock);
	if (block_count == COUNTERS_MAX_BLOCKS) {
		err = -ENOSPC;
	} else {
		struct counter_block *b = &blocks[block_count];

		b->defs = defs;
		b->n = n;
		b->values = values;
		snprintf(b->label_key, sizeof(b->label_key), "%s", label_key ? label_key : "");
		snprintf(b->label_value, sizeof(b->label_value), "%s",
			 label_value ? label_value : "");
		__atomic_store_n(&block_count, block_count + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&registry_lock);
	return err;
}

void counters_visit(counter_visit_fn fn, void *arg)
{
	uint32_t count = __atomic_load_n(&block_count, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < count; i++) {
		const struct counter_block *b = &blocks[i];

		for (uint32_t j = 0; j < b->n; j++)
			fn(arg, &b->defs[j], b->label_key[0] ? b->label_key : NULL, b->label_value,
			   counter_read(&b->values[j]));
	}
}

uint64_t counters_total(const char *name)
{
	uint32_t count = __atomic_load_n(&block_count, __ATOMIC_ACQUIRE);
	uint64_t sum = 0;

	for (uint32_t i = 0; i < count; i++)
		for (uint32_t j = 0; j < blocks[i].n; j++)
			if (strcmp(blocks[i].defs[j].name, name) == 0)
				sum += counter_read(&blocks[i].values[j]);
	return sum;
}
