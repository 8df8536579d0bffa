/*
 * The protocol engine of one worker shard: detection, per-direction stream buffers,
 * the parser state of each connection, the record pool and the pairing queues.
 *
 * Owner: the worker thread (no locks). Per connection it keeps a `struct conn_parse`
 * inside the connection entry. Memory is preallocated at start and bounded by the
 * configuration (parsers.buffer_bytes, parsers.records); parser states come from a
 * slab that grows in blocks up to the connection table's capacity. Nothing is
 * allocated per chunk.
 */
#ifndef WIREWATCH_ENGINE_H
#define WIREWATCH_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk.h"
#include "config.h"

struct conn;
struct emitter;
struct parser;

enum conn_parse_state {
	CONN_PARSE_DETECTING = 0,
	CONN_PARSE_ATTACHED,
	CONN_PARSE_UNKNOWN, /* nothing claimed it: only conn records */
	CONN_PARSE_LOST,    /* the parser gave up: only conn records from here on */
};

#define CONN_PARSE_NO_BUFFER UINT32_MAX

struct conn_parse {
	uint8_t state;	    /* enum conn_parse_state */
	uint8_t parser;	    /* index into parsers[] when attached */
	uint8_t confidence; /* the winning detect score */
	uint8_t detect_tries;
	bool encrypted;	 /* switched to TLS we cannot see into */
	void *pstate;	 /* parser state, parser->state_size bytes */
	uint32_t buf[2]; /* stream buffer per direction, or CONN_PARSE_NO_BUFFER */
	uint32_t buf_len[2];
	uint32_t pending_head; /* oldest waiting record (slot number), UINT32_MAX = none */
	uint32_t pending_tail;
	uint32_t pending_count;
};

enum engine_counter {
	ENGINE_DETECT_UNKNOWN,
	ENGINE_BUFFERS_EXHAUSTED,
	ENGINE_RECORDS_EXHAUSTED,
	ENGINE_PENDING_OVERFLOW,
	ENGINE_OVERSIZE,
	ENGINE_UDP_TRUNCATED,
	ENGINE_STMT_EVICTED,
	ENGINE_PII_FINDINGS,
	ENGINE_PII_OVERFLOW,
	ENGINE_COUNTERS,
};

struct parse_engine;
struct pii_engine;

/* pii may be NULL (no PII scanning); it is shared read-only, the engine keeps a scratch. */
int parse_engine_create(struct parse_engine **eng, const struct config *cfg, struct emitter *emit,
			const struct pii_engine *pii, uint32_t worker, uint32_t conn_capacity);
void parse_engine_destroy(struct parse_engine *eng);

/* Bytes the engine of one worker preallocates (memory cap check). */
uint64_t parse_engine_bytes(const struct config *cfg);

/* Resets the engine state of a new connection. */
void conn_parse_init(struct conn_parse *cp);

/* The chunk's payload (and any truncation gap) for the connection. */
void parse_engine_data(struct parse_engine *eng, struct conn *c, const struct chunk *ch);
/* Bytes lost in one direction (gap chunk, or an offset jump). */
void parse_engine_gap(struct parse_engine *eng, struct conn *c, enum dir dir, uint64_t missing,
		      uint64_t ts_ns);
/* The connection ends (closed, evicted, shutdown): pending records are written. */
void parse_engine_close(struct parse_engine *eng, struct conn *c, uint64_t ts_ns);

/* The proto name for records of c ("unknown" until detected). */
const char *parse_engine_proto(const struct conn *c);

#endif
