/*
 * A chunk is the unit every source produces and every worker consumes: a run of
 * bytes that one side of one connection sent (or an open, close or gap event),
 * tagged with the connection, the direction, a timestamp and the process.
 *
 * Chunks are fixed-size and pooled (runtime/pool.h). Ownership moves in one
 * direction around a loop and is never shared:
 *   source fills (reader owns) -> shard ring (worker owns) -> return ring -> pool.
 */
#ifndef WIREWATCH_CHUNK_H
#define WIREWATCH_CHUNK_H

#include <stdint.h>

enum chunk_kind {
	CHUNK_DATA = 0,	 /* payload bytes in data[0..len) */
	CHUNK_OPEN = 1,	 /* connection established (connect/accept, SYN, first sight) */
	CHUNK_CLOSE = 2, /* connection closed (close, FIN/RST) */
	CHUNK_GAP = 3,	 /* len_true bytes in this direction were lost, none captured */
};

/* Direction on the wire, always oriented client -> server whatever the traced side. */
enum dir {
	DIR_REQUEST = 0,  /* client to server */
	DIR_RESPONSE = 1, /* server to client */
};

/* Which end of the connection the traced process is. */
enum conn_role {
	ROLE_UNKNOWN = 0,
	ROLE_CLIENT = 1,
	ROLE_SERVER = 2,
};

enum chunk_flags {
	CHUNK_F_TLS = 1u << 0,	      /* cleartext taken from a TLS library (uprobe) */
	CHUNK_F_TRUNCATED = 1u << 1,  /* len < len_true: the capture budget cut the tail */
	CHUNK_F_NO_PAYLOAD = 1u << 2, /* bytes moved but content not captured (sendfile) */
	CHUNK_F_UDP = 1u << 3,	      /* datagram socket: each chunk is one message */
	CHUNK_F_UNIX = 1u << 4,	      /* unix domain socket: no addresses */
};

/* An address in network byte order; family 0 = unknown. */
struct endpoint {
	uint16_t family; /* AF_INET, AF_INET6, AF_UNIX or 0 */
	uint16_t port;	 /* host byte order */
	uint8_t addr[16];
};

#define CHUNK_COMM_LEN 16

struct chunk {
	uint64_t conn_key;   /* tgid << 32 | fd, or a 5-tuple hash for packet sources */
	uint32_t generation; /* changes when the fd number is reused */
	uint8_t kind;	     /* enum chunk_kind */
	uint8_t dir;	     /* enum dir */
	uint8_t role;	     /* enum conn_role */
	uint8_t flags;	     /* enum chunk_flags */
	uint64_t ts_ns;	     /* wall clock (CLOCK_REALTIME) when the bytes moved */
	uint64_t offset;     /* bytes of this direction before this chunk */
	uint32_t len;	     /* bytes captured in data[] */
	uint32_t len_true;   /* bytes that really moved (>= len) */
	uint32_t pid;	     /* tgid of the traced process, 0 for packet sources */
	uint32_t reserved;
	char comm[CHUNK_COMM_LEN];
	struct endpoint src; /* client side */
	struct endpoint dst; /* server side */
	uint8_t data[];	     /* capacity: config.chunk_bytes */
};

/* The shard a connection lives on: every chunk of one connection lands on the same worker. */
static inline uint32_t chunk_shard(uint64_t conn_key, uint32_t generation, uint32_t workers)
{
	uint64_t h = conn_key ^ ((uint64_t)generation << 17);

	/* splitmix64 finaliser: fds are small and sequential, spread them over all shards */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (uint32_t)(h % workers);
}

#endif
