/*
 * JSON text generation (see json.h). Escaping follows RFC 8259 section 7; UTF-8 is
 * validated per RFC 3629 (no overlong forms, no surrogates, nothing above U+10FFFF).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"

static const char hex_digits[] = "0123456789abcdef";

void json_init(struct json_writer *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->len = 0;
	w->cap = cap;
	w->overflow = false;
	w->depth = 0;
	w->has_member[0] = false;
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void put_char(struct json_writer *w, char c)
{
	put(w, &c, 1);
}

/* Before any value: a comma when the enclosing container already has a member. */
static void value_prefix(struct json_writer *w)
{
	if (w->depth == 0)
		return;
	if (w->has_member[w->depth])
		put_char(w, ',');
	w->has_member[w->depth] = true;
}

static void container_begin(struct json_writer *w, char c)
{
	value_prefix(w);
	put_char(w, c);
	if (w->depth + 1 < JSON_MAX_DEPTH) {
		w->depth++;
		w->has_member[w->depth] = false;
	} else {
		w->overflow = true; /* deeper than any record we write: a bug, fail loudly */
	}
}

static void container_end(struct json_writer *w, char c)
{
	put_char(w, c);
	if (w->depth > 0)
		w->depth--;
}

void json_object_begin(struct json_writer *w)
{
	container_begin(w, '{');
}

void json_object_end(struct json_writer *w)
{
	container_end(w, '}');
}

void json_array_begin(struct json_writer *w)
{
	container_begin(w, '[');
}

void json_array_end(struct json_writer *w)
{
	container_end(w, ']');
}

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not
 * valid UTF-8.
 */
static size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Escape of one ASCII byte, or NULL when it goes out as is. */
static const char *ascii_escape(unsigned char c, char tmp[7])
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	default:
		break;
	}
	if (c < 0x20 || c == 0x7f) {
		memcpy(tmp, "\\u00", 4);
		tmp[4] = hex_digits[c >> 4];
		tmp[5] = hex_digits[c & 15];
		tmp[6] = '\0';
		return tmp;
	}
	return NULL;
}

#define REPLACEMENT_CHAR "\xef\xbf\xbd"

size_t json_escaped_len(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t out = 0;
	char tmp[7];

	for (size_t i = 0; i < len;) {
		size_t n = utf8_sequence_len(p + i, len - i);

		if (n == 0) {
			out += sizeof(REPLACEMENT_CHAR) - 1;
			i++;
		} else if (n == 1) {
			const char *e = ascii_escape(p[i], tmp);

			out += e ? strlen(e) : 1;
			i++;
		} else {
			out += n;
			i += n;
		}
	}
	return out;
}

/*
 * Whether any of the 8 bytes needs attention: a control byte, DEL or above (non-ASCII),
 * a quote or a backslash. Bit tricks from "Bit Twiddling Hacks" (haszero/hasless),
 * eight bytes per step: most record text is plain ASCII and passes in one test.
 */
static int word_needs_escape(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t quote = v ^ (ones * '"'), backslash = v ^ (ones * '\\');
	uint64_t below_space = (v - ones * 0x20) & ~v;
	uint64_t is_del = ((v ^ (ones * 0x7f)) - ones) & ~(v ^ (ones * 0x7f));

	return (((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | below_space |
		is_del | v) & highs
		       ? 1
		       : 0;
}

void json_string(struct json_writer *w, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run = 0; /* bytes copied through unchanged, written in one go */
	char tmp[7];

	value_prefix(w);
	put_char(w, '"');
	for (size_t i = 0; i < len;) {
		size_t n;
		const char *e = NULL;

		if (len - i >= 8) {
			uint64_t v;

			memcpy(&v, p + i, 8);
			if (!word_needs_escape(v)) {
				run += 8;
				i += 8;
				continue;
			}
		}
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
			run++; /* printable ASCII, the common case: no table, no decoding */
			i++;
			continue;
		}
		n = utf8_sequence_len(p + i, len - i);
		if (n == 1)
			e = ascii_escape(p[i], tmp);
		if (n != 0 && e == NULL) {
			run += n;
			i += n;
			continue;
		}
		put(w, s + i - run, run);
		run = 0;
		if (n == 0)
			put(w, REPLACEMENT_CHAR, sizeof(REPLACEMENT_CHAR) - 1);
		else
			put(w, e, strlen(e));
		i++;
	}
	put(w, s + len - run, run);
	put_char(w, '"');
}

void json_cstring(struct json_writer *w, const char *s)
{
	json_string(w, s, strlen(s));
}

void json_key_n(struct json_writer *w, const char *key, size_t n)
{
	/* keys are names in the program, never captured bytes: no escaping needed */
	value_prefix(w);
	if (w->overflow || w->cap - w->len < n + 3) {
		w->overflow = true;
		return;
	}
	w->buf[w->len] = '"';
	memcpy(w->buf + w->len + 1, key, n);
	w->buf[w->len + 1 + n] = '"';
	w->buf[w->len + 2 + n] = ':';
	w->len += n + 3;
	/* the value that follows is part of this member: no comma before it */
	w->has_member[w->depth] = false;
}

static void put_number(struct json_writer *w, const char *tmp, int n)
{
	value_prefix(w);
	if (n > 0)
		put(w, tmp, (size_t)n);
}

size_t json_format_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	/* records are mostly numbers: printf's machinery costs more than the whole record */
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

void json_u64(struct json_writer *w, uint64_t v)
{
	char tmp[24];

	put_number(w, tmp, (int)json_format_u64(tmp, v));
}

void json_i64(struct json_writer *w, int64_t v)
{
	char tmp[24];

	if (v < 0) {
		tmp[0] = '-';
		put_number(w, tmp, 1 + (int)json_format_u64(tmp + 1, (uint64_t)0 - (uint64_t)v));
	} else {
		put_number(w, tmp, (int)json_format_u64(tmp, (uint64_t)v));
	}
}

void json_double(struct json_writer *w, double v, int decimals)
{
	char tmp[48];

	if (v != v || v > 1e300 || v < -1e300) { /* NaN and infinities are not JSON */
		json_null(w);
		return;
	}
	put_number(w, tmp, snprintf(tmp, sizeof(tmp), "%.*f", decimals, v));
}

void json_bool(struct json_writer *w, bool v)
{
	value_prefix(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json_writer *w)
{
	value_prefix(w);
	put(w, "null", 4);
}

void json_timestamp(struct json_writer *w, uint64_t realtime_ns)
{
	/* the date and time change once a second: format them once per second per thread */
	static __thread time_t cached_secs = -1;
	static __thread char cached[80]; /* "\"YYYY-MM-DDTHH:MM:SS." */
	time_t secs = (time_t)(realtime_ns / 1000000000ull);
	unsigned usec = (unsigned)(realtime_ns % 1000000000ull / 1000);
	char tmp[40];

	if (secs != cached_secs) {
		struct tm tm;

		gmtime_r(&secs, &tm);
		snprintf(cached, sizeof(cached), "\"%04d-%02d-%02dT%02d:%02d:%02d.",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
		cached_secs = secs;
	}
	memcpy(tmp, cached, 21);
	for (int i = 26; i >= 21; i--) {
		tmp[i] = (char)('0' + usec % 10);
		usec /= 10;
	}
	tmp[27] = 'Z';
	tmp[28] = '"';
	put_number(w, tmp, 29);
}

void json_raw(struct json_writer *w, const char *s, size_t len)
{
	put(w, s, len);
}
