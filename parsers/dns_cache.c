/*
 * The DNS cache (see dns_cache.h for the concurrency contract): per-writer shards of
 * fixed slots, each slot a seqlock-protected {address, name, expiry}. A slot is chosen by
 * hashing the address and probing DNS_CACHE_WAYS neighbours: the same address and name
 * refresh their slot, otherwise the emptiest or oldest-expiring slot of the window is
 * replaced. Memory per shard is allocated once, on the thread's first insert, and kept
 * for the life of the process (readers may hold a pointer to it at any time).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dns_cache.h"

#define NAME_WORDS (DNS_CACHE_NAME_MAX / 8)

/* Everything in a slot is read and written as 64-bit atomics (seqlock payload). */
struct dns_slot {
	_Atomic uint64_t seq;	     /* odd while the writer changes the slot */
	_Atomic uint64_t key[2];     /* the address, 16 bytes (IPv4 mapped to ::ffff:a.b.c.d) */
	_Atomic uint64_t expires_ns; /* 0 = empty slot */
	_Atomic uint64_t written_ns;
	_Atomic uint64_t name_len;
	_Atomic uint64_t name[NAME_WORDS];
};

struct dns_shard {
	struct dns_slot slots[DNS_CACHE_SLOTS];
};

/* Shards published once with release; never freed or moved. */
static _Atomic(struct dns_shard *) shards[DNS_CACHE_SHARDS];
static atomic_uint shard_count;
static _Thread_local struct dns_shard *my_shard;
static _Thread_local bool my_shard_failed;

/* A plain copy of a slot, as a reader sees it. */
struct dns_entry {
	uint64_t key[2];
	uint64_t expires_ns;
	uint64_t written_ns;
	uint64_t name_len;
	uint64_t name[NAME_WORDS];
};

static void addr_key(uint16_t family, const uint8_t *addr, uint64_t key[2])
{
	uint8_t k[16] = {0};

	if (family == AF_INET) {
		k[10] = k[11] = 0xff;
		memcpy(k + 12, addr, 4);
	} else {
		memcpy(k, addr, 16);
	}
	memcpy(key, k, 16);
}

static uint32_t key_hash(const uint64_t key[2])
{
	uint64_t h = key[0] * 0x9e3779b97f4a7c15ull ^ key[1];

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (uint32_t)h;
}

static struct dns_shard *shard_mine(void)
{
	unsigned n;
	struct dns_shard *s;

	if (my_shard || my_shard_failed)
		return my_shard;
	n = atomic_fetch_add_explicit(&shard_count, 1, memory_order_relaxed);
	if (n >= DNS_CACHE_SHARDS) {
		my_shard_failed = true;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		my_shard_failed = true;
		return NULL;
	}
	atomic_store_explicit(&shards[n], s, memory_order_release);
	my_shard = s;
	return s;
}

/* Seqlock read of one slot: false when the slot is being written (caller retries). */
static bool slot_read(struct dns_slot *sl, struct dns_entry *e)
{
	uint64_t s1 = atomic_load_explicit(&sl->seq, memory_order_acquire), s2;

	if (s1 & 1)
		return false;
	e->key[0] = atomic_load_explicit(&sl->key[0], memory_order_relaxed);
	e->key[1] = atomic_load_explicit(&sl->key[1], memory_order_relaxed);
	e->expires_ns = atomic_load_explicit(&sl->expires_ns, memory_order_relaxed);
	e->written_ns = atomic_load_explicit(&sl->written_ns, memory_order_relaxed);
	e->name_len = atomic_load_explicit(&sl->name_len, memory_order_relaxed);
	for (int i = 0; i < NAME_WORDS; i++)
		e->name[i] = atomic_load_explicit(&sl->name[i], memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(&sl->seq, memory_order_relaxed);
	return s1 == s2;
}

static bool slot_read_retry(struct dns_slot *sl, struct dns_entry *e)
{
	for (int tries = 0; tries < 64; tries++)
		if (slot_read(sl, e))
			return true;
	return false; /* a writer kept it busy: skip this slot */
}

int dns_cache_insert(uint16_t family, const uint8_t *addr, const char *name, size_t name_len,
		     uint32_t ttl_s, uint64_t now_ns)
{
	struct dns_shard *sh = shard_mine();
	uint64_t key[2], words[NAME_WORDS] = {0}, seq;
	uint32_t h, best = UINT32_MAX;
	uint64_t best_exp = UINT64_MAX;

	if (!sh)
		return my_shard_failed ? -ENOSPC : -ENOMEM;
	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	if (name_len > DNS_CACHE_NAME_MAX - 1)
		name_len = DNS_CACHE_NAME_MAX - 1;
	memcpy(words, name, name_len);
	addr_key(family, addr, key);
	h = key_hash(key);
	/* the same address and name refresh their slot; else the emptiest/oldest of the window */
	for (uint32_t w = 0; w < DNS_CACHE_WAYS; w++) {
		uint32_t i = (h + w) & (DNS_CACHE_SLOTS - 1);
		struct dns_slot *sl = &sh->slots[i];
		/* this thread is the only writer of the shard: plain relaxed reads are exact */
		uint64_t exp = atomic_load_explicit(&sl->expires_ns, memory_order_relaxed);

		if (exp && atomic_load_explicit(&sl->key[0], memory_order_relaxed) == key[0] &&
		    atomic_load_explicit(&sl->key[1], memory_order_relaxed) == key[1] &&
		    atomic_load_explicit(&sl->name_len, memory_order_relaxed) == name_len) {
			bool same = true;

			for (int k = 0; k < NAME_WORDS && same; k++)
				same = atomic_load_explicit(&sl->name[k], memory_order_relaxed) ==
				       words[k];
			if (same) {
				best = i;
				break;
			}
		}
		if (exp < best_exp) {
			best_exp = exp;
			best = i;
		}
	}
	{
		struct dns_slot *sl = &sh->slots[best];

		seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
		atomic_store_explicit(&sl->seq, seq + 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		atomic_store_explicit(&sl->key[0], key[0], memory_order_relaxed);
		atomic_store_explicit(&sl->key[1], key[1], memory_order_relaxed);
		atomic_store_explicit(&sl->expires_ns, now_ns + (uint64_t)ttl_s * 1000000000ull + 1,
				      memory_order_relaxed);
		atomic_store_explicit(&sl->written_ns, now_ns, memory_order_relaxed);
		atomic_store_explicit(&sl->name_len, name_len, memory_order_relaxed);
		for (int k = 0; k < NAME_WORDS; k++)
			atomic_store_explicit(&sl->name[k], words[k], memory_order_relaxed);
		atomic_store_explicit(&sl->seq, seq + 2, memory_order_release);
	}
	return 0;
}

size_t dns_cache_lookup(uint16_t family, const uint8_t *addr, uint64_t now_ns, char *out,
			size_t cap, bool *stale)
{
	uint64_t key[2];
	struct dns_entry e, best_fresh = {0}, best_stale = {0};
	bool have_fresh = false, have_stale = false;
	unsigned n = atomic_load_explicit(&shard_count, memory_order_acquire);
	uint32_t h;
	const struct dns_entry *pick;
	size_t len;

	*stale = false;
	if (cap == 0 || (family != AF_INET && family != AF_INET6))
		return 0;
	out[0] = '\0';
	addr_key(family, addr, key);
	h = key_hash(key);
	if (n > DNS_CACHE_SHARDS)
		n = DNS_CACHE_SHARDS;
	for (unsigned s = 0; s < n; s++) {
		struct dns_shard *sh = atomic_load_explicit(&shards[s], memory_order_acquire);

		if (!sh)
			continue; /* claimed, not yet published */
		for (uint32_t w = 0; w < DNS_CACHE_WAYS; w++) {
			struct dns_slot *sl = &sh->slots[(h + w) & (DNS_CACHE_SLOTS - 1)];

			if (!slot_read_retry(sl, &e) || !e.expires_ns || e.key[0] != key[0] ||
			    e.key[1] != key[1])
				continue;
			/* the most recently written answer wins among fresh or among stale ones */
			if (e.expires_ns > now_ns) {
				if (!have_fresh || e.written_ns > best_fresh.written_ns)
					best_fresh = e;
				have_fresh = true;
			} else {
				if (!have_stale || e.written_ns > best_stale.written_ns)
					best_stale = e;
				have_stale = true;
			}
		}
	}
	if (!have_fresh && !have_stale)
		return 0;
	pick = have_fresh ? &best_fresh : &best_stale;
	*stale = !have_fresh;
	len = pick->name_len < DNS_CACHE_NAME_MAX ? (size_t)pick->name_len : DNS_CACHE_NAME_MAX - 1;
	if (len > cap - 1)
		len = cap - 1;
	memcpy(out, pick->name, len);
	out[len] = '\0';
	return len;
}

const char *dns_cache_name_at(const struct endpoint *dst, uint64_t ts_ns, bool *stale)
{
	static _Thread_local char buf[DNS_CACHE_NAME_MAX];

	if (dst->family != AF_INET && dst->family != AF_INET6)
		return NULL;
	return dns_cache_lookup(dst->family, dst->addr, ts_ns, buf, sizeof(buf), stale) ? buf
											: NULL;
}

const char *dns_cache_name_for(const struct endpoint *dst)
{
	struct timespec ts;
	bool stale;

	clock_gettime(CLOCK_REALTIME, &ts);
	return dns_cache_name_at(dst, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
				 &stale);
}

void dns_cache_reset(void)
{
	unsigned n = atomic_load_explicit(&shard_count, memory_order_acquire);

	for (unsigned s = 0; s < n && s < DNS_CACHE_SHARDS; s++) {
		struct dns_shard *sh = atomic_load_explicit(&shards[s], memory_order_acquire);

		if (sh)
			for (uint32_t i = 0; i < DNS_CACHE_SLOTS; i++) {
				struct dns_slot *sl = &sh->slots[i];
				uint64_t seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);

				atomic_store_explicit(&sl->seq, seq + 1, memory_order_relaxed);
				atomic_store_explicit(&sl->expires_ns, 0, memory_order_relaxed);
				atomic_store_explicit(&sl->seq, seq + 2, memory_order_release);
			}
	}
}
