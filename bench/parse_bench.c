/*
 * Parser throughput on traffic recorded from real servers: every fixture (the
 * tests/tools/tcp_recorder.py format) is fed through the real protocol engine (detect,
 * parse, pair, encode to NDJSON, written by the output thread to /dev/null) as many
 * times as fits in the time budget, against the time to merely copy the same chunks in
 * the same run. Prints MB/s, chunks/s and records/s per core; never asserts.
 *   parse_bench SERVER_PORT SECONDS FIXTURE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "emit.h"
#include "tests/lib/engine_harness.h"

struct input {
	uint8_t *harness; /* the session in engine_harness format */
	size_t harness_len;
	uint64_t payload_bytes;
	uint64_t chunks;
};

static int load(const char *path, struct input *in)
{
	FILE *f = fopen(path, "rb");
	uint8_t hdr[5];

	if (!f)
		return -1;
	memset(in, 0, sizeof(*in));
	while (fread(hdr, 1, 5, f) == 5) {
		uint32_t len;

		memcpy(&len, hdr + 1, 4);
		for (uint32_t done = 0; done < len || len == 0;) {
			uint32_t n = len - done > 65535 ? 65535 : len - done;

			in->harness = realloc(in->harness, in->harness_len + 3 + n);
			in->harness[in->harness_len] = hdr[0] & 1;
			in->harness[in->harness_len + 1] = (uint8_t)n;
			in->harness[in->harness_len + 2] = (uint8_t)(n >> 8);
			if (fread(in->harness + in->harness_len + 3, 1, n, f) != n)
				return -1;
			in->harness_len += 3 + n;
			in->chunks++;
			done += n;
			if (len == 0)
				break;
		}
		in->payload_bytes += len;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	uint16_t port;
	double seconds;
	struct input *inputs;
	int n;
	uint64_t bytes = 0, chunks = 0, rounds = 0, start, elapsed, base_elapsed, records;
	uint8_t *sink;

	if (argc < 4) {
		fprintf(stderr, "usage: parse_bench SERVER_PORT SECONDS FIXTURE...\n");
		return 2;
	}
	port = (uint16_t)atoi(argv[1]);
	seconds = atof(argv[2]);
	n = argc - 3;
	inputs = calloc((size_t)n, sizeof(*inputs));
	for (int i = 0; i < n; i++)
		if (load(argv[3 + i], &inputs[i]) < 0) {
			fprintf(stderr, "parse_bench: cannot read %s\n", argv[3 + i]);
			return 1;
		}
	engine_harness_run(inputs[0].harness, inputs[0].harness_len, port); /* warm up */
	start = monotonic_ns();
	do {
		for (int i = 0; i < n; i++) {
			engine_harness_run(inputs[i].harness, inputs[i].harness_len, port);
			bytes += inputs[i].payload_bytes;
			chunks += inputs[i].chunks;
		}
		rounds++;
	} while ((double)(monotonic_ns() - start) < seconds * 1e9);
	elapsed = monotonic_ns() - start;
	records = counters_total("proto_records_total");

	/* baseline: copy the same chunk payloads the same number of times */
	sink = malloc(65536);
	start = monotonic_ns();
	for (uint64_t r = 0; r < rounds; r++)
		for (int i = 0; i < n; i++) {
			const uint8_t *p = inputs[i].harness, *end = p + inputs[i].harness_len;

			while (p + 3 <= end) {
				uint32_t len = (uint32_t)p[1] | (uint32_t)p[2] << 8;

				memcpy(sink, p + 3, len);
				__asm__ volatile("" : : "r"(sink) : "memory");
				p += 3 + len;
			}
		}
	base_elapsed = monotonic_ns() - start;
	printf("parse port %u: %.1f MB/s, %.2f M chunks/s, %.0f records/s on one core; "
	       "%.0f ns/chunk vs %.1f ns/chunk to copy (%.1fx)\n",
	       port, (double)bytes / 1e6 / ((double)elapsed / 1e9),
	       (double)chunks / 1e6 / ((double)elapsed / 1e9),
	       (double)records / ((double)elapsed / 1e9), (double)elapsed / (double)chunks,
	       (double)base_elapsed / (double)chunks, (double)elapsed / (double)base_elapsed);
	return 0;
}
