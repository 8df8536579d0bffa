/*
 * The anchored databases for short values, one per first byte.
 *
 * A field pattern is anchored at the value's start, so only the patterns whose matches can
 * begin with the value's first byte can match it. One database of all of them is one big
 * DFA whose every step is dear: on a 16-digit cell it cost 120 ns, where the patterns that
 * can begin with a digit cost 40 in a database of their own, and those led by '(' 35 on a
 * phone cell. So each byte gets the database of the patterns that can begin with it, twice:
 * with all of them, and less those with `needs` for a value holding no needed byte.
 * Bytes with the same patterns share one database; a byte no pattern begins with has none.
 *
 * Which bytes a pattern's matches can begin with is what PCRE2's start-of-match
 * optimisation computes (the first code unit, or a bitmap of them): a superset, so the
 * split never loses a match. When PCRE2 cannot tell (or does not take the pattern's
 * syntax), the pattern goes under every byte.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* The bytes a match of regex can begin with, into first (a bit per byte). */
static void first_bytes(const char *regex, uint8_t first[32])
{
	int code;
	PCRE2_SIZE offset;
	pcre2_code *re =
		pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, 0, &code, &offset, NULL);
	uint32_t type = 0, unit = 0;
	const uint8_t *bitmap = NULL;

	memset(first, 0xff, 32);
	if (!re)
		return;
	if (pcre2_pattern_info(re, PCRE2_INFO_FIRSTCODETYPE, &type) == 0 && type == 1 &&
	    pcre2_pattern_info(re, PCRE2_INFO_FIRSTCODEUNIT, &unit) == 0 && unit < 256) {
		uint8_t lower = (uint8_t)(unit | 0x20);

		/* PCRE2 does not say whether that unit is caseless: both cases, to be safe */
		memset(first, 0, 32);
		first[unit >> 3] |= (uint8_t)(1u << (unit & 7));
		if (lower >= 'a' && lower <= 'z') {
			first[lower >> 3] |= (uint8_t)(1u << (lower & 7));
			first[(lower ^ 0x20) >> 3] |= (uint8_t)(1u << ((lower ^ 0x20) & 7));
		}
	} else if (type == 0 && pcre2_pattern_info(re, PCRE2_INFO_FIRSTBITMAP, &bitmap) == 0 &&
		   bitmap) {
		memcpy(first, bitmap, 32);
	}
	pcre2_code_free(re);
}

/* A set of field patterns, a bit per field database id. */
struct pattern_set {
	uint64_t *bits;
	hs_database_t *db;
};

static bool set_empty(const uint64_t *bits, uint32_t words)
{
	for (uint32_t w = 0; w < words; w++)
		if (bits[w])
			return false;
	return true;
}

int pii_field_dbs_compile(struct pii_engine *e, const char *const *exprs, uint32_t *bad,
			  hs_compile_error_t **cerr)
{
	uint32_t n = e->nfield, words = (n + 63) / 64;
	uint8_t(*first)[32] = calloc(n ? n : 1, sizeof(*first));
	uint64_t *bits = calloc(words ? words : 1, sizeof(*bits));
	struct pattern_set *sets = calloc(2 * 256, sizeof(*sets));
	const char **sub = calloc(n ? n : 1, sizeof(*sub));
	unsigned *flags = calloc(n ? n : 1, sizeof(*flags)), *ids = calloc(n ? n : 1, sizeof(*ids));
	uint32_t nsets = 0;
	int ret = -ENOMEM;

	if (!first || !bits || !sets || !sub || !flags || !ids)
		goto out;
	for (uint32_t k = 0; k < n; k++)
		first_bytes(e->patterns[e->field_ids[k]].regex, first[k]);
	for (int b = 0; b < 256; b++) {
		for (int needed = 0; needed < 2; needed++) {
			uint32_t s, m = 0;

			memset(bits, 0, words * sizeof(*bits));
			for (uint32_t k = 0; k < n; k++) {
				if (!(first[k][b >> 3] >> (b & 7) & 1) ||
				    (!needed && e->patterns[e->field_ids[k]].needs[0]))
					continue;
				bits[k / 64] |= 1ull << (k % 64);
			}
			if (set_empty(bits, words))
				continue;
			for (s = 0; s < nsets; s++)
				if (!memcmp(sets[s].bits, bits, words * sizeof(*bits)))
					break;
			if (s == nsets) {
				sets[s].bits = malloc(words * sizeof(*bits));
				if (!sets[s].bits)
					goto out;
				memcpy(sets[s].bits, bits, words * sizeof(*bits));
				nsets++;
				for (uint32_t k = 0; k < n; k++) {
					if (!(bits[k / 64] >> (k % 64) & 1))
						continue;
					sub[m] = exprs[k];
					flags[m] = 0;
					ids[m++] = k;
				}
				if (hs_compile_multi(sub, flags, ids, m, HS_MODE_BLOCK, NULL,
						     &sets[s].db, cerr) != HS_SUCCESS) {
					*bad = ids[(*cerr)->expression >= 0 ? (*cerr)->expression
									    : 0];
					ret = -EINVAL;
					goto out;
				}
			}
			e->field_by_first[b][needed] = sets[s].db;
		}
	}
	e->field_dbs = calloc(nsets ? nsets : 1, sizeof(*e->field_dbs));
	if (!e->field_dbs)
		goto out;
	for (uint32_t s = 0; s < nsets; s++) {
		e->field_dbs[s] = sets[s].db;
		sets[s].db = NULL;
	}
	e->nfield_dbs = nsets;
	ret = 0;
out:
	if (ret)
		memset(e->field_by_first, 0, sizeof(e->field_by_first));
	for (uint32_t s = 0; s < nsets; s++) {
		hs_free_database(sets[s].db);
		free(sets[s].bits);
	}
	free(sets);
	free(first);
	free(bits);
	free(sub);
	free(flags);
	free(ids);
	return ret;
}

void pii_field_dbs_free(struct pii_engine *e)
{
	for (uint32_t s = 0; s < e->nfield_dbs; s++)
		hs_free_database(e->field_dbs[s]);
	free(e->field_dbs);
	e->field_dbs = NULL;
	e->nfield_dbs = 0;
}
