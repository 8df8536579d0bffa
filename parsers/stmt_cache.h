/*
 * Prepared statements remembered per worker shard (PostgreSQL Parse, MySQL
 * COM_STMT_PREPARE), so that an Execute that names a statement is reported with its
 * text. Keyed by connection and statement name; fixed capacity (parsers.statements),
 * least recently used forgotten first (counted). Owner: the worker thread.
 */
#ifndef WIREWATCH_STMT_CACHE_H
#define WIREWATCH_STMT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define STMT_TEXT_MAX	2048
#define STMT_PARAMS_MAX 64

struct stmt_entry {
	uint64_t key;
	uint32_t hash_next;
	uint32_t lru_prev;
	uint32_t lru_next;
	uint16_t text_len;
	uint16_t nparams;   /* parameter types known (PostgreSQL OIDs, MySQL types) */
	uint8_t truncated;  /* the text was longer than STMT_TEXT_MAX */
	uint8_t in_bucket;  /* reachable by key (0 after stmt_cache_forget) */
	uint8_t keys_known; /* key_off/key_len filled (record_param_columns) */
	uint8_t reserved;
	uint32_t param_types[STMT_PARAMS_MAX];
	/* the column each placeholder stands for, in text (length 0: none): read from the
	 * text once, on the statement's first execution with parameters */
	uint16_t key_off[STMT_PARAMS_MAX];
	uint8_t key_len[STMT_PARAMS_MAX];
	char text[STMT_TEXT_MAX];
};

struct stmt_cache;

int stmt_cache_create(struct stmt_cache **sc, uint32_t capacity);
void stmt_cache_destroy(struct stmt_cache *sc);
uint64_t stmt_cache_bytes(uint32_t capacity);

/* The key of statement `name` on connection (conn_key, generation). */
uint64_t stmt_key(uint64_t conn_key, uint32_t generation, const void *name, size_t len);

/* The entry for key, replacing an older one with the same key; never NULL. */
struct stmt_entry *stmt_cache_store(struct stmt_cache *sc, uint64_t key, uint64_t *evicted);
struct stmt_entry *stmt_cache_find(struct stmt_cache *sc, uint64_t key);
void stmt_cache_forget(struct stmt_cache *sc, uint64_t key);

#endif
