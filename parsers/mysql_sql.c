/*
 * Values and SQL text for the MySQL/MariaDB parser (see mysql_sql.h). Nothing here
 * allocates or keeps state: every function reads a view and writes into the caller's
 * buffer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mysql_sql.h"

/* MySQL Client/Server Protocol, "Basic Data Types": int<lenenc>. */
uint64_t my_lenenc(struct wire *w, int *is_null)
{
	uint8_t b = wire_u8(w);

	if (is_null)
		*is_null = b == 0xfb && !w->bad;
	switch (b) {
	case 0xfb:
		return 0;
	case 0xfc:
		return wire_u16le(w);
	case 0xfd:
		return wire_u24le(w);
	case 0xfe:
		return wire_u64le(w);
	case 0xff: /* undefined as an integer: the first byte of an ERR packet */
		w->bad = true;
		return 0;
	default:
		return b;
	}
}

const char *my_lenenc_str(struct wire *w, size_t *len)
{
	uint64_t n = my_lenenc(w, NULL);
	const uint8_t *p;

	*len = 0;
	if (w->bad || n > wire_left(w)) {
		w->bad = true;
		return "";
	}
	p = wire_bytes(w, (size_t)n);
	*len = (size_t)n;
	return (const char *)p;
}

static size_t fmt_len(int n, size_t cap)
{
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static size_t fmt_double(double d, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%.15g", d);
	double back;

	if (sscanf(out, "%lf", &back) != 1 || back != d)
		n = snprintf(out, cap, "%.17g", d);
	return fmt_len(n, cap);
}

/* MySQL "Binary Protocol Value": MYSQL_TYPE_DATE/DATETIME/TIMESTAMP (length 0, 4, 7, 11). */
static size_t fmt_datetime(struct wire *w, uint8_t type, char *out, size_t cap)
{
	uint8_t n = wire_u8(w);
	uint16_t year = 0;
	uint8_t month = 0, day = 0, hour = 0, minute = 0, second = 0;
	uint32_t micro = 0;
	int len;

	if (n != 0 && n != 4 && n != 7 && n != 11) {
		w->bad = true;
		return 0;
	}
	if (n >= 4) {
		year = wire_u16le(w);
		month = wire_u8(w);
		day = wire_u8(w);
	}
	if (n >= 7) {
		hour = wire_u8(w);
		minute = wire_u8(w);
		second = wire_u8(w);
	}
	if (n == 11)
		micro = wire_u32le(w);
	if (type == MY_TYPE_DATE || type == MY_TYPE_NEWDATE)
		len = snprintf(out, cap, "%04u-%02u-%02u", year, month, day);
	else if (n == 11)
		len = snprintf(out, cap, "%04u-%02u-%02u %02u:%02u:%02u.%06" PRIu32, year, month,
			       day, hour, minute, second, micro);
	else
		len = snprintf(out, cap, "%04u-%02u-%02u %02u:%02u:%02u", year, month, day, hour,
			       minute, second);
	return fmt_len(len, cap);
}

/* MySQL "Binary Protocol Value": MYSQL_TYPE_TIME (length 0, 8, 12). */
static size_t fmt_time(struct wire *w, char *out, size_t cap)
{
	uint8_t n = wire_u8(w), negative = 0, hour = 0, minute = 0, second = 0;
	uint32_t days = 0, micro = 0;
	int len;

	if (n != 0 && n != 8 && n != 12) {
		w->bad = true;
		return 0;
	}
	if (n >= 8) {
		negative = wire_u8(w);
		days = wire_u32le(w);
		hour = wire_u8(w);
		minute = wire_u8(w);
		second = wire_u8(w);
	}
	if (n == 12)
		micro = wire_u32le(w);
	len = snprintf(out, cap, "%s%02" PRIu64 ":%02u:%02u", negative ? "-" : "",
		       (uint64_t)days * 24 + hour, minute, second);
	if (n == 12 && len > 0 && (size_t)len < cap)
		len += snprintf(out + len, cap - (size_t)len, ".%06" PRIu32, micro);
	return fmt_len(len, cap);
}

const char *my_binary_value(uint8_t type, int is_unsigned, struct wire *w, char *out, size_t cap,
			    size_t *len)
{
	int n = -1;

	*len = 0;
	switch (type) {
	case MY_TYPE_NULL:
		return "";
	case MY_TYPE_TINY:
		n = is_unsigned ? snprintf(out, cap, "%u", wire_u8(w))
				: snprintf(out, cap, "%d", (int8_t)wire_u8(w));
		break;
	case MY_TYPE_SHORT:
	case MY_TYPE_YEAR:
		n = is_unsigned ? snprintf(out, cap, "%u", wire_u16le(w))
				: snprintf(out, cap, "%d", (int16_t)wire_u16le(w));
		break;
	case MY_TYPE_LONG:
	case MY_TYPE_INT24:
		n = is_unsigned ? snprintf(out, cap, "%" PRIu32, wire_u32le(w))
				: snprintf(out, cap, "%" PRId32, (int32_t)wire_u32le(w));
		break;
	case MY_TYPE_LONGLONG:
		n = is_unsigned ? snprintf(out, cap, "%" PRIu64, wire_u64le(w))
				: snprintf(out, cap, "%" PRId64, (int64_t)wire_u64le(w));
		break;
	case MY_TYPE_FLOAT: {
		uint32_t bits = wire_u32le(w);
		float f;

		memcpy(&f, &bits, 4);
		n = snprintf(out, cap, "%.9g", (double)f);
		break;
	}
	case MY_TYPE_DOUBLE: {
		uint64_t bits = wire_u64le(w);
		double d;

		memcpy(&d, &bits, 8);
		*len = fmt_double(d, out, cap);
		return w->bad ? NULL : out;
	}
	case MY_TYPE_DATE:
	case MY_TYPE_NEWDATE:
	case MY_TYPE_DATETIME:
	case MY_TYPE_TIMESTAMP:
	case MY_TYPE_DATETIME2:
	case MY_TYPE_TIMESTAMP2:
		*len = fmt_datetime(w, type, out, cap);
		return w->bad ? NULL : out;
	case MY_TYPE_TIME:
	case MY_TYPE_TIME2:
		*len = fmt_time(w, out, cap);
		return w->bad ? NULL : out;
	case MY_TYPE_DECIMAL:
	case MY_TYPE_NEWDECIMAL:
	case MY_TYPE_VARCHAR:
	case MY_TYPE_BIT:
	case MY_TYPE_JSON:
	case MY_TYPE_ENUM:
	case MY_TYPE_SET:
	case MY_TYPE_TINY_BLOB:
	case MY_TYPE_MEDIUM_BLOB:
	case MY_TYPE_LONG_BLOB:
	case MY_TYPE_BLOB:
	case MY_TYPE_VAR_STRING:
	case MY_TYPE_STRING:
	case MY_TYPE_GEOMETRY: {
		const char *s = my_lenenc_str(w, len);

		return w->bad ? NULL : s;
	}
	default:
		return NULL; /* length unknown: the rest of the row cannot be read */
	}
	*len = fmt_len(n, cap);
	return w->bad ? NULL : out;
}

/*
 * Skips a quoted string or comment starting at q[i]; returns the index of its last byte,
 * or i when q[i] starts neither. Quotes follow the server's lexer: backslash escapes
 * inside '...' and "..." (unless NO_BACKSLASH_ESCAPES, which we cannot see), a doubled
 * quote is two strings back to back; comments are "-- " to the end of the line, "#" to
 * the end of the line, and "/ * ... * /" (MySQL Reference Manual 11.7 "Comments").
 */
static size_t skip_quoted(const char *q, size_t len, size_t i)
{
	char c = q[i];

	if (c == '\'' || c == '"' || c == '`') {
		for (i++; i < len && q[i] != c; i++)
			if (q[i] == '\\' && c != '`')
				i++;
		return i < len ? i : len - 1;
	}
	if (c == '#' ||
	    (c == '-' && i + 2 < len && q[i + 1] == '-' &&
	     (q[i + 2] == ' ' || q[i + 2] == '\t' || q[i + 2] == '\n' || q[i + 2] == '\r'))) {
		while (i + 1 < len && q[i + 1] != '\n')
			i++;
		return i;
	}
	if (c == '/' && i + 1 < len && q[i + 1] == '*') {
		for (i += 2; i + 1 < len && !(q[i] == '*' && q[i + 1] == '/'); i++)
			;
		return i + 1 < len ? i + 1 : len - 1;
	}
	return i;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

uint32_t my_split(const char *q, size_t len, uint32_t start[], uint32_t end[], uint32_t max)
{
	uint32_t n = 0, s = 0;
	int content = 0;

	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? q[i] : ';';

		if (i < len) {
			size_t j = skip_quoted(q, len, i);

			if (j != i || c == '\'' || c == '"' || c == '`') {
				if (c == '\'' || c == '"' || c == '`')
					content = 1;
				i = j;
				continue;
			}
		}
		if (c != ';') {
			if (!is_space(c))
				content = 1;
			continue;
		}
		if (content) {
			uint32_t a = s, b = (uint32_t)(i < len ? i : len);

			while (a < b && is_space(q[a]))
				a++;
			while (b > a && is_space(q[b - 1]))
				b--;
			if (n == max) {
				end[n - 1] =
					b; /* more statements than slots: the last takes the rest */
			} else {
				start[n] = a;
				end[n] = b;
				n++;
			}
		}
		s = (uint32_t)i + 1;
		content = 0;
	}
	return n;
}

size_t my_verb(const char *q, size_t len, char *out, size_t cap)
{
	size_t i = 0, n = 0;

	while (i < len) {
		size_t j = q[i] == '\'' || q[i] == '"' || q[i] == '`' ? i : skip_quoted(q, len, i);

		if (j != i)
			i = j + 1;
		else if (is_space(q[i]) || q[i] == '(')
			i++;
		else
			break;
	}
	while (i < len && n + 1 < cap &&
	       ((q[i] >= 'a' && q[i] <= 'z') || (q[i] >= 'A' && q[i] <= 'Z') || q[i] == '_')) {
		out[n++] = (char)(q[i] >= 'a' && q[i] <= 'z' ? q[i] - 32 : q[i]);
		i++;
	}
	return n;
}

uint32_t my_placeholders(const char *q, size_t len)
{
	uint32_t n = 0;

	for (size_t i = 0; i < len; i++) {
		size_t j = skip_quoted(q, len, i);

		if (j != i || q[i] == '\'' || q[i] == '"' || q[i] == '`')
			i = j;
		else if (q[i] == '?')
			n++;
	}
	return n;
}
