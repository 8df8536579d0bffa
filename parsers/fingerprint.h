/*
 * SQL fingerprints: the statement with every literal replaced by '?', IN-lists and
 * VALUES rows collapsed, comments dropped, whitespace normalised and keywords kept as
 * written, plus a stable 64-bit hash (xxHash64, seed 0) of that text. Two statements
 * that differ only in their values have the same fingerprint, so "which services ran
 * this query shape" is a group-by.
 */
#ifndef WIREWATCH_FINGERPRINT_H
#define WIREWATCH_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

/* Writes the fingerprint of sql into out (never more than cap bytes); returns its length. */
size_t sql_fingerprint(const char *sql, size_t len, char *out, size_t cap);

uint64_t fingerprint_hash(const char *fp, size_t len);

/*
 * The fingerprint of sql and its hash, remembered per thread for recently seen statement
 * texts: prepared statements and ORMs send the same text again and again. Returns a view
 * valid until the calling thread's next call.
 */
const char *sql_fingerprint_cached(const char *sql, size_t len, size_t *fp_len, uint64_t *hash);

#endif
