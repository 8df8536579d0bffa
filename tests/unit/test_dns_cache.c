/*
 * DNS cache: forward insert and reverse lookup, TTL expiry with the stale fallback, the
 * freshest answer winning, IPv6, names cut to the slot size, shards of several writer
 * threads read from another thread, and readers racing a writer never seeing a torn
 * entry (each name is derived from its address, so a mix would not match).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dns_cache.h"

#define SEC 1000000000ull
#define T0  (1795514400ull * SEC)

static void v4(const char *s, uint8_t out[4])
{
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static int setup(void **state)
{
	(void)state;
	dns_cache_reset();
	return 0;
}

static void test_insert_lookup_ttl_stale(void **state)
{
	uint8_t a[4];
	char name[DNS_CACHE_NAME_MAX];
	bool stale = true;

	(void)state;
	v4("10.0.0.5", a);
	assert_int_equal(dns_cache_lookup(AF_INET, a, T0, name, sizeof(name), &stale), 0);
	assert_int_equal(dns_cache_insert(AF_INET, a, "db.example.com", 14, 60, T0), 0);
	assert_int_equal(dns_cache_lookup(AF_INET, a, T0 + 59 * SEC, name, sizeof(name), &stale),
			 14);
	assert_string_equal(name, "db.example.com");
	assert_false(stale);
	/* past the TTL the name is still given, marked stale */
	assert_int_equal(dns_cache_lookup(AF_INET, a, T0 + 61 * SEC, name, sizeof(name), &stale),
			 14);
	assert_true(stale);
	/* a fresh answer for another name wins over the stale one */
	assert_int_equal(dns_cache_insert(AF_INET, a, "api.example.com", 15, 30, T0 + 100 * SEC),
			 0);
	dns_cache_lookup(AF_INET, a, T0 + 101 * SEC, name, sizeof(name), &stale);
	assert_string_equal(name, "api.example.com");
	assert_false(stale);
	/* both fresh: the most recently written */
	assert_int_equal(dns_cache_insert(AF_INET, a, "db.example.com", 14, 300, T0 + 102 * SEC),
			 0);
	dns_cache_lookup(AF_INET, a, T0 + 103 * SEC, name, sizeof(name), &stale);
	assert_string_equal(name, "db.example.com");
}

static void test_ipv6_endpoint_and_cut(void **state)
{
	struct endpoint ep = {.family = AF_INET6, .port = 443};
	char longname[300];
	const char *n;
	bool stale;
	uint8_t a[4];

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "fd00::5", ep.addr), 1);
	assert_int_equal(dns_cache_insert(AF_INET6, ep.addr, "v6.example.com", 14, 60, T0), 0);
	n = dns_cache_name_at(&ep, T0 + SEC, &stale);
	assert_non_null(n);
	assert_string_equal(n, "v6.example.com");
	/* an IPv4 address is not confused with the IPv4-mapped form of another family */
	v4("0.0.0.5", a);
	assert_null(dns_cache_name_at(&(struct endpoint){.family = AF_INET}, T0, &stale));
	memset(longname, 'x', sizeof(longname));
	v4("10.9.9.9", a);
	assert_int_equal(dns_cache_insert(AF_INET, a, longname, sizeof(longname), 60, T0), 0);
	assert_int_equal(dns_cache_lookup(AF_INET, a, T0, longname, sizeof(longname), &stale),
			 DNS_CACHE_NAME_MAX - 1);
	/* unknown family: nothing */
	ep.family = AF_UNIX;
	assert_null(dns_cache_name_at(&ep, T0, &stale));
}

static void test_many_entries_evict_oldest(void **state)
{
	uint8_t a[4] = {10, 1, 0, 0};
	char name[DNS_CACHE_NAME_MAX], want[32];
	bool stale;
	int found = 0;

	(void)state;
	/* twice the shard's capacity: the newest half must be there */
	for (int i = 0; i < 2 * DNS_CACHE_SLOTS; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		a[1] = (uint8_t)(1 + (i >> 16));
		snprintf(want, sizeof(want), "h%d.example", i);
		dns_cache_insert(AF_INET, a, want, strlen(want), 3600, T0 + (uint64_t)i);
	}
	for (int i = DNS_CACHE_SLOTS + DNS_CACHE_SLOTS / 2; i < 2 * DNS_CACHE_SLOTS; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		a[1] = (uint8_t)(1 + (i >> 16));
		snprintf(want, sizeof(want), "h%d.example", i);
		if (dns_cache_lookup(AF_INET, a, T0 + 2 * DNS_CACHE_SLOTS, name, sizeof(name),
				     &stale) &&
		    strcmp(name, want) == 0)
			found++;
	}
	/* a bounded probe window may lose a few to collisions, never most */
	assert_true(found > DNS_CACHE_SLOTS / 2 * 9 / 10);
}

/* ---- concurrency ---- */

static atomic_bool stop;

static void name_of(uint32_t i, char *out, size_t cap)
{
	snprintf(out, cap, "host-%u.shard.example", i);
}

static void *writer(void *arg)
{
	uint32_t base = (uint32_t)(uintptr_t)arg;

	for (uint32_t round = 0; !atomic_load(&stop) && round < 200; round++)
		for (uint32_t i = 0; i < 512; i++) {
			uint32_t id = base + i;
			uint8_t a[4] = {172, (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
			char n[64];

			name_of(id, n, sizeof(n));
			dns_cache_insert(AF_INET, a, n, strlen(n), 60, T0 + round);
		}
	return NULL;
}

static void test_concurrent_readers_see_whole_entries(void **state)
{
	pthread_t w[3];
	uint64_t hits = 0;

	(void)state;
	atomic_store(&stop, false);
	for (int i = 0; i < 3; i++)
		pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)(i * 100000u));
	for (int pass = 0; pass < 200; pass++)
		for (uint32_t t = 0; t < 3; t++)
			for (uint32_t i = 0; i < 512; i += 7) {
				uint32_t id = t * 100000u + i;
				uint8_t a[4] = {172, (uint8_t)(id >> 16), (uint8_t)(id >> 8),
						(uint8_t)id};
				char got[DNS_CACHE_NAME_MAX], want[64];
				bool stale;

				if (!dns_cache_lookup(AF_INET, a, T0, got, sizeof(got), &stale))
					continue;
				name_of(id, want, sizeof(want));
				assert_string_equal(got, want);
				hits++;
			}
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(w[i], NULL);
	assert_true(hits > 0);
	/* after the writers are done every entry of every shard is readable from here */
	for (uint32_t t = 0; t < 3; t++) {
		uint32_t id = t * 100000u + 11;
		uint8_t a[4] = {172, (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
		char got[DNS_CACHE_NAME_MAX];
		bool stale;

		assert_int_not_equal(dns_cache_lookup(AF_INET, a, T0, got, sizeof(got), &stale), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_insert_lookup_ttl_stale, setup),
		cmocka_unit_test_setup(test_ipv6_endpoint_and_cut, setup),
		cmocka_unit_test_setup(test_many_entries_evict_oldest, setup),
		cmocka_unit_test_setup(test_concurrent_readers_see_whole_entries, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
