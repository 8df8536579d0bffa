/* JSON writer: escaping of any byte sequence, structure, overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

static const char *encode_string(char *buf, size_t cap, const char *s, size_t len)
{
	struct json_writer w;

	json_init(&w, buf, cap);
	json_string(&w, s, len);
	assert_false(w.overflow);
	buf[w.len] = '\0';
	return buf;
}

struct escape_case {
	const char *in;
	size_t len;
	const char *out;
};

static void test_escapes(void **state)
{
	static const struct escape_case cases[] = {
		{"plain", 5, "\"plain\""},
		{"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
		{"\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""},
		{"\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\""},
		{"nul\0byte", 8, "\"nul\\u0000byte\""},
		{"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""},				 /* valid 2-byte */
		{"\xe2\x82\xac", 3, "\"\xe2\x82\xac\""},			 /* euro sign */
		{"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},		 /* emoji */
		{"\xff", 1, "\"\xef\xbf\xbd\""},				 /* never valid */
		{"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},		 /* overlong '/' */
		{"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
		{"\xc3", 1, "\"\xef\xbf\xbd\""},				 /* cut sequence */
		{"ok\xe2\x82", 4, "\"ok\xef\xbf\xbd\xef\xbf\xbd\""}, /* cut at the end */
		{"\xf4\x90\x80\x80", 4,
		 "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* above U+10FFFF */
	};
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = encode_string(buf, sizeof(buf), cases[i].in, cases[i].len);

		assert_string_equal(got, cases[i].out);
		assert_int_equal(json_escaped_len(cases[i].in, cases[i].len),
				 strlen(cases[i].out) - 2);
	}
}

/* Every byte value alone and in pairs gives output with no raw control byte and balanced quotes. */
static void test_every_byte_pair(void **state)
{
	char buf[64];

	(void)state;
	for (int a = 0; a < 256; a++) {
		for (int b = 0; b < 256; b++) {
			char in[2] = {(char)a, (char)b};
			const char *out = encode_string(buf, sizeof(buf), in, 2);
			size_t n = strlen(out);

			assert_true(n >= 4);
			assert_int_equal(out[0], '"');
			assert_int_equal(out[n - 1], '"');
			for (size_t i = 0; i < n; i++)
				assert_true((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
		}
	}
}

/* Long strings take the eight-bytes-at-a-time path: every byte value at every position of
 * a 24-byte string must be escaped exactly as the byte-by-byte reference says. */
static void test_every_byte_in_long_strings(void **state)
{
	char in[24], buf[256];

	(void)state;
	for (int b = 0; b < 256; b++) {
		for (size_t pos = 0; pos < sizeof(in); pos++) {
			char ref[32];
			const char *out;

			memset(in, 'a', sizeof(in));
			in[pos] = (char)b;
			out = encode_string(buf, sizeof(buf), in, sizeof(in));
			assert_int_equal(strlen(out), json_escaped_len(in, sizeof(in)) + 2);
			/* the byte's own escape, computed on the short (byte-path) string */
			encode_string(ref, sizeof(ref), in + pos, 1);
			assert_memory_equal(out + 1 + pos, ref + 1, strlen(ref) - 2);
		}
	}
}

static void test_structure(void **state)
{
	char buf[256];
	struct json_writer w;

	(void)state;
	json_init(&w, buf, sizeof(buf));
	json_object_begin(&w);
	json_key(&w, "a");
	json_u64(&w, 18446744073709551615ull);
	json_key(&w, "b");
	json_array_begin(&w);
	json_i64(&w, -5);
	json_bool(&w, true);
	json_null(&w);
	json_object_begin(&w);
	json_object_end(&w);
	json_array_end(&w);
	json_key(&w, "c");
	json_double(&w, 0.5, 2);
	json_key(&w, "t");
	json_timestamp(&w, 1795514400123456789ull);
	json_object_end(&w);
	assert_false(w.overflow);
	buf[w.len] = '\0';
	assert_string_equal(buf, "{\"a\":18446744073709551615,\"b\":[-5,true,null,{}],\"c\":0.50,"
				 "\"t\":\"2026-11-24T10:00:00.123456Z\"}");
}

static void test_overflow_never_writes_past_cap(void **state)
{
	char buf[32];
	struct json_writer w;

	(void)state;
	for (size_t cap = 0; cap < 24; cap++) {
		memset(buf, 'X', sizeof(buf));
		json_init(&w, buf, cap);
		json_object_begin(&w);
		json_key(&w, "key");
		json_cstring(&w, "a value \"quoted\"");
		json_object_end(&w);
		assert_true(w.overflow);
		assert_true(w.len <= cap);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 'X');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_every_byte_pair),
		cmocka_unit_test(test_every_byte_in_long_strings),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_overflow_never_writes_past_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
