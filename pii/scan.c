/*
 * The scan: Hyperscan finds candidates, keys.c says which key each sits under, validate.c
 * says whether it can be the type, and the rule's confidences plus context decide whether
 * it is reported. Overlapping findings keep the most confident one (a 16-digit run that is
 * a valid card is not also reported as a phone number).
 *
 * Short fields (one value under one key, up to field_max bytes) first go through the
 * anchored database: a value that is wholly an email or a card is known after a scan that
 * fails at the first byte for everything else. Only when that finds nothing is the value
 * searched inside, as text, with the same rules.
 *
 * The column classification memory lives in the scratch: a key is normalised and matched
 * against every word list once, then found again by its hash.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL /* short keys and words: the call costs more than the hash */
#include <xxhash.h>

#include "engine.h"

struct pii_scratch *pii_scratch_new(const struct pii_engine *e)
{
	struct pii_scratch *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->engine = e;
	s->psl.psl = e->psl;
	/* one scratch serves every database; a rule file may leave any of them out */
	const hs_database_t *dbs[3 + PII_NUM_KINDS] = {e->text_db, e->numeric_any_db,
						       e->text_plain_db};
	size_t ndbs = sizeof(dbs) / sizeof(dbs[0]);

	for (int k = 0; k < PII_NUM_KINDS; k++)
		dbs[3 + k] = e->numeric_kind_db[k];
	for (size_t i = 0; i < ndbs + e->nfield_dbs; i++) {
		const hs_database_t *db = i < ndbs ? dbs[i] : e->field_dbs[i - ndbs];

		if (db && hs_alloc_scratch(db, &s->hs) != HS_SUCCESS) {
			hs_free_scratch(s->hs);
			free(s);
			errno = ENOMEM;
			return NULL;
		}
	}
	return s;
}

size_t pii_scratch_bytes(void)
{
	return sizeof(struct pii_scratch);
}

void pii_scratch_free(struct pii_scratch *s)
{
	if (!s)
		return;
	hs_free_scratch(s->hs);
	free(s);
}

uint64_t pii_scratch_truncated(const struct pii_scratch *s)
{
	return s->truncated;
}

static uint64_t key_hash(const char *k, size_t n)
{
	return XXH3_64bits(k, n) | 1; /* never 0, the empty slot's mark */
}

static struct pii_keyclass key_classify(struct pii_scratch *s, const char *key, size_t n)
{
	const struct pii_engine *e = s->engine;
	struct pii_keyclass cls = {0, 0, 0};
	char norm[PII_KEY_MAX + 1];
	size_t nn;
	uint64_t h;
	uint32_t slot;

	if (!key || n == 0)
		return cls;
	h = key_hash(key, n);
	slot = (uint32_t)h & (PII_KEYCACHE_SLOTS - 1);
	for (int probe = 0; probe < 4; probe++) {
		struct pii_keycache_slot *c =
			&s->keycache[(slot + probe) & (PII_KEYCACHE_SLOTS - 1)];

		if (c->hash == h)
			return c->cls;
		if (c->hash == 0)
			break;
	}
	nn = pii_key_normalize(key, n, norm, sizeof(norm));
	for (int t = 0; t < PII_TYPE_COUNT; t++) {
		const struct pii_rule *r = &e->rules[t];
		uint32_t pos_len = 0, neg_len = 0;

		for (uint32_t i = 0; i < r->context.n; i++) {
			if (r->context.v[i].norm_len > pos_len &&
			    pii_phrase_match(norm, nn, &r->context.v[i]))
				pos_len = r->context.v[i].norm_len;
		}
		for (uint32_t i = 0; i < r->negative.n; i++) {
			if (r->negative.v[i].norm_len > neg_len &&
			    pii_phrase_match(norm, nn, &r->negative.v[i]))
				neg_len = r->negative.v[i].norm_len;
		}
		/* the more specific phrase decides: "email_address" is not an "address", but
		 * "tax_id" is a "tax_id" whatever "id" says */
		if (pos_len && pos_len > neg_len) {
			cls.pos |= 1u << t;
		} else if (neg_len) {
			cls.neg |= 1u << t;
		} else {
			for (uint32_t i = 0; i < r->weak_context.n; i++) {
				if (pii_phrase_match(norm, nn, &r->weak_context.v[i]))
					cls.weak |= 1u << t;
			}
		}
	}
	/* a full cache just overwrites: it is a memory, not a record */
	s->keycache[slot].hash = h;
	s->keycache[slot].cls = cls;
	return cls;
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int cand_add(struct pii_scratch *s, size_t start, size_t end, uint32_t pattern,
		    enum pii_type type, bool quoted)
{
	struct pii_cand *c;

	if (s->ncands == PII_CANDS_MAX) {
		s->overflow = true;
		return 1;
	}
	c = &s->cands[s->ncands++];
	c->start = (uint32_t)start;
	c->end = (uint32_t)end;
	c->pattern = pattern;
	c->type = type;
	c->quoted = quoted;
	return 0;
}

/* The value after a keyed match ("password: ", "born on "): quoted, or to a separator. */
static void keyed_value(const uint8_t *p, size_t len, size_t i, size_t *vs, size_t *ve,
			bool *quoted)
{
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	*quoted = false;
	if (i < len && (p[i] == '"' || p[i] == '\'')) {
		uint8_t q = p[i++];

		*vs = i;
		while (i < len && i - *vs < 256 && p[i] != q && p[i] != '\n')
			i += p[i] == '\\' && i + 1 < len ? 2 : 1;
		*ve = i < len ? i : len;
		*quoted = true;
		return;
	}
	*vs = i;
	while (i < len && i - *vs < 256 && p[i] != '\n' && p[i] != '\r' && p[i] != ',' &&
	       p[i] != ';' && p[i] != '&' && p[i] != '"' && p[i] != '\'' && p[i] != '<')
		i++;
	*ve = i;
}

static int on_text_match(unsigned int id, unsigned long long from, unsigned long long to,
			 unsigned int flags, void *ctx)
{
	struct pii_scratch *s = ctx;
	const struct pii_pattern *p = &s->engine->patterns[id];
	size_t vs, ve;
	bool quoted;

	(void)flags;
	if (p->flags & PII_PAT_KEYED) {
		keyed_value(s->text, s->len, (size_t)to, &vs, &ve, &quoted);
		if (ve <= vs)
			return 0;
		/* in SQL a value is a quoted literal: `SET password = EXCLUDED.password` names a
		 * column, and the literals have their keys from keys.c already */
		if (!quoted && (s->kind == PII_CTX_SQL_INSERT || s->kind == PII_CTX_SQL_WHERE))
			return 0;
		return cand_add(s, vs, ve, id, p->type, quoted);
	}
	/* a longer match of the same pattern from the same start replaces the shorter one */
	for (uint32_t k = s->ncands, seen = 0; k > 0 && seen < 8; k--, seen++) {
		struct pii_cand *c = &s->cands[k - 1];

		if (c->pattern == id && c->start == from) {
			c->end = (uint32_t)to;
			return 0;
		}
	}
	return cand_add(s, (size_t)from, (size_t)to, id, p->type, false);
}

/* Hyperscan over the text: the text database over all of it (plain: the one without the
 * patterns that need a byte the text lacks), the numeric databases over its windows. */
static void text_match(const struct pii_engine *e, struct pii_scratch *s, bool plain)
{
	if (e->text_db)
		hs_scan(plain && e->text_plain_db ? e->text_plain_db : e->text_db,
			(const char *)s->text, (unsigned)s->len, 0, s->hs, on_text_match, s);
	if (!e->numeric)
		return;
	pii_windows_begin(&s->windows, s->text, s->len);
	while (pii_windows_next(&s->windows))
		pii_windows_scan(e, s->hs, &s->windows, on_text_match, s); /* text offsets */
}

static int on_field_match(unsigned int id, unsigned long long from, unsigned long long to,
			  unsigned int flags, void *ctx)
{
	struct pii_scratch *s = ctx;
	uint32_t pi = s->engine->field_ids[id];

	(void)from;
	(void)flags;
	return cand_add(s, 0, (size_t)to, pi, s->engine->patterns[pi].type, false);
}

static bool kind_is_text(enum pii_context_kind k)
{
	return k == PII_CTX_FREE_TEXT || k == PII_CTX_REDIS_VALUE || k == PII_CTX_HTTP_JSON ||
	       k == PII_CTX_CSV_ROWS; /* judged as the same rows are in a whole CSV's text */
}

/* The innermost span holding [start, end): of those, the one that starts last (the spans
 * are in order of their starts, stable, so of equal starts the one found last). */
static const struct pii_span *span_of(const struct pii_scratch *s, uint32_t start, uint32_t end)
{
	const struct pii_span *base = s->spans;
	uint32_t n = s->nspans, lo;

	/* the first span starting after start: a search without branches (the halves are
	 * taken by a conditional move), as a candidate's place among the spans is not
	 * predictable */
	if (n == 0)
		return NULL;
	while (n > 1) {
		uint32_t half = n / 2;

		base = base[half].start <= start ? base + half : base;
		n -= half;
	}
	lo = (uint32_t)(base - s->spans) + (base->start <= start);
	/* back while a span this far could still reach end */
	while (lo > 0 && end <= s->spans_reach[lo - 1] + 1) {
		const struct pii_span *sp = &s->spans[--lo];

		if (end <= sp->end + 1)
			return sp;
	}
	return NULL;
}

/* Spans in order of their starts, found order kept among equal starts (they come mostly in
 * order already, so insertion is linear), and how far each prefix of them reaches. */
static void spans_order(struct pii_scratch *s)
{
	for (uint32_t i = 1; i < s->nspans; i++) {
		struct pii_span sp = s->spans[i];
		uint32_t k = i;

		while (k > 0 && s->spans[k - 1].start > sp.start) {
			s->spans[k] = s->spans[k - 1];
			k--;
		}
		s->spans[k] = sp;
	}
	for (uint32_t i = 0; i < s->nspans; i++)
		s->spans_reach[i] = i > 0 && s->spans_reach[i - 1] > s->spans[i].end
					    ? s->spans_reach[i - 1]
					    : s->spans[i].end;
}

/* Is the value found the span's whole value (give or take a quote or a space)? An email
 * inside "auth: failed login for x@y.z" is not the value of "auth". */
static bool span_is_value(const struct pii_span *sp, const struct pii_cand_view *v)
{
	return v->start <= sp->start + 1 && v->end + 1 >= sp->end;
}

/* How many words text[start, end) has (*words), and how many of them the common-word list
 * has only in lower case ("student", "plan"); -1 when there is no list. */
static int common_words_in(const struct pii_engine *e, const uint8_t *t, size_t start, size_t end,
			   int *words)
{
	int common = 0;

	*words = 0;
	for (size_t i = start; i < end;) {
		size_t w = i;

		while (w < end && t[w] != ' ')
			w++;
		common += pii_common_word(&e->common_words, t + i, w - i);
		++*words;
		i = w + 1;
	}
	return e->common_words.slots ? common : -1;
}

/* Does the unquoted value c (the rest of a line after `key:`) end at the line's end, or a
 * quote, with a number in one of its last two words? */
static bool line_value_ends_numbered(const uint8_t *t, size_t len, const struct pii_cand *c)
{
	size_t e = c->end, i;
	int words = 0;
	bool digit = false;

	if (e < len && t[e] != '\n' && t[e] != '\r' && t[e] != '"' && t[e] != '\'')
		return false;
	while (e > c->start && (t[e - 1] == ' ' || t[e - 1] == '.'))
		e--;
	for (i = e; i > c->start && words < 2; i--) {
		if (t[i - 1] == ' ' || t[i - 1] == ',') {
			if (i < e && t[i] != ' ' && t[i] != ',')
				words++;
			continue;
		}
		digit |= t[i - 1] >= '0' && t[i - 1] <= '9';
	}
	return digit;
}

/* An address read out of a line ends before the prose after it; its last word, when
 * capitalised, a word the common-word list has in lower case, and followed by lower-case
 * words, is the prose's first: "Rotonda Domiziano 8 Left several church how.", not
 * "45245 Regensburg last spring" or "75002 Paris and then". */
static void sentence_start_drop(const struct pii_engine *e, struct pii_cand_view *v)
{
	const uint8_t *t = v->text;
	size_t ws = v->end;

	if (v->end + 1 >= v->len || t[v->end] != ' ' || t[v->end + 1] < 'a' || t[v->end + 1] > 'z')
		return;
	while (ws > v->start && t[ws - 1] != ' ')
		ws--;
	if (ws == v->start || t[ws] < 'A' || t[ws] > 'Z' ||
	    !(pii_word_listed(&e->common_words, t + ws, v->end - ws) & PII_WORD_LOWER))
		return;
	while (ws > v->start && (t[ws - 1] == ' ' || t[ws - 1] == ','))
		ws--;
	v->end = ws;
}

/* Is text[start] the value of a `key:` or `key=` (not a CSV field)? */
static bool after_prompt(const uint8_t *t, size_t start)
{
	while (start > 0 && t[start - 1] == ' ')
		start--;
	return start > 0 && (t[start - 1] == ':' || t[start - 1] == '=');
}

/* Validates and scores one candidate; adds it to s->found when it clears the minimum. */
static void cand_judge(struct pii_scratch *s, const struct pii_cand *c)
{
	const struct pii_engine *e = s->engine;
	const struct pii_rule *r = &e->rules[c->type];
	const struct pii_pattern *p = c->pattern < e->npatterns ? &e->patterns[c->pattern] : NULL;
	struct pii_cand widened;

	/* an address after a prompt in a log line runs on past its commas ("Lieferadresse:
	 * Fliegnerstr. 1, 16790 Marktheidenfeld"), where `key: value` stopped the value, and
	 * one a pattern found the start of runs on from it: the rest of the line is read, and
	 * the validator keeps what of it is the address */
	bool line_rest = c->type == PII_ADDRESS && !c->quoted && kind_is_text(s->kind) &&
			 (p ? (p->flags & PII_PAT_TRIGGER) != 0 : after_prompt(s->text, c->start));

	if (line_rest && (p || (c->end < s->len && s->text[c->end] == ','))) {
		widened = *c;
		while (widened.end < s->len && widened.end - widened.start < 160 &&
		       s->text[widened.end] != '\n' && s->text[widened.end] != '\r' &&
		       s->text[widened.end] != '"')
			widened.end++;
		c = &widened;
	}
	struct pii_cand_view v = {.text = s->text,
				  .len = s->len,
				  .start = c->start,
				  .end = c->end,
				  .quoted = c->quoted,
				  /* a whole value under its key: a quoted string, a cell, a field,
				   * or for an address in prose the rest of the line after `key:`
				   * when it ends with a number ("Address: Piazza Giuliani 886",
				   * "Lieferadresse: Fliegnerstr. 1, 16790 Marktheidenfeld"): not a
				   * sentence (only the address check reads keyed) */
				  .keyed = !p && (c->quoted || !kind_is_text(s->kind) ||
						  (c->start == 0 && c->end == s->len) ||
						  (c->type == PII_ADDRESS &&
						   line_value_ends_numbered(s->text, s->len, c))),
				  .line_rest = line_rest};
	const struct pii_span *sp;
	struct pii_keyclass cls = {0, 0, 0};
	uint32_t bit = 1u << c->type;
	enum pii_verdict verdict;
	bool pos, neg, weak, near_pos = false, near_neg = false;
	int words;
	float conf;

	verdict = pii_validate(r->validator, &s->psl, &v);
	if (verdict == PII_INVALID || v.end <= v.start)
		return;
	if (line_rest)
		sentence_start_drop(e, &v);
	/* after a title or a greeting the capitalised words are the only evidence: "Mr.
	 * Student", "Dear Valued Customer" are ordinary words */
	if (p && c->type == PII_PERSON_NAME &&
	    common_words_in(e, s->text, v.start, v.end, &words) == words)
		return;
	sp = span_of(s, (uint32_t)v.start, (uint32_t)v.end);
	if (sp)
		cls = key_classify(s, sp->key, sp->key_len);
	neg = (cls.neg & bit) != 0;
	/* a value under a weak key ("name") is this type only when no word of it is an
	 * ordinary one, and two words at least: "Carol Brown", not "Premium Plan" or "Default" */
	weak = !p && !(cls.pos & bit) && (cls.weak & bit);
	if (weak && (common_words_in(e, s->text, v.start, v.end, &words) != 0 || words < 2))
		return;
	pos = (cls.pos & bit) || (p && (p->flags & PII_PAT_KEYED)) || (!p && !weak);
	if (!pos && e->nearby_bytes && (r->nearby.n || r->nearby_negative.n)) {
		size_t from = v.start > e->nearby_bytes ? v.start - e->nearby_bytes : 0;
		/* the words before it on its own line: the line before is another record */
		const uint8_t *nl = memrchr(s->text + from, '\n', v.start - from);
		struct pii_keyclass near;

		if (nl)
			from = (size_t)(nl - s->text) + 1;
		near = pii_nearby_classify(e, s->text + from, v.start - from);

		near_pos = (near.pos & bit) != 0;
		near_neg = (near.neg & bit) != 0;
	}
	conf = verdict == PII_CHECKED ? r->confidence : r->shape_confidence;
	if (pos || near_pos) {
		if (r->context_confidence > conf)
			conf = r->context_confidence;
		/* a whole unquoted `key: rest of line` is a looser span than a pattern's match:
		 * where both found the value, the pattern's extent wins the overlap */
		if (!p && !c->quoted && kind_is_text(s->kind))
			conf -= 0.05f;
	} else if (p && (p->flags & PII_PAT_CONTEXT)) {
		return;
	}
	/* a checksum alone never makes a finding certain: an order_id that passes Luhn */
	if (neg && !pos)
		conf *= 0.2f;
	else if (neg)
		conf *= 0.7f;
	if (near_neg && !pos && !near_pos)
		conf *= 0.4f;
	/* a value in a column that names another type ("phone") is less likely to be this one */
	if ((cls.pos & ~bit) && !pos)
		conf *= 0.7f;
	if (conf < e->min_confidence || s->nfound == PII_CANDS_MAX)
		return;
	s->found[s->nfound++] = (struct pii_finding){
		.type = c->type,
		.start = (uint32_t)v.start,
		.end = (uint32_t)v.end,
		.confidence = conf,
		.key = sp && span_is_value(sp, &v) ? sp->key : NULL,
		.key_len = sp && span_is_value(sp, &v) && sp->key ? sp->key_len : 0,
	};
}

static int finding_cmp(const void *a, const void *b)
{
	const struct pii_finding *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->confidence != y->confidence)
		return x->confidence > y->confidence ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return (int)x->type - (int)y->type;
}

#define INSERTION_MAX 256

/* Keeps, of findings that overlap, the most confident (then the longest). */
static uint32_t findings_resolve(struct pii_finding *f, uint32_t n)
{
	uint32_t kept = 0;

	if (n == 0)
		return 0;
	/* few findings per text, and mostly in order: insertion beats qsort's set-up; many
	 * (the text's and the numeric windows' runs one after the other: quadratic) go to
	 * qsort */
	if (n > INSERTION_MAX)
		qsort(f, n, sizeof(*f), finding_cmp);
	for (uint32_t i = 1; i < n && n <= INSERTION_MAX; i++) {
		struct pii_finding x = f[i];
		uint32_t k = i;

		while (k > 0 && finding_cmp(&f[k - 1], &x) > 0) {
			f[k] = f[k - 1];
			k--;
		}
		f[k] = x;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct pii_finding *last = kept ? &f[kept - 1] : NULL;

		if (last && f[i].start < last->end) {
			bool better = f[i].confidence > last->confidence ||
				      (f[i].confidence == last->confidence &&
				       f[i].end - f[i].start > last->end - last->start);

			if (better)
				*last = f[i];
			continue;
		}
		f[kept++] = f[i];
	}
	return kept;
}

/* What one pass over a short value tells: whether it holds a byte some anchored pattern
 * needs (else the database without those patterns will do), and whether it
 * has parts (words or a separator: else, not taken whole, there is nothing inside). */
static unsigned field_bytes(const struct pii_engine *e, const uint8_t *p, size_t len)
{
	unsigned seen = 0;

	for (size_t i = 0; i < len; i++)
		seen |= e->field_byte[p[i]];
	return seen;
}

static void add_key_value_cands(struct pii_scratch *s)
{
	const struct pii_engine *e = s->engine;

	for (uint32_t i = 0; i < s->nspans; i++) {
		const struct pii_span *sp = &s->spans[i];
		struct pii_keyclass cls;

		if (!sp->key)
			continue;
		cls = key_classify(s, sp->key, sp->key_len);
		if (!(cls.pos | cls.weak))
			continue;
		for (int t = 0; t < PII_TYPE_COUNT; t++) {
			if (e->rules[t].key_value && ((cls.pos | cls.weak) & (1u << t)) &&
			    !(cls.neg & (1u << t)))
				cand_add(s, sp->start, sp->end, UINT32_MAX, (enum pii_type)t,
					 sp->quoted);
		}
	}
}

static void judge_all(struct pii_scratch *s, uint32_t from)
{
	for (uint32_t i = from; i < s->ncands; i++)
		cand_judge(s, &s->cands[i]);
}

/* Finds, judges and resolves the findings of text into s->found. */
static void scan_text(const struct pii_engine *e, struct pii_scratch *s, enum pii_context_kind kind,
		      const char *column_or_key, size_t column_len, const uint8_t *text, size_t len)
{
	bool field, field_done = false;
	unsigned seen = 0;

	s->text = text;
	s->len = len;
	s->kind = kind;
	s->ncands = 0;
	s->nfound = 0;
	s->overflow = false;
	pii_spans_find(s, kind, column_or_key, column_len, text, len);
	spans_order(s);
	field = s->nspans == 1 && s->spans[0].start == 0 && s->spans[0].end == len &&
		len <= e->field_max && e->nfield_dbs;
	if (field) {
		size_t a = 0, b = len;

		seen = field_bytes(e, text, len);
		/* a value padded by a fixed-width column (CHAR(n)) is still one value */
		while (a < b && is_space(text[a]))
			a++;
		while (b > a && is_space(text[b - 1]))
			b--;
		const hs_database_t *db = e->field_by_first[text[0]][!!(seen & PII_FIELD_NEEDED)];

		if (a == 0 && b == len && db)
			hs_scan(db, (const char *)text, (unsigned)len, 0, s->hs, on_field_match, s);
		judge_all(s, 0);
	}
	/* a short value that the anchored database did not take whole is searched inside only
	 * when it can hold something: words (a notes cell) or a separator ("mailto:", "k=v") */
	if (field && s->nfound == 0 && !(seen & PII_FIELD_PART))
		field_done = true;
	if (!field_done && (!field || s->nfound == 0)) {
		uint32_t from = s->ncands;

		/* a short value: its one pass said whether it holds a byte a text pattern needs */
		text_match(e, s, field && !(seen & PII_TEXT_NEEDED));
		add_key_value_cands(s);
		judge_all(s, from);
	} else {
		uint32_t from = s->ncands;

		add_key_value_cands(s);
		judge_all(s, from);
	}
	if (s->overflow)
		s->truncated++;
	s->nfound = findings_resolve(s->found, s->nfound);
}

int pii_scan(const struct pii_engine *e, struct pii_scratch *s, enum pii_context_kind kind,
	     const char *column_or_key, size_t column_len, const uint8_t *text, size_t len,
	     pii_finding_fn cb, void *arg)
{
	bool decoded = false;
	int reported = 0;

	if ((unsigned)kind >= PII_CTX_COUNT || !e || !s || s->engine != e)
		return -EINVAL;
	if (len > UINT32_MAX - 1)
		return -EOVERFLOW;
	if (!text || len == 0)
		return 0;
	/* a query string or form: scanned decoded, reported at raw offsets */
	if (kind == PII_CTX_HTTP_QUERY && len <= PII_DECODE_MAX &&
	    (memchr(text, '%', len) || memchr(text, '+', len))) {
		size_t n = pii_percent_decode(text, len, s->decoded, s->escapes, &s->nescapes);

		scan_text(e, s, kind, column_or_key, column_len, s->decoded, n);
		decoded = true;
	} else {
		scan_text(e, s, kind, column_or_key, column_len, text, len);
	}
	for (uint32_t i = 0; i < s->nfound; i++) {
		struct pii_finding *f = &s->found[i];

		if (decoded) {
			f->start = pii_percent_raw_offset(s->escapes, s->nescapes, f->start);
			f->end = pii_percent_raw_offset(s->escapes, s->nescapes, f->end);
		}
		reported++;
		if (cb && cb(f, arg))
			break;
	}
	return reported;
}
