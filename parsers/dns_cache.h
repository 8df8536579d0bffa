/*
 * The DNS cache: which names the hosts we watch resolved to which addresses, learned from
 * the DNS answers the DNS parser sees, so that records of connections to an address can
 * name the service (`conn.dst_name`) the client meant.
 *
 * Shared read-mostly state (DESIGN section 3). Contract:
 *   writers: each worker thread writes only its own shard (claimed on its first insert,
 *            a thread-local pointer); one writer per shard, never a lock.
 *   readers: any thread, without locks, over every shard. Each entry is a seqlock: the
 *            writer makes the sequence odd, writes the entry with relaxed atomic stores,
 *            makes it even again (release); a reader copies the entry with relaxed
 *            atomic loads between two acquire reads of the sequence and retries when they
 *            differ or are odd. Entries are fixed slots in memory that is never freed
 *            while the process runs, so there is nothing to reclaim (no epochs needed).
 *   ordering: an answer seen by one worker becomes visible to the others a little later
 *            (a record written before may lack the name: best effort, never wrong data).
 * Expired entries stay until their slot is reused and are reported as stale.
 */
#ifndef WIREWATCH_DNS_CACHE_H
#define WIREWATCH_DNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk.h"

#define DNS_CACHE_NAME_MAX 128	/* longer names are cut (DNS allows 253) */
#define DNS_CACHE_SHARDS   64	/* writer threads that can own a shard */
#define DNS_CACHE_SLOTS	   4096 /* entries per shard (power of two) */
#define DNS_CACHE_WAYS	   8	/* slots probed per address */

/*
 * Remembers that addr (4 or 16 bytes, network order) is `name` for ttl_s seconds from
 * now_ns (realtime). The calling thread's shard; a thread that cannot get one (more than
 * DNS_CACHE_SHARDS writers, no memory) drops the entry and returns -ENOSPC / -ENOMEM.
 */
int dns_cache_insert(uint16_t family, const uint8_t *addr, const char *name, size_t name_len,
		     uint32_t ttl_s, uint64_t now_ns);

/*
 * The name addr was most recently resolved from, copied into out (NUL-terminated, cut to
 * cap). Prefers an entry still within its TTL at now_ns; otherwise the freshest expired
 * one, with *stale = true. Returns the name's length, 0 when the address is unknown.
 */
size_t dns_cache_lookup(uint16_t family, const uint8_t *addr, uint64_t now_ns, char *out,
			size_t cap, bool *stale);

/*
 * For record_write_header: the name of a connection's destination at ts_ns, or NULL.
 * The string lives in a thread-local buffer valid until the thread's next call.
 */
const char *dns_cache_name_at(const struct endpoint *dst, uint64_t ts_ns, bool *stale);

/* The same at the current wall-clock time, stale entries included. */
const char *dns_cache_name_for(const struct endpoint *dst);

/* Forgets everything (tests). Not safe while other threads use the cache. */
void dns_cache_reset(void);

#endif
