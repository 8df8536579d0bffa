/*
 * PII engine throughput, printed next to memchr over the same bytes in the same run (the
 * floor any scan of every byte pays):
 *   - free text: MB/s of pii_scan over a buffer of log and prose lines with some PII in it;
 *   - short fields: ns per pii_scan of one result cell under its column, over a mix of
 *     typical cells (ids, statuses, timestamps, prices, emails, names).
 * One thread, one scratch: per core. Each figure is the best of RUNS runs in CPU time, so a
 * busy machine skews it less. Figures are printed, never asserted.
 *   pii_bench [--config FILE] [--only text|field] [MB]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pii/engine.h" /* the databases and windows, to time the matching alone */
#include "pii/pii.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: a busy machine does not skew it */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *const lines[] = {
	"2026-11-24T10:00:00.123Z INFO api: processed 1532 events in 41ms (request_id="
	"3f1c2a9e-8d7b-4c1e-9a2f-0b6d5e4c3a21, version 4.12.7)\n",
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
	"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud.\n",
	"GET /api/v2/products?category=garden&page=3&per_page=50 200 1832 bytes in 12ms\n",
	"Order 68964742 for 3 x Ergonomic Bamboo Tuna shipped on 2024-10-05, total $746.95.\n",
	"2026-11-24T10:00:01.001Z WARN auth: failed login for jane.doe@example.com from "
	"203.0.113.7 (3 attempts)\n",
	"Customer called from (415) 555-2671 about the refund to DE89370400440532013000.\n",
	"The quick brown fox jumps over the lazy dog while the scheduler flushed 42 rows.\n",
};

static const struct {
	const char *column, *value;
} fields[] = {
	{"id", "48213"},
	{"status", "shipped"},
	{"created_at", "2026-11-24 10:00:00"},
	{"price", "19.99"},
	{"email", "jane.doe@example.com"},
	{"first_name", "Jane"},
	{"sku", "SKU-QV91PI9B"},
	{"quantity", "3"},
	{"phone", "(415) 555-2671"},
	{"description", "Ergonomic granite chair"},
	{"order_id", "4111111111111111"},
	{"uuid", "3f1c2a9e-8d7b-4c1e-9a2f-0b6d5e4c3a21"},
};

#define NFIELDS	   (sizeof(fields) / sizeof(fields[0]))
#define RUNS	   3
#define CHUNK	   16384 /* free text is handed over in chunks of this size, as a capture does */
#define FIELD_REPS 2000000

static int count_match(unsigned int id, unsigned long long from, unsigned long long to,
		       unsigned int flags, void *ctx)
{
	(void)id, (void)from, (void)to, (void)flags;
	++*(uint64_t *)ctx;
	return 0;
}

static int count_finding(const struct pii_finding *f, void *arg)
{
	(void)f;
	++*(uint64_t *)arg;
	return 0;
}

struct bench {
	const struct pii_engine *e;
	struct pii_scratch *s;
	const char *buf;
	size_t len;
	size_t field_len[NFIELDS], col_len[NFIELDS];
	uint64_t findings, matches, hits;
};

static uint64_t text_scan(struct bench *b)
{
	uint64_t t0 = now_ns();

	b->findings = 0;
	for (size_t off = 0; off < b->len; off += CHUNK) {
		size_t n = b->len - off < CHUNK ? b->len - off : CHUNK;

		pii_scan(b->e, b->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)b->buf + off, n,
			 count_finding, &b->findings);
	}
	return now_ns() - t0;
}

static uint64_t text_memchr(struct bench *b)
{
	uint64_t t0 = now_ns();

	for (size_t off = 0; off < b->len; off += CHUNK) {
		size_t n = b->len - off < CHUNK ? b->len - off : CHUNK;

		b->hits += memchr(b->buf + off, 0x01, n) != NULL;
	}
	return now_ns() - t0;
}

/* The matching alone over the same chunks: Hyperscan's text database, the numeric windows
 * cut and the numeric databases over them, before any candidate is validated or scored. */
static uint64_t text_matching(struct bench *b)
{
	const struct pii_engine *e = b->e;
	struct pii_scratch *s = b->s;
	uint64_t t0 = now_ns();

	b->matches = 0;
	for (size_t off = 0; off < b->len; off += CHUNK) {
		size_t n = b->len - off < CHUNK ? b->len - off : CHUNK;

		hs_scan(e->text_db, b->buf + off, (unsigned)n, 0, s->hs, count_match, &b->matches);
		if (!e->numeric)
			continue;
		pii_windows_begin(&s->windows, (const uint8_t *)b->buf + off, n);
		while (pii_windows_next(&s->windows))
			pii_windows_scan(e, s->hs, &s->windows, count_match, &b->matches);
	}
	return now_ns() - t0;
}

/* Short fields: one cell under its column, the column memory warm as in a result set. */
static uint64_t field_scan(struct bench *b)
{
	uint64_t t0 = now_ns();

	b->findings = 0;
	for (size_t r = 0; r < FIELD_REPS; r++) {
		size_t k = r % NFIELDS;

		pii_scan(b->e, b->s, PII_CTX_RESULT_ROW, fields[k].column, b->col_len[k],
			 (const uint8_t *)fields[k].value, b->field_len[k], count_finding,
			 &b->findings);
	}
	return now_ns() - t0;
}

static uint64_t field_memchr(struct bench *b)
{
	uint64_t t0 = now_ns();

	for (size_t r = 0; r < FIELD_REPS; r++) {
		size_t k = r % NFIELDS;

		b->hits += memchr(fields[k].value, 0x01, b->field_len[k]) != NULL;
		__asm__ volatile("" ::: "memory"); /* one call per field, as the scan does */
	}
	return now_ns() - t0;
}

static uint64_t best_of(uint64_t (*run)(struct bench *), struct bench *b)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < RUNS; i++) {
		uint64_t ns = run(b);

		if (ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, char **argv)
{
	const char *rules = PII_RULES_DEFAULT;
	size_t mb = 16, len = 0, field_bytes = 0;
	struct pii_engine *e;
	struct bench b = {0};
	char err[1024];
	char *buf;
	const char *only = "";
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--config"))
			rules = argv[i + 1];
		else if (!strcmp(argv[i], "--only"))
			only = argv[i + 1];
	}
	if (i < argc)
		mb = strtoul(argv[i], NULL, 10);
	if (pii_engine_load(&e, rules, err, sizeof(err))) {
		fprintf(stderr, "pii_bench: %s\n", err);
		return 2;
	}
	b.e = e;
	b.s = pii_scratch_new(e);
	buf = malloc(mb << 20);
	if (!b.s || !buf)
		return 1;
	for (size_t k = 0; len + 256 < (mb << 20); k++) {
		size_t n = strlen(lines[k % 7]);

		memcpy(buf + len, lines[k % 7], n);
		len += n;
	}
	b.buf = buf;
	b.len = len;
	for (size_t k = 0; k < NFIELDS; k++) {
		b.field_len[k] = strlen(fields[k].value);
		b.col_len[k] = strlen(fields[k].column);
		field_bytes += b.field_len[k];
	}

	if (strcmp(only, "field")) {
		uint64_t scan_ns = best_of(text_scan, &b), memchr_ns = best_of(text_memchr, &b),
			 match_ns = best_of(text_matching, &b);

		printf("pii_bench free_text bytes=%zu MB_per_s=%.1f matching_only_MB_per_s=%.1f "
		       "memchr_MB_per_s=%.1f findings=%llu matches=%llu (check %llu)\n",
		       len, (double)len * 1e3 / (double)scan_ns,
		       (double)len * 1e3 / (double)match_ns, (double)len * 1e3 / (double)memchr_ns,
		       (unsigned long long)b.findings, (unsigned long long)b.matches,
		       (unsigned long long)b.hits);
	}
	if (strcmp(only, "text")) {
		uint64_t scan_ns = best_of(field_scan, &b), memchr_ns = best_of(field_memchr, &b);

		printf("pii_bench short_field fields=%d ns_per_field=%.1f memchr_ns_per_field=%.1f "
		       "mean_bytes=%.1f findings=%llu (check %llu)\n",
		       FIELD_REPS, (double)scan_ns / FIELD_REPS, (double)memchr_ns / FIELD_REPS,
		       (double)field_bytes / NFIELDS, (unsigned long long)b.findings,
		       (unsigned long long)b.hits);
	}
	free(buf);
	pii_scratch_free(b.s);
	pii_engine_free(e);
	return 0;
}
