/*
 * SHA-256 (FIPS 180-4), small and allocation-free: JA4 fingerprints (tls.c) hash short
 * strings of hex codes. Not for bulk data or anything secret.
 */
#ifndef WIREWATCH_SHA256_H
#define WIREWATCH_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	uint32_t used;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
void sha256_final(struct sha256 *s, uint8_t out[32]);

#endif
