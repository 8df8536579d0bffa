/* SQL fingerprints: literals, lists, comments, quoting, whitespace; the hash is stable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fingerprint.h"

struct fp_case {
	const char *sql;
	const char *fp;
};

static const struct fp_case cases[] = {
	{"SELECT id, email FROM customers WHERE id = 3",
	 "SELECT id, email FROM customers WHERE id = ?"},
	{"select * from t where a = 'x' and b = 'it''s'", "select * from t where a = ? and b = ?"},
	{"SELECT * FROM t WHERE id IN (1, 2, 3, 4)", "SELECT * FROM t WHERE id IN (?)"},
	{"SELECT * FROM t WHERE id IN (1,2)", "SELECT * FROM t WHERE id IN (?)"},
	{"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, NULL)",
	 "INSERT INTO t (a, b) VALUES (?)"},
	{"SELECT  a\n\tFROM   t   -- trailing comment\nWHERE x = -5",
	 "SELECT a FROM t WHERE x = ?"},
	{"SELECT /* hint */ 1.5e-3, 0x1F, .5", "SELECT ?, ?, ?"},
	{"SELECT a - 1 FROM t", "SELECT a - ? FROM t"},
	{"SELECT \"Col 1\", `x` FROM t1 WHERE c2 = $1",
	 "SELECT \"Col 1\", `x` FROM t1 WHERE c2 = $1"},
	{"SELECT $$it's $1$$, $tag$x$tag$", "SELECT ?, ?"},
	{"SELECT E'a\\'b', X'ff' FROM t;", "SELECT ?, ? FROM t"},
	{"UPDATE t SET flag = TRUE WHERE deleted = false",
	 "UPDATE t SET flag = ? WHERE deleted = ?"},
	{"SELECT func(1, a) FROM t", "SELECT func(?, a) FROM t"},
	{"", ""},
};

static void test_cases(void **state)
{
	char out[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = sql_fingerprint(cases[i].sql, strlen(cases[i].sql), out, sizeof(out));

		out[n] = '\0';
		if (strcmp(out, cases[i].fp) != 0)
			print_error("case %zu: '%s' -> '%s', want '%s'\n", i, cases[i].sql, out,
				    cases[i].fp);
		assert_string_equal(out, cases[i].fp);
	}
}

static void test_same_shape_same_hash(void **state)
{
	const char *a = "SELECT * FROM t WHERE id IN (1, 2) AND name = 'x'";
	const char *b = "select_ignored";
	const char *c = "SELECT  *  FROM t WHERE id IN (7,8,9)  AND name = 'long value'";
	char fa[256], fc[256];
	size_t na = sql_fingerprint(a, strlen(a), fa, sizeof(fa));
	size_t nc = sql_fingerprint(c, strlen(c), fc, sizeof(fc));

	(void)state;
	(void)b;
	assert_int_equal(na, nc);
	assert_memory_equal(fa, fc, na);
	assert_true(fingerprint_hash(fa, na) == fingerprint_hash(fc, nc));
	/* xxHash64 of "SELECT ?" with seed 0: the hash is part of the record format */
	assert_true(fingerprint_hash("SELECT ?", 8) == 0x159e65dba30e5a01ull);
}

static void test_bounded_output(void **state)
{
	const char *q = "SELECT a, b, c FROM some_table WHERE x = 'abc'";
	char out[64];

	(void)state;
	for (size_t cap = 0; cap < 20; cap++) {
		memset(out, 'Z', sizeof(out));
		assert_true(sql_fingerprint(q, strlen(q), out, cap) <= cap);
		for (size_t i = cap; i < sizeof(out); i++)
			assert_int_equal(out[i], 'Z');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_same_shape_same_hash),
		cmocka_unit_test(test_bounded_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
