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
#define XXH_INLINE_ALL /* short keys and words: the call costs more than the hash */
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

/* A phrase's first two bytes (lower case; 0 for the second of a one-byte word) and length,
 * for the filter that passes over most words of text before any hashing: "the" and
 * "while" start no phrase. */
static unsigned shape_of(uint8_t first, uint8_t second, size_t n)
{
	return ((unsigned)first % 32) * 1024 + ((unsigned)second % 32) * 32 +
	       (unsigned)(n < 31 ? n : 31);
}

static bool shape_known(const struct pii_nearby_table *t, uint8_t first, uint8_t second, size_t n)
{
	unsigned k = shape_of(first, second, n);

	return t->shapes[k / 64] >> (k % 64) & 1;
}

static struct pii_nearby_word *table_slot(struct pii_nearby_table *t, const char *norm,
					  uint16_t len)
{
	uint64_t h = XXH3_64bits(norm, len);
	struct pii_nearby_word *s = slot_find(t, norm, len, h);
	unsigned shape = shape_of((uint8_t)norm[0], len > 1 ? (uint8_t)norm[1] : 0, len);

	t->shapes[shape / 64] |= 1ull << (shape % 64);
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

#define WORDS_MAX 160 /* a window of 256 bytes holds at most 128 words */

struct word {
	uint16_t start, end;
};

/*
 * The words of text[0, len) as pii_key_normalize() cuts them ('_'-joined words of lower
 * case, digits and bytes above 0x7f; capitals start a word after a lower-case letter or a
 * digit, or before one after another capital: "HTTPHeader"), from the bit masks of 64
 * bytes at a time rather than a byte at a time. Returns how many.
 */
static uint32_t words_cut(const uint8_t *text, size_t len, struct word *w)
{
	uint64_t prev_word = 0, prev_upper = 0, prev_ld = 0; /* of the byte before a block */
	uint32_t n = 0;
	bool open = false;

	for (size_t b = 0; b < len; b += 64) {
		size_t m = len - b < 64 ? len - b : 64;
		struct pii_block_classes c, next = {0};
		uint64_t word, upper, lower_next, starts, breaks;

		pii_block_classes(text + b, m, &c); /* past the window: NULs, none of the classes */
		if (b + 64 < len) /* the next block's first byte, for "HTTPHeader" */
			pii_block_classes(text + b + 64, 1, &next);
		upper = c.upper;
		word = c.lower | c.digit | upper | c.high;
		lower_next = c.lower >> 1 | (next.lower & 1) << 63;
		starts = (word & ~(word << 1 | prev_word)) |
			 (upper & ((c.lower | c.digit) << 1 | prev_ld)) |
			 (upper & (upper << 1 | prev_upper) & lower_next);
		breaks = ~word | starts; /* a word ends where a start or a separator is */
		/* a word open from a block before ends at this one's first break, or with the
		 * window when this block is all word bytes and the last */
		if (open && breaks) {
			w[n - 1].end = (uint16_t)(b + (size_t)__builtin_ctzll(breaks));
			open = false;
		} else if (open && b + 64 >= len) {
			w[n - 1].end = (uint16_t)len;
			open = false;
		}
		/* past the window the bytes read as NULs: breaks, so every word ends in time */
		for (; starts && n < WORDS_MAX; starts &= starts - 1) {
			unsigned k = (unsigned)__builtin_ctzll(starts);
			uint64_t after = k < 63 ? breaks >> (k + 1) : 0;

			w[n].start = (uint16_t)(b + k);
			if (after) {
				w[n].end = (uint16_t)(b + k + 1 + (unsigned)__builtin_ctzll(after));
			} else {
				w[n].end = (uint16_t)len; /* or where the next block says */
				open = b + 64 < len;
			}
			n++;
		}
		prev_word = word >> 63;
		prev_upper = upper >> 63;
		prev_ld = (c.lower | c.digit) >> 63;
	}
	return n;
}

/* A capital in lower case, any other byte as it is (as pii_key_normalize()). */
static uint8_t fold(uint8_t c)
{
	return (uint8_t)(c - 'A') < 26 ? c | 0x20 : c;
}

/* Appends text[w] in lower case (capitals only: as pii_key_normalize()) to out at *o. */
static void word_lower(const uint8_t *text, const struct word *w, char *out, size_t *o)
{
	for (uint16_t i = w->start; i < w->end; i++)
		out[(*o)++] = (char)fold(text[i]);
}

struct pii_keyclass pii_nearby_classify(const struct pii_engine *e, const uint8_t *text, size_t len)
{
	const struct pii_nearby_table *t = &e->nearby;
	struct pii_keyclass cls = {0, 0, 0};
	struct word w[WORDS_MAX];
	uint32_t n;

	if (len > PII_NEARBY_BYTES_MAX)
		len = PII_NEARBY_BYTES_MAX;
	n = words_cut(text, len, w);
	for (uint32_t i = 0; i < n; i++) {
		char phrase[PII_NEARBY_BYTES_MAX + PII_NEARBY_WORDS_MAX]; /* words of the window */
		size_t plen = 0, shape_len = 0;
		uint8_t first = fold(text[w[i].start]);
		/* the phrase's second byte: the word's, or the '_' after a one-byte word */
		uint8_t second = w[i].end - w[i].start > 1 ? fold(text[w[i].start + 1]) : '_';
		/* the phrases of 1, 2, ... max_words words that begin at this word */
		for (uint32_t k = i; k < n && k - i < t->max_words; k++) {
			const struct pii_nearby_word *s;

			shape_len += (k > i) + (size_t)(w[k].end - w[k].start);
			if (!shape_known(t, first, shape_len > 1 ? second : 0, shape_len))
				break;
			if (k > i)
				phrase[plen++] = '_';
			word_lower(text, &w[k], phrase, &plen);
			s = slot_find(t, phrase, plen, XXH3_64bits(phrase, plen));
			cls.pos |= s->pos;
			cls.neg |= s->neg;
			if (!s->longer)
				break; /* no phrase goes on from these words (an empty slot's is 0) */
		}
	}
	return cls;
}
