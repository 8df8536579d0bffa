/* Per-shard connection table (see conn_table.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn_table.h"
#include "spsc_ring.h"

static uint32_t conn_hash(uint64_t key, uint32_t generation)
{
	uint64_t h = key ^ ((uint64_t)generation * 0x9e3779b97f4a7c15ULL);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

static uint32_t index_slots(uint32_t capacity)
{
	return pow2_ceil(capacity * 2 < capacity ? capacity : capacity * 2);
}

uint64_t conn_table_bytes(uint32_t capacity)
{
	return (uint64_t)capacity * sizeof(struct conn) +
	       (uint64_t)index_slots(capacity) * sizeof(uint32_t);
}

int conn_table_init(struct conn_table *t, uint32_t capacity)
{
	uint32_t slots = index_slots(capacity);

	memset(t, 0, sizeof(*t));
	t->entries = calloc(capacity, sizeof(*t->entries));
	t->index = calloc(slots, sizeof(*t->index));
	if (!t->entries || !t->index) {
		conn_table_destroy(t);
		return -ENOMEM;
	}
	t->capacity = capacity;
	t->index_mask = slots - 1;
	for (uint32_t i = 0; i < capacity; i++)
		t->entries[i].lru_next = i + 1 < capacity ? i + 1 : CONN_NONE;
	t->free_head = capacity ? 0 : CONN_NONE;
	t->lru_head = CONN_NONE;
	t->lru_tail = CONN_NONE;
	return 0;
}

void conn_table_destroy(struct conn_table *t)
{
	free(t->entries);
	free(t->index);
	memset(t, 0, sizeof(*t));
}

static uint32_t entry_number(const struct conn_table *t, const struct conn *c)
{
	return (uint32_t)(c - t->entries);
}

/* Slot holding the entry for key, or the empty slot where it would go. */
static uint32_t index_find(const struct conn_table *t, uint64_t key, uint32_t generation)
{
	uint32_t slot = conn_hash(key, generation) & t->index_mask;

	for (;;) {
		uint32_t e = t->index[slot];

		if (e == 0)
			return slot;
		if (t->entries[e - 1].key == key && t->entries[e - 1].generation == generation)
			return slot;
		slot = (slot + 1) & t->index_mask;
	}
}

struct conn *conn_table_lookup(struct conn_table *t, uint64_t key, uint32_t generation)
{
	uint32_t e = t->index[index_find(t, key, generation)];

	return e ? &t->entries[e - 1] : NULL;
}

static void lru_unlink(struct conn_table *t, struct conn *c)
{
	if (c->lru_prev != CONN_NONE)
		t->entries[c->lru_prev].lru_next = c->lru_next;
	else
		t->lru_head = c->lru_next;
	if (c->lru_next != CONN_NONE)
		t->entries[c->lru_next].lru_prev = c->lru_prev;
	else
		t->lru_tail = c->lru_prev;
}

static void lru_push_head(struct conn_table *t, struct conn *c)
{
	uint32_t n = entry_number(t, c);

	c->lru_prev = CONN_NONE;
	c->lru_next = t->lru_head;
	if (t->lru_head != CONN_NONE)
		t->entries[t->lru_head].lru_prev = n;
	t->lru_head = n;
	if (t->lru_tail == CONN_NONE)
		t->lru_tail = n;
}

struct conn *conn_table_insert(struct conn_table *t, uint64_t key, uint32_t generation)
{
	uint32_t slot, n;
	struct conn *c;

	if (t->free_head == CONN_NONE)
		return NULL;
	n = t->free_head;
	c = &t->entries[n];
	t->free_head = c->lru_next;
	memset(c, 0, sizeof(*c));
	c->key = key;
	c->generation = generation;
	slot = index_find(t, key, generation);
	t->index[slot] = n + 1;
	lru_push_head(t, c);
	t->used++;
	return c;
}

void conn_table_touch(struct conn_table *t, struct conn *c)
{
	if (t->lru_head == entry_number(t, c))
		return;
	lru_unlink(t, c);
	lru_push_head(t, c);
}

struct conn *conn_table_oldest(struct conn_table *t)
{
	return t->lru_tail == CONN_NONE ? NULL : &t->entries[t->lru_tail];
}

void conn_table_remove(struct conn_table *t, struct conn *c)
{
	uint32_t hole = index_find(t, c->key, c->generation);
	uint32_t slot = hole;
	uint32_t n = entry_number(t, c);

	/* backward-shift deletion: pull later members of the probe run into the hole */
	for (;;) {
		uint32_t e, home;

		slot = (slot + 1) & t->index_mask;
		e = t->index[slot];
		if (e == 0)
			break;
		home = conn_hash(t->entries[e - 1].key, t->entries[e - 1].generation) &
		       t->index_mask;
		/* move e only if its home is not in (hole, slot] cyclically */
		if (((slot - home) & t->index_mask) >= ((slot - hole) & t->index_mask)) {
			t->index[hole] = e;
			hole = slot;
		}
	}
	t->index[hole] = 0;
	lru_unlink(t, c);
	c->lru_next = t->free_head;
	t->free_head = n;
	t->used--;
}
