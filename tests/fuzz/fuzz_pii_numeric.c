/*
 * libFuzzer: the numeric windows (pii/numeric.c) lose nothing on any bytes. The numeric
 * database over the windows must report exactly the matches (pattern, start, end) it
 * reports over the whole text, and each window must be a copy of its text followed by
 * '\n'; a difference aborts.
 * Run from the repository root (it loads config/pii.yaml, or $PII_RULES).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pii/engine.h"
#include "tests/lib/numeric_matches.h"

static struct pii_engine *engine;
static struct pii_scratch *scratch;
static struct numeric_matches whole, windowed;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *rules = getenv("PII_RULES") ? getenv("PII_RULES") : PII_RULES_DEFAULT;
	char err[1024];

	(void)argc;
	(void)argv;
	if (pii_engine_load(&engine, rules, err, sizeof(err))) {
		fprintf(stderr, "fuzz_pii_numeric: %s\n", err);
		exit(1);
	}
	scratch = pii_scratch_new(engine);
	if (!scratch || !engine->numeric)
		exit(1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool in_whole;

	if (size == 0)
		return 0;
	if (numeric_matches_scan(engine, scratch, data, size, &whole, &windowed) < 0)
		abort();
	if (!whole.full && !windowed.full && numeric_matches_diff(&whole, &windowed, &in_whole))
		abort();
	return 0;
}
