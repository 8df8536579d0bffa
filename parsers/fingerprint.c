/*
 * SQL fingerprinting (see fingerprint.h). A single pass over the text with a tiny lexer:
 * quoted strings ('...' with '' and backslash escapes, E'...', $tag$...$tag$), numbers
 * (including signs after operators, decimals, exponents, hex 0x..), comments (-- and
 * nested-unaware block comments), quoted identifiers kept ("..." and `...`), runs of
 * whitespace folded to one space. Then "(?, ?, ?)" collapses to "(?)" and repeated
 * "(?), (?)" VALUES rows to one, so lists of any length give one fingerprint.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "fingerprint.h"

struct fp_out {
	char *p;
	size_t len;
	size_t cap;
};

static void out_char(struct fp_out *o, char c)
{
	if (o->len < o->cap)
		o->p[o->len++] = c;
}

static bool ends_with(const struct fp_out *o, const char *s)
{
	size_t n = strlen(s);

	return o->len >= n && memcmp(o->p + o->len - n, s, n) == 0;
}

/* After a '?' is written: fold "(?, ?" to "(?" and "(?), (?)" to "(?)". */
static void collapse_lists(struct fp_out *o)
{
	if (ends_with(o, ", ?") || ends_with(o, ",?")) {
		size_t cut = ends_with(o, ", ?") ? 3 : 2;
		size_t i = o->len - cut;

		/* only inside a list that so far holds only placeholders: "(?" ", ?"... */
		while (i > 0 && (o->p[i - 1] == '?' || o->p[i - 1] == ',' || o->p[i - 1] == ' '))
			i--;
		if (i > 0 && o->p[i - 1] == '(')
			o->len -= cut;
	}
}

static void collapse_rows(struct fp_out *o)
{
	if (ends_with(o, "(?), (?)"))
		o->len -= 5;
	else if (ends_with(o, "(?),(?)"))
		o->len -= 4;
}

static bool is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

static size_t skip_quoted(const char *s, size_t len, size_t i, char q)
{
	/* i is at the opening quote; returns the index after the closing one */
	for (i++; i < len; i++) {
		if (s[i] == '\\' && q == '\'' && i + 1 < len) {
			i++;
		} else if (s[i] == q) {
			if (i + 1 < len && s[i + 1] == q) {
				i++; /* doubled quote inside */
				continue;
			}
			return i + 1;
		}
	}
	return len;
}

/* $tag$ ... $tag$ (PostgreSQL dollar quoting); returns 0 when s[i] does not start one. */
static size_t skip_dollar(const char *s, size_t len, size_t i)
{
	size_t tag_end = i + 1;

	while (tag_end < len && (isalnum((unsigned char)s[tag_end]) || s[tag_end] == '_'))
		tag_end++;
	if (tag_end >= len || s[tag_end] != '$' ||
	    (tag_end > i + 1 && isdigit((unsigned char)s[i + 1])))
		return 0;
	size_t tag_len = tag_end - i + 1;

	for (size_t j = tag_end + 1; j + tag_len <= len; j++)
		if (s[j] == '$' && memcmp(s + j, s + i, tag_len) == 0)
			return j + tag_len;
	return len;
}

/* NULL, TRUE and FALSE are values like any literal: "VALUES (1, NULL)" is "(?)". */
static bool is_literal_keyword(const char *s, size_t len)
{
	static const char *const words[] = {"null", "true", "false"};

	for (size_t w = 0; w < 3; w++)
		if (strlen(words[w]) == len && strncasecmp(s, words[w], len) == 0)
			return true;
	return false;
}

static bool number_may_be_signed(const struct fp_out *o)
{
	/* "-5" is a literal after an operator or an opening, not after a value */
	size_t i = o->len;

	while (i > 0 && o->p[i - 1] == ' ')
		i--;
	if (i == 0)
		return true;
	return strchr("(,=<>+-*/%", o->p[i - 1]) != NULL;
}

size_t sql_fingerprint(const char *s, size_t len, char *out, size_t cap)
{
	struct fp_out o = {.p = out, .len = 0, .cap = cap};
	bool space = false;
	size_t i = 0;

	while (i < len) {
		char c = s[i];

		if (isspace((unsigned char)c)) {
			space = true;
			i++;
			continue;
		}
		if (c == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
			space = true;
			continue;
		}
		if (c == '/' && i + 1 < len && s[i + 1] == '*') {
			const char *end = NULL;

			for (size_t j = i + 2; j + 1 < len; j++)
				if (s[j] == '*' && s[j + 1] == '/') {
					end = s + j + 2;
					break;
				}
			i = end ? (size_t)(end - s) : len;
			space = true;
			continue;
		}
		if (space && o.len > 0 && o.p[o.len - 1] != '(' && c != ')' && c != ',')
			out_char(&o, ' ');
		space = false;
		if (c == '\'' ||
		    ((c == 'E' || c == 'e' || c == 'N' || c == 'n' || c == 'X' || c == 'x' ||
		      c == 'B' || c == 'b') &&
		     i + 1 < len && s[i + 1] == '\'' && (i == 0 || !is_ident_char(s[i - 1])))) {
			i = skip_quoted(s, len, c == '\'' ? i : i + 1, '\'');
			out_char(&o, '?');
			collapse_lists(&o);
			continue;
		}
		if (c == '$') {
			size_t end = skip_dollar(s, len, i);

			if (end) {
				i = end;
				out_char(&o, '?');
				collapse_lists(&o);
				continue;
			}
			/* $1 placeholders stay as written: they are already parameters */
		}
		if (c == '"' || c == '`') {
			size_t end = skip_quoted(s, len, i, c);

			for (; i < end; i++)
				out_char(&o, s[i]);
			continue;
		}
		if (isdigit((unsigned char)c) ||
		    (c == '.' && i + 1 < len && isdigit((unsigned char)s[i + 1])) ||
		    ((c == '-' || c == '+') && i + 1 < len && isdigit((unsigned char)s[i + 1]) &&
		     number_may_be_signed(&o))) {
			if (c == '-' || c == '+')
				i++;
			if (s[i] == '0' && i + 1 < len && (s[i + 1] == 'x' || s[i + 1] == 'X'))
				i += 2;
			while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '.' ||
					   ((s[i] == '+' || s[i] == '-') &&
					    (s[i - 1] == 'e' || s[i - 1] == 'E'))))
				i++;
			out_char(&o, '?');
			collapse_lists(&o);
			continue;
		}
		if (is_ident_char(c)) {
			/* an identifier or keyword, digits inside it included (t1, col2) */
			size_t start = i;

			while (i < len && is_ident_char(s[i]))
				i++;
			if (is_literal_keyword(s + start, i - start)) {
				out_char(&o, '?');
				collapse_lists(&o);
			} else {
				for (size_t k = start; k < i; k++)
					out_char(&o, s[k]);
			}
			continue;
		}
		out_char(&o, c);
		i++;
		if (c == ')')
			collapse_rows(&o);
		if (c == ',' && i < len && !isspace((unsigned char)s[i]))
			out_char(&o, ' '); /* one style of comma spacing */
	}
	while (o.len > 0 && (o.p[o.len - 1] == ' ' || o.p[o.len - 1] == ';'))
		o.len--;
	return o.len;
}

uint64_t fingerprint_hash(const char *fp, size_t len)
{
	return XXH64(fp, len, 0);
}

#define FP_CACHE_SLOTS 256
#define FP_CACHE_TEXT  1024 /* longer statements are fingerprinted every time */

struct fp_cache_entry {
	uint64_t text_hash; /* 0 = empty */
	uint64_t fp_hash;
	uint32_t text_len;
	uint32_t fp_len;
	char fp[FP_CACHE_TEXT];
};

/* Owner: one thread each (allocated on its first use, freed at thread exit). */
static __thread struct fp_cache_entry *fp_cache;
static __thread char fp_scratch[8192 + 1024];
static pthread_key_t fp_cache_key;
static pthread_once_t fp_cache_once = PTHREAD_ONCE_INIT;

static void fp_cache_key_create(void)
{
	pthread_key_create(&fp_cache_key, free); /* the thread's cache goes when it exits */
}

const char *sql_fingerprint_cached(const char *sql, size_t len, size_t *fp_len, uint64_t *hash)
{
	uint64_t h = XXH64(sql, len, 0x6670) | 1;
	struct fp_cache_entry *e;

	if (!fp_cache) {
		pthread_once(&fp_cache_once, fp_cache_key_create);
		fp_cache = calloc(FP_CACHE_SLOTS, sizeof(*fp_cache));
		pthread_setspecific(fp_cache_key, fp_cache);
	}
	e = fp_cache ? &fp_cache[h % FP_CACHE_SLOTS] : NULL;
	if (e && e->text_hash == h && e->text_len == len) {
		*fp_len = e->fp_len;
		*hash = e->fp_hash;
		return e->fp;
	}
	*fp_len = sql_fingerprint(sql, len, fp_scratch, sizeof(fp_scratch));
	*hash = fingerprint_hash(fp_scratch, *fp_len);
	if (e && *fp_len <= FP_CACHE_TEXT) {
		e->text_hash = h;
		e->text_len = (uint32_t)len;
		e->fp_len = (uint32_t)*fp_len;
		e->fp_hash = *hash;
		memcpy(e->fp, fp_scratch, *fp_len);
		return e->fp;
	}
	return fp_scratch;
}
