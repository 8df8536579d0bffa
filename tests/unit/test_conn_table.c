/* Connection table: lookups against a reference model, LRU order, full table, deletion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conn_table.h"

#define MODEL_KEYS 4096

/* Random insert/remove/lookup against a presence bitmap: catches broken backward shifts. */
static void test_matches_model(void **state)
{
	struct conn_table t;
	static bool present[MODEL_KEYS];
	uint32_t rng = 12345, used = 0;

	(void)state;
	memset(present, 0, sizeof(present));
	assert_int_equal(conn_table_init(&t, 1024), 0);
	for (int step = 0; step < 200000; step++) {
		uint32_t k;
		struct conn *c;

		rng = rng * 1103515245u + 12345u;
		k = (rng >> 8) % MODEL_KEYS;
		/* keys collide in the low bits on purpose: pid in the high half, fds small */
		c = conn_table_lookup(&t, (uint64_t)(k % 7) << 32 | k, k & 3);
		assert_int_equal(c != NULL, present[k]);
		if (c) {
			assert_int_equal(c->key, (uint64_t)(k % 7) << 32 | k);
			conn_table_remove(&t, c);
			present[k] = false;
			used--;
		} else if (used < 1024) {
			c = conn_table_insert(&t, (uint64_t)(k % 7) << 32 | k, k & 3);
			assert_non_null(c);
			present[k] = true;
			used++;
		}
		assert_int_equal(t.used, used);
	}
	conn_table_destroy(&t);
}

static void test_full_table_and_lru(void **state)
{
	struct conn_table t;
	struct conn *c;

	(void)state;
	assert_int_equal(conn_table_init(&t, 4), 0);
	for (uint64_t k = 1; k <= 4; k++)
		assert_non_null(conn_table_insert(&t, k, 1));
	assert_null(conn_table_insert(&t, 5, 1));
	/* touching 1 makes 2 the least recently active */
	conn_table_touch(&t, conn_table_lookup(&t, 1, 1));
	c = conn_table_oldest(&t);
	assert_int_equal(c->key, 2);
	conn_table_remove(&t, c);
	assert_non_null(conn_table_insert(&t, 5, 1));
	assert_int_equal(conn_table_oldest(&t)->key, 3);
	/* same key, other generation: a different connection */
	assert_null(conn_table_lookup(&t, 1, 2));
	assert_non_null(conn_table_lookup(&t, 1, 1));
	while ((c = conn_table_oldest(&t)) != NULL)
		conn_table_remove(&t, c);
	assert_int_equal(t.used, 0);
	conn_table_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_model),
		cmocka_unit_test(test_full_table_and_lru),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
