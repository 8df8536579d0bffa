/*
 * The parser interface (DESIGN section 3): every wire protocol is one file in parsers/
 * that fills one `struct parser` and is listed once in parsers/protocols.def. The
 * engine (engine.c) owns the buffering: a parser answers how much it consumed and how
 * much more it needs, and never keeps pointers into the bytes it was given.
 *
 * Parsers report what they learn through the record API below. Every record function
 * accepts a NULL record and then does nothing, so a parser never checks whether the
 * record pool had a slot: it just keeps parsing (the engine counted the miss).
 */
#ifndef WIREWATCH_PARSER_H
#define WIREWATCH_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "chunk.h"
#include "query_record.h"

enum parse_status {
	PARSE_OK,   /* consumed bytes; the engine calls again with the rest */
	PARSE_MORE, /* keep the unconsumed tail; call again once `needed` bytes are there */
	PARSE_LOST, /* out of sync for good: the engine stops parsing this connection */
};

struct parse_result {
	enum parse_status status;
	uint32_t consumed;
	uint32_t needed; /* PARSE_MORE: bytes wanted from the first unconsumed byte on */
};

/* Detection answers. */
#define DETECT_NEED_MORE (-1)
#define DETECT_NOT_MINE	 0
/* 1..100: confidence that the bytes are this protocol */

struct parse_ctx;
struct counter_def;

enum parser_flags {
	PARSER_F_SQL = 1u << 0, /* query text is SQL: records get a fingerprint */
};

struct parser {
	const char *name;      /* the record's `proto` */
	uint32_t flags;	       /* enum parser_flags */
	const uint16_t *ports; /* well-known ports, 0-terminated: a tie-break only */
	uint32_t state_size;   /* per connection, zeroed on attach */
	int (*detect)(const uint8_t *p, uint32_t len, enum dir dir);
	/*
	 * Called with the bytes of one direction in order. Must not ask for more than
	 * parse_max_message(ctx) bytes (a longer message is parsed as it streams: keep its
	 * head, skip the rest by length in the parser state).
	 */
	struct parse_result (*on_data)(struct parse_ctx *ctx, void *state, enum dir dir,
				       const uint8_t *p, uint32_t len);
	/* `missing` bytes of dir were lost; the next on_data starts right after them. */
	void (*on_gap)(struct parse_ctx *ctx, void *state, enum dir dir, uint64_t missing);
	/* The connection ends; pending records are finished as incomplete afterwards. */
	void (*on_close)(struct parse_ctx *ctx, void *state);
	/*
	 * Optional: releases what the parser allocated for this connection (e.g. a
	 * decompressor made lazily), once, just before the state slot goes back to the pool.
	 * Runs on the worker that parsed the connection; no record may be touched here.
	 */
	void (*state_free)(void *state);
	/* The protocol's own counters (parse_count indexes them), exported with proto=name. */
	const struct counter_def *counter_defs;
	uint32_t counter_count;
};

/* The registered parsers, in protocols.def order. */
extern const struct parser *const parsers[];
extern const uint32_t parser_count;

/* ---- what a parser may ask of the engine ---- */

uint32_t parse_max_message(const struct parse_ctx *ctx);
/* Timestamp of the chunk being parsed (realtime ns). */
uint64_t parse_now(const struct parse_ctx *ctx);
/* The protocol's own counters: resyncs, malformed messages, ... (see engine.h). */
void parse_count(struct parse_ctx *ctx, int counter);
/* Whether this connection's bytes are cleartext from a TLS library (uprobes). */
int parse_conn_is_tls(const struct parse_ctx *ctx);
/*
 * The parser cannot continue on this connection (e.g. after a gap in a protocol without
 * message boundaries to resynchronise on): once the current call returns, pending records
 * are finished as incomplete and the connection is counted as lost.
 */
void parse_give_up(struct parse_ctx *ctx);
/* Marks the connection encrypted (STARTTLS-like switch without uprobe cleartext). */
void parse_conn_set_encrypted(struct parse_ctx *ctx);

/* Prepared statements of this connection by name (see stmt_cache.h). */
struct stmt_entry;
struct stmt_entry *parse_stmt_store(struct parse_ctx *ctx, const void *name, size_t len);
struct stmt_entry *parse_stmt_find(struct parse_ctx *ctx, const void *name, size_t len);
void parse_stmt_forget(struct parse_ctx *ctx, const void *name, size_t len);

/* ---- the record API: pairing of requests and responses ---- */

/* A new request record at the tail of the connection's queue, or NULL (counted). */
struct query_record *record_begin(struct parse_ctx *ctx);
/* The oldest record still waiting for its response, or NULL. */
struct query_record *record_oldest(struct parse_ctx *ctx);
/* Pending records waiting for responses on this connection. */
uint32_t record_pending(const struct parse_ctx *ctx);
/* Completes rec (wherever it is in the queue): PII summary, redaction, NDJSON. */
void record_finish(struct parse_ctx *ctx, struct query_record *rec, enum record_status status);
/* Drops rec without writing it (e.g. a protocol-internal exchange). */
void record_discard(struct parse_ctx *ctx, struct query_record *rec);

void record_set_str(struct query_record *rec, enum record_str f, const void *p, size_t len);
void record_set_cstr(struct query_record *rec, enum record_str f, const char *s);
void record_set_int(struct query_record *rec, enum record_int f, int64_t v);
void record_list_add(struct query_record *rec, enum record_list l, const void *p, size_t len);
void record_add_bytes(struct query_record *rec, enum dir dir, uint64_t n);
/*
 * Walks a list field: start with *cursor = 0; returns each item (length in *len) and
 * NULL after the last.
 */
const char *record_list_next(const struct query_record *rec, enum record_list l, uint32_t *cursor,
			     size_t *len);
/* A string field as set so far (len 0 when unset). */
const char *record_get_str(const struct query_record *rec, enum record_str f, size_t *len);

/* Where a value handed to the PII engine came from. */
enum value_where {
	VALUE_QUERY,
	VALUE_PARAM,
	VALUE_RESULT,
	VALUE_HEADER,
	VALUE_BODY,
	VALUE_KEY,
};

/*
 * Hands one value as it streams by (query text, a bind parameter, a result cell with
 * its column name, a header or body value) to the PII engine, which keeps only
 * findings and counts on the record.
 */
void record_value(struct parse_ctx *ctx, struct query_record *rec, enum value_where where,
		  const char *column, size_t column_len, const uint8_t *p, size_t len);

/*
 * A body scanned in windows: the length of the header line (line end included) when the
 * first window p[0..len) is a CSV export (pii_csv_header), else 0, and always 0 when PII
 * scanning is off. The parser keeps that line and hands each window's rows with it to
 * record_body_rows(): the windows after the first have no header of their own.
 */
size_t parse_csv_header(const struct parse_ctx *ctx, const uint8_t *p, size_t len);
/*
 * Rows of a CSV body (p[0..len), no header line in it) under its header line, which the
 * caller owns and keeps unchanged during the call: findings are keyed by its column names.
 */
void record_body_rows(struct parse_ctx *ctx, struct query_record *rec, const char *header,
		      size_t header_len, const uint8_t *p, size_t len);

/*
 * The columns a prepared statement's bind parameters stand for (`email = $2`, an INSERT's
 * column list), to hand each parameter to record_value() under its column: cols[i] views
 * into stmt, NULL when unknown (and always when PII scanning is off). dollar: $1, $2
 * (PostgreSQL) rather than ? (MySQL). n: the parameters to name (0: nothing is done).
 * The statement's text is read once; what it says is kept in the entry for its next runs.
 */
void record_param_columns(struct parse_ctx *ctx, struct stmt_entry *stmt, bool dollar,
			  const char **cols, uint32_t *lens, uint32_t n);

#endif
