/* SPSC rings and chunk pools: order, capacity, and a producer/consumer pair of threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pool.h"
#include "spsc_ring.h"

static void test_ring_capacity_and_order(void **state)
{
	struct spsc_ring r;
	uintptr_t i;

	(void)state;
	assert_int_equal(spsc_ring_init(&r, 100), 0);
	for (i = 1; i <= 100; i++)
		assert_true(spsc_ring_push(&r, (void *)i));
	/* at least 100 fit; the ring is a power of two minus one */
	while (spsc_ring_push(&r, (void *)i))
		i++;
	assert_int_equal(i - 1, 127);
	for (uintptr_t j = 1; j < i; j++)
		assert_ptr_equal(spsc_ring_pop(&r), (void *)j);
	assert_null(spsc_ring_pop(&r));
	spsc_ring_destroy(&r);
}

#define TRANSFERS 2000000u

static void *consume(void *arg)
{
	struct spsc_ring *r = arg;
	uintptr_t expect = 1;

	while (expect <= TRANSFERS) {
		void *p = spsc_ring_pop(r);

		if (!p)
			continue;
		if ((uintptr_t)p != expect)
			return (void *)1;
		expect++;
	}
	return NULL;
}

static void test_ring_two_threads(void **state)
{
	struct spsc_ring r;
	pthread_t t;
	void *bad;

	(void)state;
	assert_int_equal(spsc_ring_init(&r, 1024), 0);
	pthread_create(&t, NULL, consume, &r);
	for (uintptr_t i = 1; i <= TRANSFERS; i++)
		while (!spsc_ring_push(&r, (void *)i))
			;
	pthread_join(t, &bad);
	assert_null(bad);
	spsc_ring_destroy(&r);
}

static void test_pool_exhaust_and_return(void **state)
{
	struct chunk_pool pool;
	struct chunk *got[16];

	(void)state;
	assert_int_equal(chunk_pool_init(&pool, 16, 1000, 2), 0);
	for (int i = 0; i < 16; i++) {
		got[i] = chunk_pool_get(&pool);
		assert_non_null(got[i]);
		memset(got[i]->data, i, 1000); /* the whole capacity is writable */
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(got[i], got[j]);
	}
	assert_null(chunk_pool_get(&pool));
	/* returned by two different workers: the reader reclaims both */
	chunk_pool_return(&pool, 0, got[3]);
	chunk_pool_return(&pool, 1, got[7]);
	assert_non_null(chunk_pool_get(&pool));
	assert_non_null(chunk_pool_get(&pool));
	assert_null(chunk_pool_get(&pool));
	for (int i = 0; i < 16; i++)
		assert_int_equal(got[i]->data[999], (uint8_t)i);
	chunk_pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_capacity_and_order),
		cmocka_unit_test(test_ring_two_threads),
		cmocka_unit_test(test_pool_exhaust_and_return),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
