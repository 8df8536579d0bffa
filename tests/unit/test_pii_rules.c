/*
 * What the shipped rule file's pattern flags promise holds for its patterns. `needs` says
 * every match holds one of the bytes it lists, and the engine leaves the pattern out of
 * the anchored database, and of the text database for the inside of a short value, for a
 * value without any of them: on random text without those bytes the pattern never matches,
 * and on the same random text with them it does (so the check says something).
 * Run from the repository root (tests/run.sh does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pii/engine.h"

#define RULES "config/pii.yaml"

static struct pii_engine *engine;

static int setup(void **state)
{
	char err[512];

	(void)state;
	if (pii_engine_load(&engine, RULES, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pii_engine_free(engine);
	return 0;
}

static int count_match(unsigned int id, unsigned long long from, unsigned long long to,
		       unsigned int flags, void *ctx)
{
	(void)id, (void)from, (void)to, (void)flags;
	++*(int *)ctx;
	return 0;
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random text of bytes the patterns are made of and pieces shaped like their matches. */
static size_t random_text(char *text, size_t cap)
{
	static const char bytes[] = "0123456789 -.()+@%:/#xeABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
				    "ghijklmnopqrstuvwyz_=\"'";
	static const char *const pieces[] = {
		"(415) 555-2671",   "(415)555-2671",	"(030) 1234567", "(0)4 73 63",
		"+1 415 555 2671",  "+44 20 7946 0958", "%2B44 20 7946", "%2b1-800-555-0199",
		"jane@example.com", "a%40b.de",		"x@y",		 "@Z9",
	};
	size_t len = 0, want = 1 + rng() % (cap - 1);

	while (len < want) {
		const char *p = pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t n = strlen(p);

		if (rng() % 4 == 0 && len + n <= want) {
			memcpy(text + len, p, n);
			len += n;
		} else {
			text[len++] = bytes[rng() % (sizeof(bytes) - 1)];
		}
	}
	return len;
}

static void test_needs_hold(void **state)
{
	int checked = 0;

	(void)state;
	for (uint32_t i = 0; i < engine->npatterns; i++) {
		const struct pii_pattern *p = &engine->patterns[i];
		hs_database_t *db;
		hs_compile_error_t *cerr;
		hs_scratch_t *hs = NULL;
		char text[96];
		int without = 0, with = 0;

		if (!p->needs[0])
			continue;
		assert_int_equal(hs_compile(p->regex, 0, HS_MODE_BLOCK, NULL, &db, &cerr),
				 HS_SUCCESS);
		assert_int_equal(hs_alloc_scratch(db, &hs), HS_SUCCESS);
		for (int round = 0; round < 20000; round++) {
			size_t len = random_text(text, sizeof(text));
			bool any_needed = false;

			/* half of them lose the needed bytes, to a digit or a space */
			for (size_t k = 0; k < len; k++) {
				if (round % 2 && strchr(p->needs, text[k]))
					text[k] = rng() % 2 ? ' ' : (char)('0' + rng() % 10);
				any_needed |= strchr(p->needs, text[k]) != NULL;
			}
			hs_scan(db, text, (unsigned)len, 0, hs, count_match,
				any_needed ? &with : &without);
		}
		if (without)
			fail_msg("pattern '%s' needs '%s' but matched %d texts without them",
				 p->regex, p->needs, without);
		if (!with)
			fail_msg("pattern '%s' matched none of the random texts: the check says "
				 "nothing for it",
				 p->regex);
		checked++;
		hs_free_scratch(hs);
		hs_free_database(db);
	}
	assert_true(checked >= 5); /* two email patterns, the '+' and two '(' phone patterns */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needs_hold),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
