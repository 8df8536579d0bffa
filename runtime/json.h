/*
 * A JSON writer into a caller-owned buffer: the one place records become text.
 *
 * It never allocates and never writes past cap: when the value does not fit it sets
 * `overflow` and stops writing, and the caller retries in a larger (or fresh) buffer.
 * Strings are escaped so that any byte sequence gives valid JSON: quotes, backslash and
 * control characters escaped, valid UTF-8 kept as is, each invalid UTF-8 byte written as
 * U+FFFD (the replacement character), so captured binary never breaks a record.
 */
#ifndef WIREWATCH_JSON_H
#define WIREWATCH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 16

struct json_writer {
	char *buf;
	size_t len;
	size_t cap;
	bool overflow;
	uint32_t depth;
	bool has_member[JSON_MAX_DEPTH]; /* a comma is due before the next member */
};

void json_init(struct json_writer *w, char *buf, size_t cap);

void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);

/* Object members: key then one value call. Keys are program constants, written as is. */
void json_key_n(struct json_writer *w, const char *key, size_t len);

/* Inline so that the length of a literal key is folded at compile time. */
static inline void json_key(struct json_writer *w, const char *key)
{
	json_key_n(w, key, __builtin_strlen(key));
}

void json_string(struct json_writer *w, const char *s, size_t len);
void json_cstring(struct json_writer *w, const char *s);
void json_u64(struct json_writer *w, uint64_t v);
void json_i64(struct json_writer *w, int64_t v);
void json_double(struct json_writer *w, double v, int decimals);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);

/* RFC 3339 UTC with microseconds, e.g. "2026-11-24T10:00:00.123456Z". */
void json_timestamp(struct json_writer *w, uint64_t realtime_ns);

/* Appends raw bytes (e.g. the closing newline of an NDJSON line). */
void json_raw(struct json_writer *w, const char *s, size_t len);

/* Decimal digits of v into out (at least 20 bytes, not terminated); returns the length. */
size_t json_format_u64(char *out, uint64_t v);

/* Escaped length of s without writing it: bounds checks before encoding. */
size_t json_escaped_len(const char *s, size_t len);

#endif
