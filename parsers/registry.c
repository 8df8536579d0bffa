/* The parser registry, generated from protocols.def. */
#include <stddef.h>

#include "parser.h"

#define PROTOCOL(sym) extern const struct parser sym;
#include "protocols.def"
#undef PROTOCOL

const struct parser *const parsers[] = {
#define PROTOCOL(sym) &sym,
#include "protocols.def"
#undef PROTOCOL
	NULL,
};

const uint32_t parser_count = sizeof(parsers) / sizeof(parsers[0]) - 1;
