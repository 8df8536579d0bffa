/*
 * The numeric database over a text whole and over its numeric windows, for the tests that
 * hold the windows to losing no match (see numeric_matches.h).
 */
#include <stdlib.h>
#include <string.h>

#include "numeric_matches.h"

struct collect {
	struct numeric_matches *m;
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct collect *c = ctx;
	uint32_t f = (uint32_t)from, t = (uint32_t)to;

	(void)flags;
	if (c->m->n == NUMERIC_MATCHES_MAX) {
		c->m->full = true;
		return 1; /* stop: too many to compare */
	}
	c->m->v[c->m->n++] = (struct numeric_match){id, f, t};
	return 0;
}

static int match_cmp(const void *a, const void *b)
{
	const struct numeric_match *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void settle(struct numeric_matches *m)
{
	uint32_t k = 0;

	qsort(m->v, m->n, sizeof(m->v[0]), match_cmp);
	for (uint32_t i = 0; i < m->n; i++) {
		if (k == 0 || match_cmp(&m->v[k - 1], &m->v[i]))
			m->v[k++] = m->v[i];
	}
	m->n = k;
}

/* Every numeric pattern in one block database: what the windows must find, over the whole
 * text (one per engine, made on first use; the tests load one engine). */
static hs_database_t *whole_db(const struct pii_engine *e, hs_scratch_t **hs)
{
	static const struct pii_engine *made_for;
	static hs_database_t *db;
	const char *exprs[256];
	unsigned flags[256], ids[256], n = 0;
	hs_compile_error_t *cerr;

	if (made_for == e)
		return db;
	for (uint32_t i = 0; i < e->npatterns && n < 256; i++) {
		if (!(e->patterns[i].flags & PII_PAT_NUMERIC) ||
		    (e->patterns[i].flags & PII_PAT_NO_TEXT))
			continue;
		exprs[n] = e->patterns[i].regex;
		flags[n] = HS_FLAG_SOM_LEFTMOST;
		ids[n++] = i;
	}
	hs_free_database(db);
	db = NULL;
	if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
		hs_free_compile_error(cerr);
		return NULL;
	}
	if (hs_alloc_scratch(db, hs) != HS_SUCCESS)
		return NULL;
	made_for = e;
	return db;
}

long numeric_matches_scan(const struct pii_engine *e, struct pii_scratch *s, const uint8_t *text,
			  size_t len, struct numeric_matches *whole,
			  struct numeric_matches *windowed)
{
	struct pii_windows *ws = &s->windows;
	struct collect w = {whole}, n = {windowed};
	hs_database_t *db = whole_db(e, &s->hs);
	long held = 0;

	whole->n = windowed->n = 0;
	whole->full = windowed->full = false;
	if (!db)
		return -1;
	hs_scan(db, (const char *)text, (unsigned)len, 0, s->hs, on_match, &w);
	pii_windows_begin(ws, text, len);
	while (pii_windows_next(ws)) {
		for (uint32_t i = 0; i < ws->n; i++) {
			const struct pii_window *win = &ws->v[i];

			if (win->raw + (size_t)win->len > len ||
			    (i && win->out <= ws->v[i - 1].out) ||
			    memcmp(ws->out + win->out, text + win->raw, win->len) ||
			    ws->out[win->out + win->len] != '\n')
				return -1;
		}
		held += (long)ws->out_len;
		if (!windowed->full)
			pii_windows_scan(e, s->hs, ws, on_match, &n); /* text offsets */
	}
	settle(whole);
	settle(windowed);
	return held;
}

const struct numeric_match *numeric_matches_diff(const struct numeric_matches *whole,
						 const struct numeric_matches *windowed,
						 bool *in_whole)
{
	for (uint32_t i = 0; i < whole->n || i < windowed->n; i++) {
		const struct numeric_match *a = i < whole->n ? &whole->v[i] : NULL;
		const struct numeric_match *b = i < windowed->n ? &windowed->v[i] : NULL;

		if (!a || !b || match_cmp(a, b)) {
			*in_whole = a != NULL && (!b || match_cmp(a, b) < 0);
			return *in_whole ? a : b;
		}
	}
	return NULL;
}
