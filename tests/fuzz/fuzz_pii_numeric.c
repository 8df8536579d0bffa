/*
 * libFuzzer: the numeric windows (pii/numeric.c) lose nothing on any bytes. The numeric
 * database over the windows must report exactly the matches (pattern, start, end) it
 * reports over the whole text; a difference aborts. Windows must lie inside the text, in
 * order, and the copy must hold each window followed by '\n'.
 * Run from the repository root (it loads config/pii.yaml, or $PII_RULES).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pii/engine.h"

#define MATCHES_MAX 8192

struct match {
	uint32_t id, from, to;
};

struct matches {
	struct match v[MATCHES_MAX];
	uint32_t n;
	bool full;
	struct pii_windows *ws; /* set: offsets are in the windows */
};

static struct pii_engine *engine;
static struct pii_scratch *scratch;
static struct matches whole, windowed;

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct matches *m = ctx;
	uint32_t f = (uint32_t)from, t = (uint32_t)to;

	(void)flags;
	if (m->ws) {
		f = pii_windows_raw_offset(m->ws, from);
		t = f + (uint32_t)(to - from);
	}
	if (m->n == MATCHES_MAX) {
		m->full = true;
		return 1; /* stop: too many to compare */
	}
	m->v[m->n++] = (struct match){id, f, t};
	return 0;
}

static int match_cmp(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void settle(struct matches *m)
{
	uint32_t k = 0;

	qsort(m->v, m->n, sizeof(m->v[0]), match_cmp);
	for (uint32_t i = 0; i < m->n; i++) {
		if (k == 0 || match_cmp(&m->v[k - 1], &m->v[i]))
			m->v[k++] = m->v[i];
	}
	m->n = k;
}

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
	if (!scratch || !engine->numeric_db)
		exit(1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pii_windows *ws = &scratch->windows;

	whole = (struct matches){0};
	windowed = (struct matches){.ws = ws};
	if (size == 0)
		return 0;
	hs_scan(engine->numeric_db, (const char *)data, (unsigned)size, 0, scratch->hs, on_match,
		&whole);
	pii_windows_begin(ws, data, size);
	while (pii_windows_next(ws)) {
		for (uint32_t i = 0; i < ws->n; i++) {
			const struct pii_window *w = &ws->v[i];

			if (w->raw + (size_t)w->len > size || (i && w->out <= ws->v[i - 1].out) ||
			    memcmp(ws->out + w->out, data + w->raw, w->len) ||
			    ws->out[w->out + w->len] != '\n')
				abort();
		}
		if (ws->n && !windowed.full)
			hs_scan(engine->numeric_db, (const char *)ws->out, (unsigned)ws->out_len, 0,
				scratch->hs, on_match, &windowed);
	}
	if (whole.full || windowed.full)
		return 0;
	settle(&whole);
	settle(&windowed);
	if (whole.n != windowed.n)
		abort();
	for (uint32_t i = 0; i < whole.n; i++) {
		if (match_cmp(&whole.v[i], &windowed.v[i]))
			abort();
	}
	return 0;
}
