/*
 * The passes over every byte of a scanned text, at the widest SIMD the CPU has: the byte
 * classes of 64 bytes at a time for the numeric windows (numeric.c: which bytes are
 * digits, word bytes as Hyperscan's \w without UCP, capitals and ':', one bit each) and for
 * the words before a value (nearby.c: lower case, capitals, digits, bytes above 0x7f), and
 * the search for the ':' and '=' of `key: value` pairs (keys.c). AVX-512BW (one load,
 * compares straight into mask registers), else AVX2 (two), else SSE2 (four). The choice is
 * made once, from what the CPU says it has; the build itself assumes no more than x86-64's
 * SSE2.
 */
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BLOCKS_X86 1
#endif

#include "engine.h"

static bool is_digit(uint8_t c)
{
	return (uint8_t)(c - '0') < 10;
}

static bool is_word(uint8_t c)
{
	return is_digit(c) || (uint8_t)((c | 0x20) - 'a') < 26 || c == '_';
}

/* Without SIMD: a byte at a time (other architectures, and the tests' reference). */
static void classes_bytes(const uint8_t *q, size_t n, struct pii_block_classes *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t k = 0; k < n && k < 64; k++) {
		c->digit |= (uint64_t)is_digit(q[k]) << k;
		c->word |= (uint64_t)is_word(q[k]) << k;
		c->upper |= (uint64_t)((uint8_t)(q[k] - 'A') < 26) << k;
		c->lower |= (uint64_t)((uint8_t)(q[k] - 'a') < 26) << k;
		c->high |= (uint64_t)(q[k] >= 0x80) << k;
		c->colon |= (uint64_t)(q[k] == ':') << k;
	}
}

#ifdef BLOCKS_X86
static void classes_sse2(const uint8_t *q, size_t n, struct pii_block_classes *c)
{
	uint8_t pad[64];

	if (n < 64) { /* a short block, padded with NULs: none of the classes */
		memset(pad, 0, sizeof(pad));
		memcpy(pad, q, n);
		q = pad;
	}
	const __m128i c0 = _mm_set1_epi8('0'), ca = _mm_set1_epi8('a'), cA = _mm_set1_epi8('A'),
		      case_bit = _mm_set1_epi8(0x20), nine = _mm_set1_epi8(9),
		      z25 = _mm_set1_epi8(25), under = _mm_set1_epi8('_'), col = _mm_set1_epi8(':');

	memset(c, 0, sizeof(*c));
	for (int k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(q + 16 * k));
		__m128i d = _mm_sub_epi8(v, c0);
		__m128i l = _mm_sub_epi8(_mm_or_si128(v, case_bit), ca);
		__m128i u = _mm_sub_epi8(v, cA);
		/* unsigned x <= n as min(x, n) == x: SSE2 has no unsigned compare */
		__m128i dm = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);
		__m128i lm = _mm_cmpeq_epi8(_mm_min_epu8(l, z25), l);
		__m128i um = _mm_cmpeq_epi8(_mm_min_epu8(u, z25), u);
		__m128i wm = _mm_or_si128(_mm_or_si128(dm, lm), _mm_cmpeq_epi8(v, under));

		c->lower |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_andnot_si128(um, lm))
			    << (16 * k);
		c->high |= (uint64_t)(unsigned)_mm_movemask_epi8(v) << (16 * k);
		c->digit |= (uint64_t)(unsigned)_mm_movemask_epi8(dm) << (16 * k);
		c->word |= (uint64_t)(unsigned)_mm_movemask_epi8(wm) << (16 * k);
		c->upper |= (uint64_t)(unsigned)_mm_movemask_epi8(um) << (16 * k);
		c->colon |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, col))
			    << (16 * k);
	}
}

__attribute__((target("avx2"))) static void classes_avx2(const uint8_t *q, size_t n,
							 struct pii_block_classes *c)
{
	uint8_t pad[64];

	if (n < 64) { /* a short block, padded with NULs: none of the classes */
		memset(pad, 0, sizeof(pad));
		memcpy(pad, q, n);
		q = pad;
	}
	const __m256i c0 = _mm256_set1_epi8('0'), ca = _mm256_set1_epi8('a'),
		      cA = _mm256_set1_epi8('A'), case_bit = _mm256_set1_epi8(0x20),
		      nine = _mm256_set1_epi8(9), z25 = _mm256_set1_epi8(25),
		      under = _mm256_set1_epi8('_'), col = _mm256_set1_epi8(':');

	memset(c, 0, sizeof(*c));
	for (int k = 0; k < 2; k++) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * k));
		__m256i d = _mm256_sub_epi8(v, c0);
		__m256i l = _mm256_sub_epi8(_mm256_or_si256(v, case_bit), ca);
		__m256i u = _mm256_sub_epi8(v, cA);
		__m256i dm = _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d);
		__m256i lm = _mm256_cmpeq_epi8(_mm256_min_epu8(l, z25), l);
		__m256i um = _mm256_cmpeq_epi8(_mm256_min_epu8(u, z25), u);
		__m256i wm = _mm256_or_si256(_mm256_or_si256(dm, lm), _mm256_cmpeq_epi8(v, under));

		c->lower |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_andnot_si256(um, lm))
			    << (32 * k);
		c->high |= (uint64_t)(uint32_t)_mm256_movemask_epi8(v) << (32 * k);
		c->digit |= (uint64_t)(uint32_t)_mm256_movemask_epi8(dm) << (32 * k);
		c->word |= (uint64_t)(uint32_t)_mm256_movemask_epi8(wm) << (32 * k);
		c->upper |= (uint64_t)(uint32_t)_mm256_movemask_epi8(um) << (32 * k);
		c->colon |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, col))
			    << (32 * k);
	}
}

__attribute__((target("avx512bw"))) static void classes_avx512(const uint8_t *q, size_t n,
							       struct pii_block_classes *c)
{
	/* only the n bytes there are are read; the rest are NULs, none of the classes */
	__m512i v = _mm512_maskz_loadu_epi8(n >= 64 ? ~0ull : (1ull << n) - 1, (const void *)q);
	__m512i d = _mm512_sub_epi8(v, _mm512_set1_epi8('0'));
	__m512i l =
		_mm512_sub_epi8(_mm512_or_si512(v, _mm512_set1_epi8(0x20)), _mm512_set1_epi8('a'));
	__m512i u = _mm512_sub_epi8(v, _mm512_set1_epi8('A'));

	uint64_t letter = _mm512_cmplt_epu8_mask(l, _mm512_set1_epi8(26));

	c->digit = _mm512_cmplt_epu8_mask(d, _mm512_set1_epi8(10));
	c->upper = _mm512_cmplt_epu8_mask(u, _mm512_set1_epi8(26));
	c->lower = letter & ~c->upper;
	c->high = _mm512_movepi8_mask(v);
	c->word = c->digit | letter | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('_'));
	c->colon = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(':'));
}
#endif

/* The first ':' or '=' in p[i, len), or len. */
static size_t pair_mark_bytes(const uint8_t *p, size_t i, size_t len)
{
	while (i < len && p[i] != ':' && p[i] != '=')
		i++;
	return i;
}

#ifdef BLOCKS_X86
static size_t pair_mark_sse2(const uint8_t *p, size_t i, size_t len)
{
	const __m128i colon = _mm_set1_epi8(':'), equals = _mm_set1_epi8('=');

	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		unsigned m = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(v, colon), _mm_cmpeq_epi8(v, equals)));

		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
	return pair_mark_bytes(p, i, len);
}

__attribute__((target("avx2"))) static size_t pair_mark_avx2(const uint8_t *p, size_t i, size_t len)
{
	const __m256i colon = _mm256_set1_epi8(':'), equals = _mm256_set1_epi8('=');

	for (; i + 32 <= len; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(p + i));
		uint32_t m = (uint32_t)_mm256_movemask_epi8(
			_mm256_or_si256(_mm256_cmpeq_epi8(v, colon), _mm256_cmpeq_epi8(v, equals)));

		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
	return pair_mark_bytes(p, i, len);
}

__attribute__((target("avx512bw"))) static size_t pair_mark_avx512(const uint8_t *p, size_t i,
								   size_t len)
{
	const __m512i colon = _mm512_set1_epi8(':'), equals = _mm512_set1_epi8('=');

	for (; i < len; i += 64) {
		/* the last block loads only the bytes there are (masked: no read past len) */
		__mmask64 have = len - i >= 64 ? ~0ull : (1ull << (len - i)) - 1;
		__m512i v = _mm512_maskz_loadu_epi8(have, (const void *)(p + i));
		uint64_t m =
			(_mm512_cmpeq_epi8_mask(v, colon) | _mm512_cmpeq_epi8_mask(v, equals)) &
			have;

		if (m)
			return i + (size_t)__builtin_ctzll(m);
	}
	return len;
}
#endif

static void (*classes_fn)(const uint8_t *q, size_t n, struct pii_block_classes *c);
static size_t (*pair_mark_fn)(const uint8_t *p, size_t i, size_t len);

void pii_block_classes_init(void)
{
	if (classes_fn)
		return;
#ifdef BLOCKS_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512bw")) {
		classes_fn = classes_avx512;
		pair_mark_fn = pair_mark_avx512;
	} else if (__builtin_cpu_supports("avx2")) {
		classes_fn = classes_avx2;
		pair_mark_fn = pair_mark_avx2;
	} else {
		classes_fn = classes_sse2;
		pair_mark_fn = pair_mark_sse2;
	}
#else
	classes_fn = classes_bytes;
	pair_mark_fn = pair_mark_bytes;
#endif
}

int pii_block_classes_use(const char *isa)
{
	pii_block_classes_init();
	if (!strcmp(isa, "bytes")) {
		classes_fn = classes_bytes;
		pair_mark_fn = pair_mark_bytes;
		return 0;
	}
#ifdef BLOCKS_X86
	if (!strcmp(isa, "sse2")) {
		classes_fn = classes_sse2;
		pair_mark_fn = pair_mark_sse2;
		return 0;
	}
	if (!strcmp(isa, "avx2") && __builtin_cpu_supports("avx2")) {
		classes_fn = classes_avx2;
		pair_mark_fn = pair_mark_avx2;
		return 0;
	}
	if (!strcmp(isa, "avx512bw") && __builtin_cpu_supports("avx512bw")) {
		classes_fn = classes_avx512;
		pair_mark_fn = pair_mark_avx512;
		return 0;
	}
#endif
	return -1;
}

size_t pii_find_pair_mark(const uint8_t *p, size_t i, size_t len)
{
	return pair_mark_fn(p, i, len);
}

void pii_block_classes(const uint8_t *q, size_t n, struct pii_block_classes *c)
{
	classes_fn(q, n, c);
}
