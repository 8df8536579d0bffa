/*
 * The passes over every byte of a text (pii/blocks.c) and what is built on them: every SIMD
 * variant the CPU has gives, on random bytes, the byte classes and the next ':' or '=' that
 * a byte-at-a-time reference written here gives; and the nearby-word classification
 * (pii/nearby.c, words cut from those classes) gives on random windows what the rule's
 * words give when the window is normalised as a key (pii_key_normalize) and looked up
 * phrase by phrase.
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

static const char *const isas[] = {"avx512bw", "avx2", "sse2", "bytes"};

static struct pii_engine *engine;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

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
	for (size_t v = 0; v < sizeof(isas) / sizeof(isas[0]); v++) {
		if (!pii_block_classes_use(isas[v]))
			break; /* the widest again */
	}
	pii_engine_free(engine);
	return 0;
}

static void classes_reference(const uint8_t *q, struct pii_block_classes *c)
{
	memset(c, 0, sizeof(*c));
	for (int k = 0; k < 64; k++) {
		uint8_t b = q[k];
		bool digit = b >= '0' && b <= '9', upper = b >= 'A' && b <= 'Z',
		     lower = b >= 'a' && b <= 'z';

		c->digit |= (uint64_t)digit << k;
		c->upper |= (uint64_t)upper << k;
		c->lower |= (uint64_t)lower << k;
		c->word |= (uint64_t)(digit || upper || lower || b == '_') << k;
		c->colon |= (uint64_t)(b == ':') << k;
		c->high |= (uint64_t)(b >= 0x80) << k;
	}
}

/* Random bytes, mostly the ones the classes tell apart. */
static void random_bytes(uint8_t *p, size_t n)
{
	static const char some[] = "09AZaz_:=@ -.`{[/@\x7f\x80\xff";

	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng();

		p[i] = r % 3 ? (uint8_t)some[(r >> 8) % (sizeof(some) - 1)] : (uint8_t)(r >> 16);
	}
}

static void test_classes_agree(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof(isas) / sizeof(isas[0]); v++) {
		if (pii_block_classes_use(isas[v]))
			continue; /* not this CPU */
		for (int round = 0; round < 20000; round++) {
			uint8_t q[64];
			size_t n = round % 4 ? 64 : rng() % 65; /* short blocks too */
			uint8_t *exact =
				malloc(n ? n : 1); /* exact size: ASan sees a read past it */
			struct pii_block_classes got, want;

			random_bytes(q, sizeof(q));
			memset(q + n, 0, sizeof(q) - n);
			memcpy(exact, q, n);
			pii_block_classes(exact, n, &got);
			free(exact);
			classes_reference(q, &want);
			if (memcmp(&got, &want, sizeof(got)))
				fail_msg("%s: classes differ from the reference (round %d)",
					 isas[v], round);
		}
	}
}

static void test_pair_mark_agree(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof(isas) / sizeof(isas[0]); v++) {
		if (pii_block_classes_use(isas[v]))
			continue;
		for (int round = 0; round < 2000; round++) {
			size_t len = rng() % 300;
			uint8_t *p =
				malloc(len ? len : 1); /* exact size: ASan sees a read past it */

			for (size_t i = 0; i < len; i++) {
				uint64_t r = rng() % 64;

				p[i] = r == 0 ? ':' : r == 1 ? '=' : (uint8_t)('a' + r % 26);
			}
			for (size_t i = 0; i <= len; i += 1 + rng() % 7) {
				size_t want = i;

				while (want < len && p[want] != ':' && p[want] != '=')
					want++;
				if (pii_find_pair_mark(p, i, len) != want)
					fail_msg("%s: next mark from %zu of %zu: %zu, want %zu",
						 isas[v], i, len, pii_find_pair_mark(p, i, len),
						 want);
			}
			free(p);
		}
	}
}

/* The phrase's slot in the nearby table, by a plain search of every slot. */
static const struct pii_nearby_word *phrase_find(const char *w, size_t n)
{
	const struct pii_nearby_table *t = &engine->nearby;

	for (uint32_t i = 0; i <= t->mask; i++) {
		const struct pii_nearby_word *s = &t->slots[i];

		if (s->norm && s->len == n && !memcmp(s->norm, w, n))
			return s;
	}
	return NULL;
}

/* The window normalised as a key, cut at '_', and its phrases looked up as the table was
 * built: a word, and the next ones while a longer phrase goes on from them. */
static struct pii_keyclass nearby_reference(const uint8_t *text, size_t len)
{
	char norm[PII_NEARBY_BYTES_MAX * 3];
	size_t nn = pii_key_normalize((const char *)text, len, norm, sizeof(norm)), starts[256];
	struct pii_keyclass cls = {0, 0, 0};
	size_t nw = 0;

	for (size_t i = 0; i < nn; i++) {
		if (i == 0 || norm[i - 1] == '_')
			starts[nw++] = i;
	}
	for (size_t i = 0; i < nw; i++) {
		for (size_t k = i; k < nw && k - i < engine->nearby.max_words; k++) {
			size_t end = k + 1 < nw ? starts[k + 1] - 1 : nn;
			const struct pii_nearby_word *s =
				phrase_find(norm + starts[i], end - starts[i]);

			if (!s)
				break;
			cls.pos |= s->pos;
			cls.neg |= s->neg;
			if (!s->longer)
				break;
		}
	}
	return cls;
}

static void test_nearby_matches_reference(void **state)
{
	static const char *const parts[] = {
		"call", "Call", "phone", "CALL", "card", "Card", "number", "order", "id", "ID",
		"date", "of", "birth", "DOB", "email", "mail", "ip", "from", "the", "and", "IBAN",
		"bank", "sepa", "ssn", "v", "ver", "Version", "sku", "x", "7", "2026",
		"\xc3\xa9t\xc3\xa9", " ", "  ", "_", "-", ".", ":", "=", ", ", "\t", "(", "\n",
		"HTTP", "Header", "userID", "cardNumber", "phoneNo", "ABCdef", "aB", "Ab", "a1B",
		"1A", "\x80",
		/* words longer than a block of 64 bytes */
		"supercalifragilisticexpialidocious_and_then_someMoreWordsToMakeItLongerThanABlock",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa"};

	(void)state;
	for (size_t v = 0; v < sizeof(isas) / sizeof(isas[0]); v++) {
		if (pii_block_classes_use(isas[v]))
			continue;
		for (int round = 0; round < 20000; round++) {
			uint8_t text[PII_NEARBY_BYTES_MAX];
			size_t len = 0, want_len = rng() % (round % 10 ? 48 : PII_NEARBY_BYTES_MAX);
			struct pii_keyclass got, want;

			while (len < want_len) {
				const char *p = parts[rng() % (sizeof(parts) / sizeof(parts[0]))];
				size_t n = strlen(p);

				if (len + n > want_len)
					n = want_len -
					    len; /* cut: a window starts or ends mid-word */
				memcpy(text + len, p, n);
				len += n;
			}
			got = pii_nearby_classify(engine, text, len);
			want = nearby_reference(text, len);
			if (got.pos != want.pos || got.neg != want.neg)
				fail_msg("%s: '%.*s': pos %x neg %x, want pos %x neg %x", isas[v],
					 (int)len, text, got.pos, got.neg, want.pos, want.neg);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes_agree),
		cmocka_unit_test(test_pair_mark_agree),
		cmocka_unit_test(test_nearby_matches_reference),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
