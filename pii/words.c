/*
 * The common-word list: English words that a dictionary lists only in lower case
 * ("student", "value", "wrong"), so that "Mr. Student" in a sentence is not taken for a
 * person while "Mr. Young", "Mrs. Rose" and "Dr. Baker" (listed capitalised as well, as
 * names) and every name the dictionary does not know still are. The list is Debian's
 * wamerican (/usr/share/dict/american-english), named by `common_words:` in the rules.
 *
 * Built once at load into an open-addressing table of word hashes; read-only afterwards
 * and shared by every worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL /* short keys and words: the call costs more than the hash */
#include <xxhash.h>

#include "engine.h"

#define WORD_MAX 32 /* longer lines are not words a name would be */

static uint64_t word_hash(const char *w, size_t n)
{
	return XXH3_64bits(w, n) | 1; /* never 0, the empty slot's mark */
}

static struct pii_common_slot *slot_of(const struct pii_common_words *cw, uint64_t h)
{
	for (uint32_t i = (uint32_t)h & cw->mask;; i = (i + 1) & cw->mask) {
		if (cw->slots[i].hash == h || cw->slots[i].hash == 0)
			return &cw->slots[i];
	}
}

/* A line of ASCII letters, lower-cased into out; 0 when it is something else. */
static size_t line_word(const char *line, size_t n, char *out, bool *capital)
{
	if (n == 0 || n > WORD_MAX)
		return 0;
	*capital = line[0] >= 'A' && line[0] <= 'Z';
	for (size_t i = 0; i < n; i++) {
		char c = line[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c | 0x20);
		else if (c < 'a' || c > 'z')
			return 0; /* "student's", accented forms: not needed */
		out[i] = c;
	}
	return n;
}

int pii_common_words_load(struct pii_common_words *cw, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256], word[WORD_MAX];
	uint32_t cap = 1 << 18; /* wamerican has about 100,000 words: a quarter full */

	if (!f)
		return -errno;
	cw->slots = calloc(cap, sizeof(*cw->slots));
	if (!cw->slots) {
		fclose(f);
		return -ENOMEM;
	}
	cw->mask = cap - 1;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");
		bool capital;
		struct pii_common_slot *s;

		n = line_word(line, n, word, &capital);
		if (!n)
			continue;
		if (cw->n + 1 >= cap / 2)
			break; /* a list this long is not a dictionary; what was read is used */
		s = slot_of(cw, word_hash(word, n));
		if (s->hash == 0) {
			s->hash = word_hash(word, n);
			cw->n++;
		}
		s->seen |= capital ? PII_WORD_CAPITAL : PII_WORD_LOWER;
	}
	fclose(f);
	return 0;
}

void pii_common_words_free(struct pii_common_words *cw)
{
	free(cw->slots);
	cw->slots = NULL;
}

unsigned pii_word_listed(const struct pii_common_words *cw, const uint8_t *w, size_t n)
{
	char low[WORD_MAX];
	const struct pii_common_slot *s;

	if (!cw->slots || n == 0 || n > WORD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = w[i];

		if (c >= 'A' && c <= 'Z')
			c |= 0x20;
		else if (c < 'a' || c > 'z')
			return 0;
		low[i] = (char)c;
	}
	s = slot_of(cw, word_hash(low, n));
	return s->hash != 0 ? s->seen : 0;
}
