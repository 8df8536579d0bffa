/*
 * What the numeric database matches in a text, scanned whole and through the numeric
 * windows (pii/numeric.c), for tests that check the windows lose nothing: the unit test
 * test_pii_numeric and the fuzz target fuzz_pii_numeric.
 */
#ifndef WIREWATCH_NUMERIC_MATCHES_H
#define WIREWATCH_NUMERIC_MATCHES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pii/engine.h"

#define NUMERIC_MATCHES_MAX 65536

struct numeric_match {
	uint32_t id, from, to;
};

/* One way's matches, sorted, each once (merged windows may overlap after a split). */
struct numeric_matches {
	struct numeric_match v[NUMERIC_MATCHES_MAX];
	uint32_t n;
	bool full; /* more than NUMERIC_MATCHES_MAX: not comparable */
};

/* Scans text whole into whole and through the windows into windowed; returns the bytes the
 * windows held, or -1 when a window is not a faithful copy of the text it came from. */
long numeric_matches_scan(const struct pii_engine *e, struct pii_scratch *s, const uint8_t *text,
			  size_t len, struct numeric_matches *whole,
			  struct numeric_matches *windowed);

/* The first match one way has and the other has not, or NULL when both are the same; *in_whole
 * says which side has it. */
const struct numeric_match *numeric_matches_diff(const struct numeric_matches *whole,
						 const struct numeric_matches *windowed,
						 bool *in_whole);

#endif
