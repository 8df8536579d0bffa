/*
 * The nearby-word table: which types the words just before a value speak for ("call",
 * "phone") or against ("order", "invoice"). Every rule's `nearby` and `nearby_negative`
 * phrase goes into one hash table at load, so a candidate's window is normalised once
 * and each of its words (and runs of up to PII_NEARBY_WORDS_MAX words, for phrases like
 * "date_of_birth") costs one lookup, whatever the number of rules and phrases. Comparing
 * every phrase of the candidate's type against the window instead cost more than
 * Hyperscan's whole scan on text with a value every few hundred bytes.
 *
 * Built once by pii_nearby_build(), read-only afterwards and shared by every worker.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "engine.h"

static struct pii_nearby_word *slot_find(const struct pii_nearby_table *t, const char *w, size_t n,
					 uint64_t h)
{
	for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
		struct pii_nearby_word *s = &t->slots[i];

		if (!s->norm || (s->hash == h && s->len == n && !memcmp(s->norm, w, n)))
			return s;
	}
}

/* A word's first byte and length, for the filter that passes over most words of text
 * before any hashing: "the" and "while" start no phrase. */
static unsigned shape_of(const char *w, size_t n)
{
	return ((unsigned)(uint8_t)w[0] % 32) * 32 + (unsigned)(n < 31 ? n : 31);
}

static bool shape_known(const struct pii_nearby_table *t, const char *w, size_t n)
{
	unsigned k = shape_of(w, n);

	return t->shapes[k / 64] >> (k % 64) & 1;
}

static struct pii_nearby_word *table_slot(struct pii_nearby_table *t, const char *norm,
					  uint16_t len)
{
	uint64_t h = XXH3_64bits(norm, len);
	struct pii_nearby_word *s = slot_find(t, norm, len, h);

	t->shapes[shape_of(norm, len) / 64] |= 1ull << (shape_of(norm, len) % 64);
	s->norm = norm;
	s->len = len;
	s->hash = h;
	return s;
}

/* The phrase, and each of its first words as a prefix that a longer phrase follows, so a
 * lookup goes on to the next word only where some phrase does. */
static void table_add(struct pii_nearby_table *t, const struct pii_phrase *p, uint32_t pos,
		      uint32_t neg)
{
	struct pii_nearby_word *s = table_slot(t, p->norm, p->norm_len);
	uint8_t words = 1;

	s->pos |= pos;
	s->neg |= neg;
	for (uint16_t i = 0; i < p->norm_len; i++) {
		if (p->norm[i] != '_')
			continue;
		table_slot(t, p->norm, i)->longer = true;
		words++;
	}
	if (words > t->max_words)
		t->max_words = words > PII_NEARBY_WORDS_MAX ? PII_NEARBY_WORDS_MAX : words;
}

int pii_nearby_build(struct pii_engine *e)
{
	struct pii_nearby_table *t = &e->nearby;
	uint32_t n = 0, cap = 16;

	for (int k = 0; k < PII_TYPE_COUNT; k++) {
		const struct pii_rule *r = &e->rules[k];

		/* each phrase and its prefixes */
		for (uint32_t i = 0; i < r->nearby.n; i++)
			n += PII_NEARBY_WORDS_MAX;
		for (uint32_t i = 0; i < r->nearby_negative.n; i++)
			n += PII_NEARBY_WORDS_MAX;
	}
	while (cap < 2 * n)
		cap <<= 1; /* at most half full: probes stay short */
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = cap - 1;
	t->max_words = 1;
	for (int k = 0; k < PII_TYPE_COUNT; k++) {
		const struct pii_rule *r = &e->rules[k];

		for (uint32_t i = 0; i < r->nearby.n; i++)
			table_add(t, &r->nearby.v[i], 1u << k, 0);
		for (uint32_t i = 0; i < r->nearby_negative.n; i++)
			table_add(t, &r->nearby_negative.v[i], 0, 1u << k);
	}
	return 0;
}

void pii_nearby_free(struct pii_nearby_table *t)
{
	free(t->slots); /* the words themselves belong to the rules' phrases */
	t->slots = NULL;
}

struct pii_keyclass pii_nearby_classify(const struct pii_engine *e, const uint8_t *text, size_t len)
{
	const struct pii_nearby_table *t = &e->nearby;
	struct pii_keyclass cls = {0, 0};
	char norm[PII_KEY_MAX * 3];
	size_t nn = pii_key_normalize((const char *)text, len, norm, sizeof(norm));

	for (size_t start = 0; start < nn;) {
		size_t end = start;

		/* the phrases of 1, 2, ... max_words words that begin at this word */
		for (uint8_t w = 0; w < t->max_words && end < nn; w++) {
			const struct pii_nearby_word *s;

			if (w > 0)
				end++; /* past the '_' */
			while (end < nn && norm[end] != '_')
				end++;
			if (!shape_known(t, norm + start, end - start))
				break;
			s = slot_find(t, norm + start, end - start,
				      XXH3_64bits(norm + start, end - start));
			cls.pos |= s->pos;
			cls.neg |= s->neg;
			if (!s->longer)
				break; /* no phrase goes on from these words (an empty slot's is 0) */
		}
		while (start < nn && norm[start] != '_')
			start++;
		start++;
	}
	return cls;
}
