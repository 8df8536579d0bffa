/*
 * libFuzzer: the PII scanner over any bytes in every context kind. The first byte picks
 * the kind and how long a column name is taken from the input; the rest is the text.
 * Findings must lie inside the text, in order and without overlap, with a confidence in
 * (0, 1], and a key (when set) readable to its end; masking every
 * finding must stay within its buffer. The same bytes as a prepared statement: every
 * placeholder key found lies inside the statement.
 * Run from the repository root (it loads config/pii.yaml, or $PII_RULES).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pii/pii.h"

static struct pii_engine *engine;
static struct pii_scratch *scratch;
static volatile unsigned key_sum;

struct check {
	const uint8_t *text;
	size_t len;
	uint32_t last_end;
};

static bool inside(const char *p, size_t n, const void *base, size_t len)
{
	const char *b = base;

	return p >= b && n <= len && (size_t)(p - b) <= len - n;
}

static int on_finding(const struct pii_finding *f, void *arg)
{
	struct check *c = arg;
	char out[128];

	if (f->start >= f->end || f->end > c->len || f->start < c->last_end ||
	    (unsigned)f->type >= PII_TYPE_COUNT || !(f->confidence > 0.0f) || f->confidence > 1.0f)
		abort();
	/* a key may also lie in the scratch's decoded copy of a query string: read it all,
	 * so ASan sees a key that points anywhere else */
	for (uint32_t i = 0; f->key && i < f->key_len; i++)
		key_sum += (uint8_t)f->key[i];
	if (!f->key && f->key_len)
		abort();
	c->last_end = f->end;
	if (pii_mask(f->type, c->text + f->start, f->end - f->start, out, sizeof(out)) >=
	    sizeof(out))
		abort();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *rules = getenv("PII_RULES") ? getenv("PII_RULES") : PII_RULES_DEFAULT;
	char err[1024];

	(void)argc;
	(void)argv;
	if (pii_engine_load(&engine, rules, err, sizeof(err))) {
		fprintf(stderr, "fuzz_pii: %s\n", err);
		abort();
	}
	scratch = pii_scratch_new(engine);
	if (!scratch)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check c = {0};
	const char *keys[16];
	uint32_t key_lens[16];
	size_t col_len;
	uint8_t *copy;

	if (size < 1)
		return 0;
	col_len = (data[0] >> 3) % 24;
	if (col_len > size - 1)
		col_len = size - 1;
	/* a copy of exactly the text's size, so ASan sees any read past its end */
	copy = malloc(size - 1 - col_len + 1);
	memcpy(copy, data + 1 + col_len, size - 1 - col_len);
	c.text = copy;
	c.len = size - 1 - col_len;
	pii_scan(engine, scratch, (enum pii_context_kind)(data[0] % PII_CTX_COUNT),
		 col_len ? (const char *)data + 1 : NULL, col_len, copy, c.len, on_finding, &c);
	pii_sql_param_keys(scratch, copy, c.len, data[0] & 1, keys, key_lens, 16);
	for (int i = 0; i < 16; i++)
		if (keys[i] ? !inside(keys[i], key_lens[i], copy, c.len) : key_lens[i] != 0)
			abort();
	free(copy);
	return 0;
}
