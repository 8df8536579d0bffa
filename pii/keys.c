/*
 * Keys: which name a value sits under, by the kind of text it came in. An INSERT's column
 * list names its VALUES, `col = 'x'` names x, a JSON member's name its value, a query
 * string's parameter name its value, and `key: value` in a log line its value. The context
 * rules of config/pii.yaml are written against these names.
 *
 * These are not parsers of SQL or JSON: they walk the bytes once, never allocate, keep at
 * most PII_SPANS_MAX spans, survive truncated and malformed input (a capture cut mid-body is
 * the normal case), and a value they cannot attribute is simply scanned without a key.
 */
#include <string.h>

#include "engine.h"

static bool is_ident_start(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(uint8_t c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* The byte classes a key is cut into words by (a table: this runs on every nearby-word
 * window as well as on keys). */
enum key_class { KEY_SEP, KEY_LOWER, KEY_DIGIT, KEY_UPPER, KEY_HIGH };

static const uint8_t key_class[256] = {
	['a' ... 'z'] = KEY_LOWER,
	['0' ... '9'] = KEY_DIGIT,
	['A' ... 'Z'] = KEY_UPPER,
	[0x80 ... 0xff] = KEY_HIGH,
};

size_t pii_key_normalize(const char *key, size_t len, char *out, size_t cap)
{
	const uint8_t *k = (const uint8_t *)key;
	size_t o = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len && o + 2 < cap; i++) {
		uint8_t c = k[i], cls = key_class[c];

		if (cls == KEY_SEP) {
			if (o > 0 && out[o - 1] != '_')
				out[o++] = '_';
			continue;
		}
		if (cls == KEY_UPPER) {
			/* camelCase and HTTPHeader boundaries start a word */
			uint8_t before = i > 0 ? key_class[k[i - 1]] : KEY_SEP;
			bool boundary = before == KEY_LOWER || before == KEY_DIGIT ||
					(before == KEY_UPPER && i + 1 < len &&
					 key_class[k[i + 1]] == KEY_LOWER);

			if (boundary && o > 0 && out[o - 1] != '_')
				out[o++] = '_';
			c |= 0x20;
		}
		out[o++] = (char)c;
	}
	while (o > 0 && out[o - 1] == '_')
		o--;
	out[o] = '\0';
	return o;
}

bool pii_phrase_match(const char *norm, size_t n, const struct pii_phrase *p)
{
	char squash[PII_KEY_MAX + 1];
	size_t sn = 0;

	if (p->norm_len == 0 || n == 0)
		return false;
	/* the phrase as whole words of the key: "card_number" in "billing_card_number" */
	for (size_t i = 0; i + p->norm_len <= n; i++) {
		if ((i == 0 || norm[i - 1] == '_') && !memcmp(norm + i, p->norm, p->norm_len) &&
		    (i + p->norm_len == n || norm[i + p->norm_len] == '_'))
			return true;
		while (i < n && norm[i] != '_')
			i++;
	}
	/* keys written without separators: "firstname", "useremail", "billingaddress" */
	for (size_t i = 0; i < n && sn < PII_KEY_MAX; i++) {
		if (norm[i] != '_')
			squash[sn++] = norm[i];
	}
	if (sn == p->squash_len && !memcmp(squash, p->squash, sn))
		return true;
	return p->squash_len >= 5 && sn > p->squash_len &&
	       !memcmp(squash + sn - p->squash_len, p->squash, p->squash_len);
}

static void span_add(struct pii_scratch *s, size_t start, size_t end, const char *key,
		     size_t key_len, bool quoted)
{
	struct pii_span *sp;

	if (s->nspans == PII_SPANS_MAX || end <= start)
		return;
	sp = &s->spans[s->nspans++];
	sp->start = (uint32_t)start;
	sp->end = (uint32_t)end;
	sp->key = key;
	sp->key_len = (uint32_t)(key_len > PII_KEY_MAX ? PII_KEY_MAX : key_len);
	sp->quoted = quoted;
}

/* Skips a quoted string starting at p[i] (the quote); returns the index after it. */
static size_t skip_quoted(const uint8_t *p, size_t len, size_t i, uint8_t q, bool backslash,
			  size_t *content_end)
{
	size_t j = i + 1;

	while (j < len) {
		if (backslash && p[j] == '\\') {
			j += 2;
			continue;
		}
		if (p[j] == q) {
			if (!backslash && j + 1 < len && p[j + 1] == q) { /* SQL '' */
				j += 2;
				continue;
			}
			*content_end = j;
			return j + 1;
		}
		j++;
	}
	*content_end = len;
	return len;
}

static bool word_at(const uint8_t *p, size_t len, size_t i, const char *w)
{
	size_t n = strlen(w);

	if (len - i < n || (i > 0 && is_ident(p[i - 1])))
		return false;
	for (size_t k = 0; k < n; k++) {
		if (lower(p[i + k]) != (uint8_t)w[k])
			return false;
	}
	return i + n == len || !is_ident(p[i + n]);
}

#define SQL_COLS_MAX 128

static void param_key(struct pii_param_keys *pk, uint32_t idx, const char *key, size_t len)
{
	if (idx < pk->max && !pk->keys[idx]) {
		pk->keys[idx] = key;
		pk->lens[idx] = (uint32_t)(len > PII_KEY_MAX ? PII_KEY_MAX : len);
	}
}

/*
 * SQL: the column list of INSERT INTO t (a, b) VALUES (...), (...) names each tuple's
 * values by position; elsewhere `ident op literal` (=, <>, !=, <, >, LIKE, IN (...)) names
 * the literal after the operator by the identifier before it, which covers WHERE, SET and
 * ON DUPLICATE KEY UPDATE. Identifiers may be "quoted", `quoted` or qualified (t.col).
 * When s->params is set, placeholders ($1 or ?) are named the same way, for
 * pii_sql_param_keys().
 */
static void spans_sql(struct pii_scratch *s, const uint8_t *p, size_t len)
{
	struct {
		size_t off, len;
	} cols[SQL_COLS_MAX];
	uint32_t ncols = 0, col_idx = 0;
	int depth = 0;
	bool in_values = false, in_collist = false, saw_insert = false, saw_values = false;
	size_t last_ident = 0, last_ident_len = 0;
	bool op_pending = false, in_list = false;
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];

		if (is_space(c)) {
			i++;
			continue;
		}
		if (c == '-' && i + 1 < len && p[i + 1] == '-') { /* comment to end of line */
			while (i < len && p[i] != '\n')
				i++;
			continue;
		}
		if (c == '\'' || ((c == 'E' || c == 'e') && i + 1 < len && p[i + 1] == '\'')) {
			size_t q = c == '\'' ? i : i + 1, end;
			size_t next = skip_quoted(p, len, q, '\'', c != '\'', &end);

			if (in_values && depth == 1 && col_idx < ncols)
				span_add(s, q + 1, end, (const char *)p + cols[col_idx].off,
					 cols[col_idx].len, true);
			else if (op_pending || in_list)
				span_add(s, q + 1, end, (const char *)p + last_ident,
					 last_ident_len, true);
			else
				span_add(s, q + 1, end, NULL, 0, true);
			if (!in_list)
				op_pending = false;
			i = next;
			continue;
		}
		if (c == '"' || c == '`') { /* quoted identifier */
			size_t end, next = skip_quoted(p, len, i, c, false, &end);

			if (in_collist && depth == 1 && ncols < SQL_COLS_MAX) {
				cols[ncols].off = i + 1;
				cols[ncols].len = end - i - 1;
				ncols++;
			}
			last_ident = i + 1;
			last_ident_len = end - i - 1;
			op_pending = false;
			i = next;
			continue;
		}
		if (s->params && ((c == '$' && s->params->dollar && i + 1 < len &&
				   p[i + 1] >= '0' && p[i + 1] <= '9') ||
				  (c == '?' && !s->params->dollar))) {
			uint32_t idx = 0;

			if (c == '$') {
				for (i++; i < len && p[i] >= '0' && p[i] <= '9' && idx < 1u << 20;
				     i++)
					idx = idx * 10 + (uint32_t)(p[i] - '0');
				idx--; /* $1 is the first */
			} else {
				idx = s->params->seen++;
				i++;
			}
			if (in_values && depth == 1 && col_idx < ncols)
				param_key(s->params, idx, (const char *)p + cols[col_idx].off,
					  cols[col_idx].len);
			else if (op_pending || in_list)
				param_key(s->params, idx, (const char *)p + last_ident,
					  last_ident_len);
			if (!in_list)
				op_pending = false;
			continue;
		}
		if ((c >= '0' && c <= '9') ||
		    ((c == '-' || c == '+') && i + 1 < len && p[i + 1] >= '0' && p[i + 1] <= '9')) {
			size_t st = i++;

			while (i < len && ((p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
					   p[i] == 'e' || p[i] == 'E'))
				i++;
			if (in_values && depth == 1 && col_idx < ncols)
				span_add(s, st, i, (const char *)p + cols[col_idx].off,
					 cols[col_idx].len, false);
			else if (op_pending || in_list)
				span_add(s, st, i, (const char *)p + last_ident, last_ident_len,
					 false);
			if (!in_list)
				op_pending = false;
			continue;
		}
		if (is_ident_start(c)) {
			size_t st = i;

			while (i < len && is_ident(p[i]))
				i++;
			if (word_at(p, len, st, "insert")) {
				saw_insert = true;
				ncols = 0;
				saw_values = false;
			} else if (saw_insert && (word_at(p, len, st, "values") ||
						  word_at(p, len, st, "value"))) {
				saw_values = true;
			} else if (word_at(p, len, st, "like") || word_at(p, len, st, "ilike")) {
				op_pending = true;
				continue;
			} else if (word_at(p, len, st, "in")) {
				op_pending = true;
				continue;
			} else if (word_at(p, len, st, "and") || word_at(p, len, st, "or") ||
				   word_at(p, len, st, "not") || word_at(p, len, st, "null") ||
				   word_at(p, len, st, "is")) {
				if (!word_at(p, len, st, "not") && !word_at(p, len, st, "is"))
					op_pending = false;
				continue;
			} else if (in_collist && depth == 1 && ncols < SQL_COLS_MAX) {
				cols[ncols].off = st;
				cols[ncols].len = i - st;
				ncols++;
			} else {
				size_t k = i;

				while (k < len && is_space(p[k]))
					k++;
				/* a function wraps a column or a value: lower(email) =
				 * lower('a@b.c') compares email, so neither call is a key */
				if (k < len && p[k] == '(' && !in_collist)
					continue;
			}
			last_ident = st;
			last_ident_len = i - st;
			op_pending = false;
			continue;
		}
		switch (c) {
		case '(':
			depth++;
			if (saw_insert && !saw_values && depth == 1 && ncols == 0)
				in_collist = true;
			if (saw_values && depth == 1) {
				in_values = true;
				col_idx = 0;
			}
			if (op_pending && !in_values) {
				in_list = true; /* col IN ('a', 'b') */
				op_pending = false;
			}
			break;
		case ')':
			if (depth > 0)
				depth--;
			if (depth == 0) {
				in_collist = false;
				in_values = false;
			}
			in_list = false;
			break;
		case ',':
			if (in_values && depth == 1)
				col_idx++;
			break;
		case '.': /* qualified name: t.col keeps only col, set when col is read */
			break;
		case '=':
		case '<':
		case '>':
		case '!':
			op_pending = true;
			break;
		case ';':
			saw_insert = saw_values = in_values = in_collist = false;
			depth = 0;
			break;
		default:
			op_pending = false;
			break;
		}
		i++;
	}
}

#define JSON_DEPTH_MAX 32

/*
 * JSON: member names key their values; an array's elements take the key of the member that
 * holds the array ("emails": ["a@x", "b@y"]). Strings are spans of their raw bytes between
 * the quotes; numbers are spans too (card numbers and phone numbers travel as numbers).
 */
static void spans_json(struct pii_scratch *s, const uint8_t *p, size_t len, const char *outer,
		       size_t outer_len)
{
	struct {
		bool is_obj;
		const char *key;
		size_t key_len;
	} st[JSON_DEPTH_MAX];
	int depth = 0;
	bool expect_key = false;
	const char *key = outer;
	size_t key_len = outer_len;
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];

		switch (c) {
		case '{':
		case '[':
			if (depth < JSON_DEPTH_MAX) {
				st[depth].is_obj = c == '{';
				st[depth].key = key;
				st[depth].key_len = key_len;
			}
			depth++;
			expect_key = c == '{';
			i++;
			continue;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			if (depth < JSON_DEPTH_MAX) { /* back to the key the container had */
				key = st[depth].key;
				key_len = st[depth].key_len;
			}
			expect_key = false;
			i++;
			continue;
		case ',':
			expect_key = depth > 0 && depth <= JSON_DEPTH_MAX && st[depth - 1].is_obj;
			if (depth > 0 && depth <= JSON_DEPTH_MAX && !st[depth - 1].is_obj) {
				key = st[depth - 1].key;
				key_len = st[depth - 1].key_len;
			}
			i++;
			continue;
		case '"': {
			size_t end, next = skip_quoted(p, len, i, '"', true, &end);

			if (expect_key) {
				key = (const char *)p + i + 1;
				key_len = end - i - 1;
				expect_key = false;
			} else {
				span_add(s, i + 1, end, key, key_len, true);
			}
			i = next;
			continue;
		}
		default:
			if ((c >= '0' && c <= '9') || c == '-') {
				size_t st0 = i;

				while (i < len &&
				       ((p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
					p[i] == '-' || p[i] == '+' || p[i] == 'e' || p[i] == 'E'))
					i++;
				span_add(s, st0, i, key, key_len, false);
				continue;
			}
			i++;
		}
	}
}

/* name=value&name=value (query strings, form bodies; `;` separates cookies). */
static void spans_query(struct pii_scratch *s, const uint8_t *p, size_t len)
{
	size_t i = 0;
	const uint8_t *q = memchr(p, '?', len);
	const uint8_t *eq = memchr(p, '=', len);

	if (q && (!eq || q < eq))
		i = (size_t)(q - p) + 1; /* a path before the query */
	while (i < len) {
		size_t ks = i, ke, vs, ve;

		while (i < len && p[i] == ' ')
			ks = ++i;
		while (i < len && p[i] != '=' && p[i] != '&' && p[i] != ';')
			i++;
		ke = i;
		if (i < len && p[i] == '=') {
			vs = ++i;
			while (i < len && p[i] != '&' && p[i] != ';' && p[i] != '#')
				i++;
			ve = i;
			span_add(s, vs, ve, (const char *)p + ks, ke - ks, false);
		}
		if (i < len)
			i++;
	}
}

/*
 * `key: value` and `key=value` pairs in prose and logs. The value runs to the end of the
 * line or a separator (`,;&|`), or is the quoted string; validators narrow it further
 * (a password stops at a space, a name after its capitalised words).
 */
/* How an unquoted `key: value` ends: at a line end or one of ,;&|" (VALUE_END), and for
 * key=value at a space or tab too (VALUE_SPACE); a table, as every value is read to it. */
enum { VALUE_END = 1, VALUE_SPACE = 2 };

static const uint8_t value_class[256] = {
	['\n'] = VALUE_END, ['\r'] = VALUE_END,	 [','] = VALUE_END,
	[';'] = VALUE_END,  ['&'] = VALUE_END,	 ['|'] = VALUE_END,
	['"'] = VALUE_END,  [' '] = VALUE_SPACE, ['\t'] = VALUE_SPACE,
};

static void spans_pairs(struct pii_scratch *s, const uint8_t *p, size_t len)
{
	for (size_t i = 1; (i = pii_find_pair_mark(p, i, len)) < len; i++) {
		size_t ke, ks, vs, ve;
		bool quoted = false;

		if (p[i] == ':' && i + 2 < len && p[i + 1] == '/' && p[i + 2] == '/')
			continue; /* scheme:// */
		ke = i;
		while (ke > 0 && p[ke - 1] == ' ')
			ke--;
		if (ke > 0 && (p[ke - 1] == '"' || p[ke - 1] == '\''))
			ke--;
		ks = ke;
		while (ks > 0 && ke - ks < 48 &&
		       (is_ident(p[ks - 1]) || p[ks - 1] == '-' || p[ks - 1] == '.'))
			ks--;
		/* two-word keys: "date of birth:", "card number=" */
		for (int w = 0; w < 2 && ks > 1 && p[ks - 1] == ' ' && is_ident(p[ks - 2]); w++) {
			size_t k2 = ks - 1;

			while (k2 > 0 && ke - k2 < 48 && is_ident(p[k2 - 1]))
				k2--;
			ks = k2;
		}
		if (ke == ks || !is_ident_start(p[ks]))
			continue;
		vs = i + 1;
		while (vs < len && p[vs] == ' ')
			vs++;
		if (vs < len && (p[vs] == '"' || p[vs] == '\'')) {
			skip_quoted(p, len, vs, p[vs], true, &ve);
			vs++;
			quoted = true;
		} else {
			/* key=value (logs, env) ends at a space; "Key: Value Words" may hold them,
			 * up to two spaces in a row */
			uint8_t stop = p[i] == '=' ? VALUE_END | VALUE_SPACE : VALUE_END;
			size_t lim = len - vs > 256 ? vs + 256 : len;

			for (ve = vs; ve < lim; ve++) {
				uint8_t k = value_class[p[ve]];

				if ((k & stop) || (k == VALUE_SPACE && p[ve] == ' ' &&
						   ve + 1 < len && p[ve + 1] == ' '))
					break;
			}
		}
		if (ve > vs)
			span_add(s, vs, ve, (const char *)p + ks, ke - ks, quoted);
	}
}

#define CSV_COLS_MAX 64

/* A CSV export's header line: its column names (offsets into the header's own bytes) and
 * its separator. */
struct csv_header {
	struct {
		uint32_t off, len;
	} cols[CSV_COLS_MAX];
	uint32_t ncols;
	uint8_t sep;
};

struct csv_field {
	uint32_t start, end;
};

/*
 * The header of a CSV export (RFC 4180; ',' ';' or tab): names only (no digits first, no
 * spaces at the ends), two or more, joined by one separator. Returns the offset of the
 * line's end (p[i] is '\n' or '\r', or i == len), or 0 when the line is not a header.
 */
static size_t csv_header_parse(const uint8_t *p, size_t len, struct csv_header *h)
{
	size_t i = 0;

	h->ncols = 0;
	h->sep = 0;
	while (i < len && p[i] != '\n' && p[i] != '\r') {
		size_t st = i;

		if (!is_ident_start(p[i]) || h->ncols == CSV_COLS_MAX)
			return 0;
		while (i < len && (is_ident(p[i]) || p[i] == '-' || p[i] == '.'))
			i++;
		h->cols[h->ncols].off = (uint32_t)st;
		h->cols[h->ncols].len = (uint32_t)(i - st);
		h->ncols++;
		if (i < len && (p[i] == ',' || p[i] == ';' || p[i] == '\t')) {
			if (h->sep && p[i] != h->sep)
				return 0;
			h->sep = p[i++];
		} else if (i < len && p[i] != '\n' && p[i] != '\r') {
			return 0;
		}
	}
	return h->ncols >= 2 && h->sep ? i : 0;
}

/*
 * The rows of a CSV export from p[i] on: each field is a value under its column's name
 * (names: the bytes the header's offsets point into), so "id,contact_name\n7,Levi van
 * Dijk" is judged as a contact_name. Quoted fields may hold separators and newlines. s may
 * be NULL: the rows are only checked.
 *
 * Whole text (carried false): every row must have as many fields as the header, or the
 * text is not CSV (no spans are kept; returns false); the last row may be cut short.
 * Carried (a later window of a body whose header came first): the text is CSV already,
 * and starts and ends where the window was cut, perhaps mid-row (a chunk's end): a first
 * row with too few fields is the end of a row, its fields the last columns'; another row
 * that does not fit is left without keys. Returns true.
 */
static bool csv_rows(struct pii_scratch *s, const struct csv_header *h, const char *names,
		     const uint8_t *p, size_t len, size_t i, bool carried)
{
	uint32_t first_span = s ? s->nspans : 0;
	bool first = true;

	while (i < len) {
		struct csv_field f[CSV_COLS_MAX];
		uint32_t nf = 0, skip = 0;

		while (i < len && (p[i] == '\n' || p[i] == '\r'))
			i++;
		if (i >= len)
			break;
		for (;;) {
			size_t vs = i, ve;
			/* the text may end after a separator */
			bool quoted = i < len && p[i] == '"';

			if (quoted) {
				i = skip_quoted(p, len, i, '"', false, &ve);
				vs++;
			} else {
				while (i < len && p[i] != h->sep && p[i] != '\n' && p[i] != '\r')
					i++;
				ve = i;
			}
			if (nf < CSV_COLS_MAX)
				f[nf] = (struct csv_field){(uint32_t)vs, (uint32_t)ve};
			nf++;
			if (i < len && p[i] == h->sep) {
				i++;
				continue;
			}
			break;
		}
		if (nf != h->ncols && i < len) { /* a row that does not fit the header */
			if (!carried) {
				if (s)
					s->nspans = first_span;
				return false;
			}
			if (!first || nf > h->ncols)
				nf = 0;
			else
				skip = h->ncols - nf; /* the end of a row cut before the window */
		}
		/* a field is delimited as a quoted string is, quotes or not: the whole value,
		 * spaces and all ("Filiz-Huhn-Platz 62" under `address`, not a line of prose) */
		for (uint32_t k = 0; s && k < nf && k + skip < h->ncols; k++)
			span_add(s, f[k].start, f[k].end, names + h->cols[k + skip].off,
				 h->cols[k + skip].len, true);
		first = false;
		while (i < len && p[i] != '\n' && p[i] != '\r')
			i++; /* junk after a closing quote */
	}
	return true;
}

/*
 * A CSV export as a whole text: its header line names the columns of the rows below.
 * Returns whether the text was one.
 */
static bool spans_csv(struct pii_scratch *s, const uint8_t *p, size_t len)
{
	struct csv_header h;
	size_t i = csv_header_parse(p, len, &h);

	return i && i < len && csv_rows(s, &h, (const char *)p, p, len, i, false);
}

size_t pii_csv_header(const uint8_t *text, size_t len)
{
	struct csv_header h;
	size_t i;

	if (!text)
		return 0;
	i = csv_header_parse(text, len, &h);
	if (!i || i >= len || !csv_rows(NULL, &h, (const char *)text, text, len, i, false))
		return 0;
	if (text[i] == '\r')
		i++;
	if (i < len && text[i] == '\n')
		i++;
	return i;
}

/*
 * Rows of a CSV export whose header line is key (a later window of a body: the header
 * was in the first). Returns false when key is no header.
 */
static bool spans_csv_rows(struct pii_scratch *s, const char *key, size_t key_len, const uint8_t *p,
			   size_t len)
{
	struct csv_header h;

	if (!key || !csv_header_parse((const uint8_t *)key, key_len, &h))
		return false;
	return csv_rows(s, &h, key, p, len, 0, true);
}

/* The last segment of a JSON path ("$.user.email" -> "email", "items[0].ssn" -> "ssn"). */
/*
 * A PHP session as its session handlers store it in Redis, memcached or a table
 * (session.serialize_handler = php): name|value pairs run together, each value serialized
 * (s:5:"alice"; i:3; b:1; d:1.5; N; a:2:{...}) or, as some frameworks write them, bare up
 * to ';'. Each string or bare value is a value under its name, so "email|s:9:\"a@b.co\";"
 * is judged as an email column. Arrays are stepped over whole. Returns whether the text
 * was a session (its first pair parsed).
 */
static bool spans_php_session(struct pii_scratch *s, const uint8_t *p, size_t len)
{
	uint32_t first_span = s->nspans;
	size_t i = 0;

	while (i < len) {
		size_t ks = i, kn, vs, ve;

		while (i < len && i - ks < 64 && (is_ident(p[i]) || p[i] == '-' || p[i] == '.'))
			i++;
		if (i == ks || i >= len || p[i] != '|')
			break;
		kn = i - ks;
		vs = ++i;
		if (i + 1 < len && p[i] == 's' && p[i + 1] == ':') {
			/* s:N:"..."; the length is in bytes and the quotes are not escaped */
			size_t n = 0;

			for (i += 2; i < len && p[i] >= '0' && p[i] <= '9' && n < (1u << 24); i++)
				n = n * 10 + (size_t)(p[i] - '0');
			if (i + 1 >= len || p[i] != ':' || p[i + 1] != '"' || n > len - i - 2)
				break;
			vs = i + 2;
			ve = vs + n;
			if (ve + 1 >= len || p[ve] != '"' || p[ve + 1] != ';')
				break;
			span_add(s, vs, ve, (const char *)p + ks, kn, true);
			i = ve + 2;
			continue;
		}
		if (i + 1 < len && p[i] == 'a' && p[i + 1] == ':') {
			/* an array: stepped over to its closing brace, strings by their lengths */
			int depth = 0;

			while (i < len) {
				if (p[i] == '{') {
					depth++;
				} else if (p[i] == '}' && --depth == 0) {
					break;
				} else if (p[i] == '"') {
					const uint8_t *q = memchr(p + i + 1, '"', len - i - 1);

					if (!q)
						break;
					i = (size_t)(q - p);
				}
				i++;
			}
			if (i >= len)
				break;
			i++;
			continue;
		}
		/* i:3; b:1; d:1.5; N; or a bare value up to ';' */
		while (i < len && p[i] != ';' && i - vs < 256)
			i++;
		if (i >= len || p[i] != ';')
			break;
		ve = i++;
		if (ve - vs >= 2 && p[vs + 1] == ':' && strchr("ibd", p[vs]))
			continue; /* numbers and booleans: no value a key would name */
		/* delimited exactly, as a quoted value is: the whole of it is the value */
		span_add(s, vs, ve, (const char *)p + ks, kn, true);
	}
	if (s->nspans > first_span && i >= len)
		return true;
	s->nspans = first_span;
	return false;
}

static void path_leaf(const char **key, size_t *len)
{
	const char *k = *key;
	size_t n = *len;

	while (n > 0 && (k[n - 1] == ']' || (k[n - 1] >= '0' && k[n - 1] <= '9') ||
			 k[n - 1] == '[' || k[n - 1] == '*'))
		n--;
	for (size_t i = n; i > 0; i--) {
		if (k[i - 1] == '.' || k[i - 1] == '/' || k[i - 1] == '$' || k[i - 1] == '[') {
			*key = k + i;
			*len = n - i;
			return;
		}
	}
	*len = n;
}

void pii_spans_find(struct pii_scratch *s, enum pii_context_kind kind, const char *key,
		    size_t key_len, const uint8_t *text, size_t len)
{
	size_t i = 0;

	s->nspans = 0;
	if (key && key_len == 0)
		key = NULL;
	while (i < len && is_space(text[i]))
		i++;
	switch (kind) {
	case PII_CTX_SQL_INSERT:
	case PII_CTX_SQL_WHERE:
		if (key) /* one bind parameter or literal, named by its column */
			span_add(s, 0, len, key, key_len, false);
		else
			spans_sql(s, text, len);
		break;
	case PII_CTX_HTTP_JSON:
	case PII_CTX_REDIS_VALUE:
		if (key)
			path_leaf(&key, &key_len);
		if (i < len && (text[i] == '{' || text[i] == '['))
			spans_json(s, text, len, key, key_len);
		else if (spans_php_session(s, text, len))
			break;
		else if (key)
			span_add(s, 0, len, key, key_len, false);
		else
			spans_pairs(s, text, len);
		break;
	case PII_CTX_HTTP_QUERY:
		if (key && !memchr(text, '=', len))
			span_add(s, 0, len, key, key_len, false);
		else
			spans_query(s, text, len);
		break;
	case PII_CTX_HTTP_HEADER:
		if (key && (key_len == 6 && !strncasecmp(key, "cookie", 6)))
			spans_query(s, text, len);
		else
			span_add(s, 0, len, key, key ? key_len : 0, false);
		break;
	case PII_CTX_RESULT_ROW:
		span_add(s, 0, len, key, key ? key_len : 0, false);
		break;
	case PII_CTX_FREE_TEXT:
		if (key)
			span_add(s, 0, len, key, key_len, false);
		else if (!spans_csv(s, text, len) && !spans_php_session(s, text, len))
			spans_pairs(s, text, len);
		break;
	case PII_CTX_CSV_ROWS:
		/* a key that is no header line: the rows are text without one */
		if (!spans_csv_rows(s, key, key_len, text, len) && !spans_csv(s, text, len))
			spans_pairs(s, text, len);
		break;
	case PII_CTX_COUNT:
		break;
	}
}

int pii_sql_param_keys(struct pii_scratch *s, const uint8_t *sql, size_t len, bool dollar,
		       const char **keys, uint32_t *key_lens, uint32_t max)
{
	struct pii_param_keys pk = {.keys = keys, .lens = key_lens, .max = max, .dollar = dollar};

	for (uint32_t i = 0; i < max; i++) {
		keys[i] = NULL;
		key_lens[i] = 0;
	}
	s->nspans = 0;
	s->params = &pk;
	spans_sql(s, sql, len);
	s->params = NULL;
	return 0;
}
