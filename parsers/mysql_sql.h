/*
 * Helpers of the MySQL/MariaDB parser (parsers/mysql.c) that know about values and SQL
 * text rather than about packets: binary protocol values rendered as text, a
 * multi-statement COM_QUERY split into its statements, and a statement's leading verb.
 */
#ifndef WIREWATCH_MYSQL_SQL_H
#define WIREWATCH_MYSQL_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Field types (MySQL include/field_types.h, MariaDB "Result set packets"). */
enum my_type {
	MY_TYPE_DECIMAL = 0,
	MY_TYPE_TINY = 1,
	MY_TYPE_SHORT = 2,
	MY_TYPE_LONG = 3,
	MY_TYPE_FLOAT = 4,
	MY_TYPE_DOUBLE = 5,
	MY_TYPE_NULL = 6,
	MY_TYPE_TIMESTAMP = 7,
	MY_TYPE_LONGLONG = 8,
	MY_TYPE_INT24 = 9,
	MY_TYPE_DATE = 10,
	MY_TYPE_TIME = 11,
	MY_TYPE_DATETIME = 12,
	MY_TYPE_YEAR = 13,
	MY_TYPE_NEWDATE = 14,
	MY_TYPE_VARCHAR = 15,
	MY_TYPE_BIT = 16,
	MY_TYPE_TIMESTAMP2 = 17,
	MY_TYPE_DATETIME2 = 18,
	MY_TYPE_TIME2 = 19,
	MY_TYPE_JSON = 245,
	MY_TYPE_NEWDECIMAL = 246,
	MY_TYPE_ENUM = 247,
	MY_TYPE_SET = 248,
	MY_TYPE_TINY_BLOB = 249,
	MY_TYPE_MEDIUM_BLOB = 250,
	MY_TYPE_LONG_BLOB = 251,
	MY_TYPE_BLOB = 252,
	MY_TYPE_VAR_STRING = 253,
	MY_TYPE_STRING = 254,
	MY_TYPE_GEOMETRY = 255,
};

/* Length-encoded integer (MySQL "Integer Types": int<lenenc>); *is_null for 0xfb. */
uint64_t my_lenenc(struct wire *w, int *is_null);
/* Length-encoded string: a view (bad when it runs past the end). */
const char *my_lenenc_str(struct wire *w, size_t *len);

/*
 * One value of the binary protocol (MySQL "Binary Protocol Value") of `type`, read from
 * w: a view of its text, either into the packet (strings) or into out[cap] (numbers,
 * dates). NULL when the type's length is unknown or the value runs past the end.
 */
const char *my_binary_value(uint8_t type, int is_unsigned, struct wire *w, char *out, size_t cap,
			    size_t *len);

/*
 * Splits a multi-statement COM_QUERY at top-level semicolons (outside quotes, backticks
 * and comments); statements that are only whitespace or comments are dropped, as the
 * server drops them. Returns the count; the last one keeps any excess.
 */
uint32_t my_split(const char *q, size_t len, uint32_t start[], uint32_t end[], uint32_t max);

/* The statement's first keyword, upper case ("SELECT"), into out; its length (0: none). */
size_t my_verb(const char *q, size_t len, char *out, size_t cap);

/* Question-mark placeholders outside quotes and comments (the server's param count). */
uint32_t my_placeholders(const char *q, size_t len);

#endif
