/*
 * The connection table of one worker shard: every connection the shard has seen,
 * keyed by {conn_key, generation}, with a fixed capacity set at start.
 *
 * Owner: the worker thread, alone (no locks; other threads never look inside).
 * Entries live in one preallocated array; an open-addressing index (linear probing,
 * backward-shift deletion, load <= 1/2) finds them; a doubly linked LRU list in
 * last-activity order gives both eviction policies: when the table is full the least
 * recently active connection is evicted, and connections idle past the configured
 * time are evicted from the cold end. Every eviction is counted by the caller.
 */
#ifndef WIREWATCH_CONN_TABLE_H
#define WIREWATCH_CONN_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk.h"
#include "engine.h"

#define CONN_NONE UINT32_MAX

struct conn {
	uint64_t key;
	uint32_t generation;
	uint32_t pid;
	uint64_t first_ts_ns;
	uint64_t last_ts_ns;
	uint64_t bytes[2]; /* by enum dir: what really moved (len_true) */
	uint64_t chunks[2];
	uint64_t lost_bytes[2];	 /* bytes known to be missing (gaps) */
	uint64_t next_offset[2]; /* where the next chunk of each direction should start */
	uint8_t role;		 /* enum conn_role */
	uint8_t flags;		 /* union of chunk flags seen (TLS, UDP, UNIX) */
	bool midstream;		 /* first seen without an open event */
	uint16_t held;		 /* chunks of this connection waiting in the reorder window */
	char comm[CHUNK_COMM_LEN];
	struct endpoint src;
	struct endpoint dst;
	struct conn_parse parse; /* protocol engine state (parsers/engine.h) */
	uint32_t lru_prev;
	uint32_t lru_next;
};

struct conn_table {
	struct conn *entries;
	uint32_t capacity;
	uint32_t used;
	uint32_t *index; /* entry number + 1, 0 = empty slot */
	uint32_t index_mask;
	uint32_t free_head; /* free entries chained through lru_next */
	uint32_t lru_head;  /* most recently active */
	uint32_t lru_tail;  /* least recently active */
};

int conn_table_init(struct conn_table *t, uint32_t capacity);
void conn_table_destroy(struct conn_table *t);

/* Bytes a table of this capacity allocates (memory cap check). */
uint64_t conn_table_bytes(uint32_t capacity);

struct conn *conn_table_lookup(struct conn_table *t, uint64_t key, uint32_t generation);

/*
 * Inserts a zeroed connection for the key (which must not be present). Returns NULL
 * when the table is full: the caller evicts conn_table_oldest() and retries.
 */
struct conn *conn_table_insert(struct conn_table *t, uint64_t key, uint32_t generation);

/* Marks c as just active (moves it to the hot end of the LRU list). */
void conn_table_touch(struct conn_table *t, struct conn *c);

/* The least recently active connection, or NULL when empty. */
struct conn *conn_table_oldest(struct conn_table *t);

void conn_table_remove(struct conn_table *t, struct conn *c);

#endif
