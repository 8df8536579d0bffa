/*
 * Byte vectors for the synthetic source: one request and its response per protocol, in
 * the exact wire format each protocol specifies (PostgreSQL 55.7 simple query, RESP2,
 * memcached text protocol, HTTP/1.1). They exercise the pipeline with realistic sizes
 * and content, including PII-like values for the PII engine.
 */
#include <string.h>

#include "synth_vectors.h"

#define VEC(s) (const uint8_t *)(s), (uint32_t)(sizeof(s) - 1)

static const char http_req[] = "GET /api/customers/42?fields=email HTTP/1.1\r\n"
			       "Host: shop.internal:8080\r\n"
			       "User-Agent: curl/7.88.1\r\n"
			       "Accept: */*\r\n\r\n";
static const char http_resp[] =
	"HTTP/1.1 200 OK\r\n"
	"Server: nginx/1.22.1\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 59\r\n"
	"Connection: keep-alive\r\n\r\n"
	"{\"id\":42,\"email\":\"jane.doe@example.org\",\"name\":\"Jane Doe\"}\n";

/* Query 'Q': "SELECT id, email FROM customers WHERE id = 3" */
static const char pg_req[] = "Q\x00\x00\x00\x31"
			     "SELECT id, email FROM customers WHERE id = 3\x00";
/* RowDescription (2 columns), DataRow, CommandComplete "SELECT 1", ReadyForQuery 'I' */
static const char pg_resp[] =
	"T\x00\x00\x00\x33\x00\x02"
	"id\x00\x00\x00\x40\x01\x00\x01\x00\x00\x00\x17\x00\x04\xff\xff\xff\xff\x00\x00"
	"email\x00\x00\x00\x40\x01\x00\x02\x00\x00\x04\x13\xff\xff\x00\x00\x01\x03\x00\x00"
	"D\x00\x00\x00\x23\x00\x02\x00\x00\x00\x01"
	"3\x00\x00\x00\x14"
	"jane.doe@example.org"
	"C\x00\x00\x00\x0dSELECT 1\x00"
	"Z\x00\x00\x00\x05I";

static const char redis_req[] = "*2\r\n$3\r\nGET\r\n$16\r\nsession:8f3a9c2e\r\n";
static const char redis_resp[] = "$37\r\n{\"user\":17,\"email\":\"bob@example.com\"}\r\n";

static const char memcached_req[] = "get user:1001\r\n";
static const char memcached_resp[] = "VALUE user:1001 0 24\r\n"
				     "alice.smith@example.net\n\r\n"
				     "END\r\n";

static const struct synth_vector vectors[] = {
	{"http", "synth-http", 8080, VEC(http_req), VEC(http_resp)},
	{"postgres", "synth-postgres", 5432, VEC(pg_req), VEC(pg_resp)},
	{"redis", "synth-redis", 6379, VEC(redis_req), VEC(redis_resp)},
	{"memcached", "synth-memcached", 11211, VEC(memcached_req), VEC(memcached_resp)},
};

#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))
_Static_assert(NVECTORS <= SYNTH_VECTORS_MAX, "raise SYNTH_VECTORS_MAX");

uint32_t synth_vectors_mix(const char *mix, const struct synth_vector **out)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < NVECTORS; i++) {
		if (strcmp(mix, "default") != 0 && strcmp(mix, vectors[i].name) != 0)
			continue;
		if (out)
			out[n] = &vectors[i];
		n++;
	}
	return n;
}
