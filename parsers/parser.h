/*
 * The parser interface (DESIGN section 3): every wire protocol is one file in parsers/
 * that fills one `struct parser` and is listed once in parsers/protocols.def. The
 * engine owns the buffering: a parser answers how much it consumed and how much more it
 * needs, and never keeps pointers into the bytes it was given.
 */
#ifndef WIREWATCH_PARSER_H
#define WIREWATCH_PARSER_H

#include <stdint.h>

#include "chunk.h"

enum parse_status {
	PARSE_OK,   /* consumed bytes; call again with the rest */
	PARSE_MORE, /* keep the unconsumed tail and call again once `needed` bytes are there */
	PARSE_LOST, /* out of sync: the engine resynchronises or gives the connection up */
};

struct parse_result {
	enum parse_status status;
	uint32_t consumed;
	uint32_t needed;
};

/* Detection answers. */
#define DETECT_NEED_MORE (-1)
#define DETECT_NOT_MINE 0
/* 1..100: confidence that the bytes are this protocol */

struct parse_ctx; /* the connection, the chunk timestamp, the record API, the counters */

struct parser {
	const char *name;        /* the record's `proto` */
	const uint16_t *ports;   /* well-known ports, 0-terminated: a tie-break only */
	uint32_t state_size;     /* per connection, zeroed on attach */
	int (*detect)(const uint8_t *p, uint32_t len, enum dir dir);
	struct parse_result (*on_data)(struct parse_ctx *ctx, void *state, enum dir dir,
				       const uint8_t *p, uint32_t len);
	void (*on_gap)(struct parse_ctx *ctx, void *state, enum dir dir, uint64_t missing);
	void (*on_close)(struct parse_ctx *ctx, void *state);
};

/* The registered parsers, in protocols.def order. */
extern const struct parser *const parsers[];
extern const uint32_t parser_count;

#endif
