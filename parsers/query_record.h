/*
 * A query record while it is being built: what a parser learns about one request and
 * its response (DESIGN section 3), held in a fixed-size slot from the worker's record
 * pool until the response completes. Parsers fill it through the record API
 * (parser.h); record.c encodes it once, as one NDJSON line.
 *
 * Strings and lists live in one arena inside the slot, so a record never allocates;
 * what does not fit is cut and the record says "truncated": true.
 */
#ifndef WIREWATCH_QUERY_RECORD_H
#define WIREWATCH_QUERY_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#define RECORD_ARENA_BYTES 8192
#define RECORD_PII_MAX	   16 /* distinct (type, where, column) findings per record */
#define RECORD_MASKS_MAX   32 /* distinct values to mask in the written fields */

/* String fields, in the order they are written out; the JSON names are in record.c. */
enum record_str {
	RS_DB,
	RS_USER,
	RS_APPLICATION,
	RS_QUERY,
	RS_STATEMENT, /* prepared statement name or id */
	RS_COMMAND,
	RS_METHOD,
	RS_HOST,
	RS_PATH,
	RS_CONTENT_TYPE,
	RS_USER_AGENT,
	RS_UPGRADE, /* HTTP: protocol switched to (websocket, h2c, h2 preface) */
	RS_QTYPE,
	RS_RCODE,
	RS_DNS_FLAGS, /* DNS header flags as dig prints them: "qr rd ra tc" */
	RS_SNI,
	RS_ALPN,
	RS_TLS_VERSION,
	RS_TLS_CIPHER,
	RS_JA4,
	RS_CERT_SUBJECT,
	RS_AUTH, /* authentication method / outcome */
	RS_ERROR_CODE,
	RS_ERROR_SEVERITY,
	RS_ERROR_MESSAGE,
	RS_COUNT,
};

enum record_int {
	RI_ROWS,
	RI_STATUS_CODE,
	RI_COUNT,
};

enum record_list {
	RL_PARAMS,
	RL_COLUMNS,
	RL_ANSWERS,
	RL_COUNT,
};

enum record_status {
	RECORD_OK,
	RECORD_ERROR,
	RECORD_INCOMPLETE, /* the connection ended (or was evicted) before the response did */
};

/* One line of the record's `pii` array: findings of one type in one place. */
struct record_pii {
	uint8_t type;	     /* enum pii_type */
	uint8_t where;	     /* enum value_where */
	uint16_t column_off; /* column name in the arena (column_len 0: none) */
	uint16_t column_len;
	uint16_t sample_off; /* masked form of the first value found */
	uint16_t sample_len;
	uint32_t count;
	float confidence; /* the highest seen */
};

/* A value found to be PII: written fields that contain it show its masked form. */
struct record_mask {
	uint8_t type;
	uint16_t off; /* the value's bytes in the arena */
	uint16_t len;
};

struct query_record {
	uint64_t ts_ns;	   /* first byte of the request */
	uint64_t end_ns;   /* last byte of the response */
	uint64_t bytes[2]; /* by enum dir */
	uint32_t next;	   /* pairing queue / free list link (slot number) */
	uint32_t prev;
	uint32_t str_set; /* bit per enum record_str */
	uint32_t int_set; /* bit per enum record_int */
	uint16_t str_off[RS_COUNT];
	uint16_t str_len[RS_COUNT];
	uint16_t list_first[RL_COUNT]; /* items chained in the arena: u16 len, u16 next, bytes */
	uint16_t list_last[RL_COUNT];
	uint16_t list_count[RL_COUNT];
	int64_t ints[RI_COUNT];
	uint8_t status; /* enum record_status */
	bool truncated;
	bool unmaskable; /* a PII value could not be kept for masking: fields are redacted */
	uint8_t npii;
	uint8_t nmasks;
	struct record_pii pii[RECORD_PII_MAX];
	struct record_mask masks[RECORD_MASKS_MAX];
	uint16_t arena_used;
	char arena[RECORD_ARENA_BYTES];
};

#endif
