/*
 * What the shipped rule file's pattern flags promise holds for its patterns. `needs` says
 * every match holds one of the bytes it lists, and the engine leaves the pattern out of
 * the anchored database, and of the text database for the inside of a short value, for a
 * value without any of them: on random text without those bytes the pattern never matches,
 * and on the same random text with them it does (so the check says something).
 * The anchored databases for short values are split by a value's first byte (field_dbs.c):
 * on a sample of every field pattern, and on variants of them, the split finds what one
 * database of all the field patterns finds.
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
#include "tests/lib/pii_rules_text.h"

static struct pii_engine *engine;

static int setup(void **state)
{
	(void)state;
	if (pii_engine_load_shipped(&engine))
		return -1;
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

/* A value that matches each field pattern whole (or, for a trigger, at its start). */
static const char *const field_samples[] = {
	"jane.doe@example.com",
	"4111 1111 1111 1111",
	"3782 822463 10005",
	"4111111111111111",
	"123456789012",
	"1234-5678-9012",
	"DE89370400440532013000",
	"DE89 3704 0044 0532 0130 00",
	"123-45-6789",
	"123 45 6789",
	"123456789",
	"+44 20 7946 0958",
	"%2B44 20 7946 0958",
	"0044 20 7946 0958",
	"(415) 555-2671",
	"+1 (415) 555-2671",
	"1 (415) 555-2671",
	"415-555-2671",
	"1-415-555-2671",
	"+1 415 555 2671",
	"030 1234567",
	"089/12345678",
	"(030) 1234567",
	"06 12 34 56 78",
	"4155552671",
	"0301234567",
	"203.0.113.7",
	"2001:0db8:85a3:0000:0000:8a2e:0370:7334",
	"FE80:0:0:0:0:0:0:1",
	"fe80::1",
	"::1",
	"2001:DB8::8A2E:370:7334",
	"eyJhbGciOiJIUzI1NiJ9",
	"AKIAIOSFODNN7EXAMPLE",
	"ghp_0123456789abcdefghijABCDEFGHIJ012345",
	"github_pat_0123456789abcdefghijAB_"
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
	"xoxb-123456-abcdef",
	"xoxe.xoxp-1-abcdef",
	"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
	"-----BEGIN RSA PRIVATE KEY-----",
	"Mr. Smith",
	"Dr John Doe",
	"Prof. Jane Smith",
};

struct field_matches {
	uint32_t n;
	uint64_t at[64]; /* field id << 32 | match end */
};

static int field_match(unsigned int id, unsigned long long from, unsigned long long to,
		       unsigned int flags, void *ctx)
{
	struct field_matches *m = ctx;

	(void)from, (void)flags;
	if (m->n < 64)
		m->at[m->n++] = (uint64_t)id << 32 | to;
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sample with each digit, and each letter, swapped for a random one of its kind: the
 * first byte varies over the bytes a pattern can begin with. */
static void field_variant(const char *sample, char *out)
{
	size_t i = 0;

	for (; sample[i]; i++) {
		char c = sample[i];

		if (rng() % 2 == 0)
			out[i] = c;
		else if (c >= '0' && c <= '9')
			out[i] = (char)('0' + rng() % 10);
		else if (c >= 'a' && c <= 'z')
			out[i] = (char)('a' + rng() % 26);
		else if (c >= 'A' && c <= 'Z')
			out[i] = (char)('A' + rng() % 26);
		else
			out[i] = c;
	}
	out[i] = '\0';
}

static void test_field_split_loses_nothing(void **state)
{
	const struct pii_engine *e = engine;
	const char **exprs = calloc(e->nfield, sizeof(*exprs));
	char **owned = calloc(e->nfield, sizeof(*owned));
	unsigned *flags = calloc(e->nfield, sizeof(*flags)), *ids = calloc(e->nfield, sizeof(*ids));
	bool *matched = calloc(e->nfield, sizeof(*matched));
	hs_database_t *whole;
	hs_compile_error_t *cerr;
	hs_scratch_t *hs = NULL;
	char value[128];
	int compared = 0;

	(void)state;
	assert_true(exprs && owned && flags && ids && matched);
	/* the reference: every field pattern in one database, anchored as the engine does */
	for (uint32_t k = 0; k < e->nfield; k++) {
		const struct pii_pattern *p = &e->patterns[e->field_ids[k]];
		size_t len = strlen(p->regex) + 16;

		owned[k] = malloc(len);
		assert_non_null(owned[k]);
		snprintf(owned[k], len, "^(?:%s)%s", p->regex,
			 p->flags & PII_PAT_TRIGGER ? "" : "$");
		exprs[k] = owned[k];
		ids[k] = k;
	}
	assert_int_equal(
		hs_compile_multi(exprs, flags, ids, e->nfield, HS_MODE_BLOCK, NULL, &whole, &cerr),
		HS_SUCCESS);
	assert_int_equal(hs_alloc_scratch(whole, &hs), HS_SUCCESS);
	for (uint32_t s = 0; s < e->nfield_dbs; s++)
		assert_int_equal(hs_alloc_scratch(e->field_dbs[s], &hs), HS_SUCCESS);
	for (size_t i = 0; i < sizeof(field_samples) / sizeof(field_samples[0]); i++) {
		for (int round = 0; round < 400; round++) {
			struct field_matches want = {0}, got = {0};
			const hs_database_t *db;
			size_t len;
			bool needed = false;

			if (round == 0)
				snprintf(value, sizeof(value), "%s", field_samples[i]);
			else
				field_variant(field_samples[i], value);
			len = strlen(value);
			for (size_t k = 0; k < len; k++)
				needed |= e->field_byte[(uint8_t)value[k]] & PII_FIELD_NEEDED;
			hs_scan(whole, value, (unsigned)len, 0, hs, field_match, &want);
			db = e->field_by_first[(uint8_t)value[0]][needed];
			if (db)
				hs_scan(db, value, (unsigned)len, 0, hs, field_match, &got);
			qsort(want.at, want.n, sizeof(want.at[0]), u64_cmp);
			qsort(got.at, got.n, sizeof(got.at[0]), u64_cmp);
			if (want.n != got.n || memcmp(want.at, got.at, want.n * sizeof(want.at[0])))
				fail_msg("'%s': %u field matches in one database, %u in the one "
					 "for its first byte",
					 value, want.n, got.n);
			for (uint32_t m = 0; m < want.n; m++)
				matched[want.at[m] >> 32] = true;
			compared += want.n > 0;
		}
	}
	/* every field pattern was matched, so the check says something for each */
	for (uint32_t k = 0; k < e->nfield; k++)
		if (!matched[k])
			fail_msg("no sample matches field pattern '%s': add one",
				 e->patterns[e->field_ids[k]].regex);
	assert_true(compared > 1000);
	/* and the split is one: a digit does not run the patterns led by '(' or a letter */
	assert_ptr_not_equal(e->field_by_first['4'][1], e->field_by_first['('][1]);
	hs_free_scratch(hs);
	hs_free_database(whole);
	for (uint32_t k = 0; k < e->nfield; k++)
		free(owned[k]);
	free(owned);
	free(exprs);
	free(flags);
	free(ids);
	free(matched);
}

/* PCRE2 names one first byte of a caseless pattern ("(?i)eyJ": 'e'); the split takes both
 * cases, or 'E' would lose the pattern. */
static void test_field_split_caseless(void **state)
{
	static const char rules[] = "types:\n"
				    "  jwt:\n"
				    "    validator: jwt\n"
				    "    patterns: ['(?i)eyJ[a-z0-9]{4}']\n";
	static const char value[] = "EYJabcd";
	char err[512];
	struct pii_engine *e;
	hs_scratch_t *hs = NULL;
	int found = 0;

	(void)state;
	if (pii_engine_load_text(&e, rules, err, sizeof(err)))
		fail_msg("%s", err);
	assert_non_null(e->field_by_first['e'][0]);
	assert_null(e->field_by_first['x'][0]);
	assert_non_null(e->field_by_first['E'][0]);
	assert_int_equal(hs_alloc_scratch(e->field_by_first['E'][0], &hs), HS_SUCCESS);
	hs_scan(e->field_by_first['E'][0], value, sizeof(value) - 1, 0, hs, count_match, &found);
	assert_int_equal(found, 1);
	hs_free_scratch(hs);
	pii_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needs_hold),
		cmocka_unit_test(test_field_split_loses_nothing),
		cmocka_unit_test(test_field_split_caseless),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
