/* Prepared statement cache (see stmt_cache.h): chained hash buckets plus an LRU list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "spsc_ring.h"
#include "stmt_cache.h"

#define NONE UINT32_MAX

struct stmt_cache {
	struct stmt_entry *entries;
	uint32_t capacity;
	uint32_t used;
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t lru_head; /* most recent */
	uint32_t lru_tail;
};

uint64_t stmt_cache_bytes(uint32_t capacity)
{
	return (uint64_t)capacity * sizeof(struct stmt_entry) +
	       (uint64_t)pow2_ceil(capacity) * sizeof(uint32_t);
}

int stmt_cache_create(struct stmt_cache **out, uint32_t capacity)
{
	struct stmt_cache *sc = calloc(1, sizeof(*sc));
	uint32_t nb = pow2_ceil(capacity);

	if (!sc)
		return -ENOMEM;
	sc->entries = calloc(capacity, sizeof(*sc->entries));
	sc->buckets = malloc(nb * sizeof(*sc->buckets));
	if (!sc->entries || !sc->buckets) {
		stmt_cache_destroy(sc);
		return -ENOMEM;
	}
	memset(sc->buckets, 0xff, nb * sizeof(*sc->buckets));
	sc->capacity = capacity;
	sc->bucket_mask = nb - 1;
	sc->lru_head = sc->lru_tail = NONE;
	*out = sc;
	return 0;
}

void stmt_cache_destroy(struct stmt_cache *sc)
{
	if (!sc)
		return;
	free(sc->entries);
	free(sc->buckets);
	free(sc);
}

uint64_t stmt_key(uint64_t conn_key, uint32_t generation, const void *name, size_t len)
{
	return XXH64(name, len, conn_key ^ ((uint64_t)generation << 40) ^ 0x5354u);
}

static void lru_unlink(struct stmt_cache *sc, uint32_t i)
{
	struct stmt_entry *e = &sc->entries[i];

	if (e->lru_prev != NONE)
		sc->entries[e->lru_prev].lru_next = e->lru_next;
	else
		sc->lru_head = e->lru_next;
	if (e->lru_next != NONE)
		sc->entries[e->lru_next].lru_prev = e->lru_prev;
	else
		sc->lru_tail = e->lru_prev;
}

static void lru_push(struct stmt_cache *sc, uint32_t i)
{
	struct stmt_entry *e = &sc->entries[i];

	e->lru_prev = NONE;
	e->lru_next = sc->lru_head;
	if (sc->lru_head != NONE)
		sc->entries[sc->lru_head].lru_prev = i;
	sc->lru_head = i;
	if (sc->lru_tail == NONE)
		sc->lru_tail = i;
}

static void bucket_unlink(struct stmt_cache *sc, uint32_t i)
{
	uint32_t *link = &sc->buckets[sc->entries[i].key & sc->bucket_mask];

	while (*link != i)
		link = &sc->entries[*link].hash_next;
	*link = sc->entries[i].hash_next;
}

static uint32_t find_index(struct stmt_cache *sc, uint64_t key)
{
	uint32_t i = sc->buckets[key & sc->bucket_mask];

	while (i != NONE && sc->entries[i].key != key)
		i = sc->entries[i].hash_next;
	return i;
}

struct stmt_entry *stmt_cache_find(struct stmt_cache *sc, uint64_t key)
{
	uint32_t i = find_index(sc, key);

	if (i == NONE)
		return NULL;
	lru_unlink(sc, i);
	lru_push(sc, i);
	return &sc->entries[i];
}

struct stmt_entry *stmt_cache_store(struct stmt_cache *sc, uint64_t key, uint64_t *evicted)
{
	uint32_t i = find_index(sc, key);
	uint32_t *bucket;

	if (i != NONE) {
		lru_unlink(sc, i);
	} else if (sc->used < sc->capacity) {
		i = sc->used++;
		bucket = &sc->buckets[key & sc->bucket_mask];
		sc->entries[i].hash_next = *bucket;
		*bucket = i;
	} else {
		/* full: the least recently used statement makes room */
		i = sc->lru_tail;
		lru_unlink(sc, i);
		if (sc->entries[i].in_bucket) {
			bucket_unlink(sc, i);
			(*evicted)++;
		}
		bucket = &sc->buckets[key & sc->bucket_mask];
		sc->entries[i].hash_next = *bucket;
		*bucket = i;
	}
	sc->entries[i].key = key;
	sc->entries[i].in_bucket = 1;
	sc->entries[i].text_len = 0;
	sc->entries[i].nparams = 0;
	sc->entries[i].truncated = 0;
	sc->entries[i].keys_known = 0;
	lru_push(sc, i);
	return &sc->entries[i];
}

void stmt_cache_forget(struct stmt_cache *sc, uint64_t key)
{
	uint32_t i = find_index(sc, key);

	if (i == NONE)
		return;
	/* the entry stays allocated but unreachable until the LRU end recycles it */
	lru_unlink(sc, i);
	bucket_unlink(sc, i);
	sc->entries[i].in_bucket = 0;
	sc->entries[i].hash_next = NONE;
	/* park it at the cold end so it is the next one reused */
	sc->entries[i].lru_next = NONE;
	sc->entries[i].lru_prev = sc->lru_tail;
	if (sc->lru_tail != NONE)
		sc->entries[sc->lru_tail].lru_next = i;
	sc->lru_tail = i;
	if (sc->lru_head == NONE)
		sc->lru_head = i;
}
