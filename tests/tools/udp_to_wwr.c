/*
 * Turns datagram fixtures (tests/tools/udp_recorder.py, same format as tcp_recorder.py:
 * one record per datagram) into a wirewatch recording: each fixture is one UDP "flow"
 * (CHUNK_F_UDP), one chunk per datagram, in the recorded order. Datagrams are whole by
 * nature, so there is nothing to split; the TCP fixtures go through fixture_to_wwr.
 *   udp_to_wwr OUT.wwr SERVER_PORT FIXTURE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "chunk.h"
#include "recording.h"

static uint64_t clock_ns = 1795514400000000000ull; /* 2026-11-24T10:00:00Z */

static void header(struct chunk *c, uint32_t pid, uint16_t port, uint8_t kind)
{
	memset(c, 0, sizeof(*c));
	c->conn_key = (uint64_t)pid << 32 | 3;
	c->generation = 1;
	c->kind = kind;
	c->role = ROLE_CLIENT;
	c->flags = CHUNK_F_UDP;
	c->pid = pid;
	snprintf(c->comm, sizeof(c->comm), "fixture");
	c->src.family = AF_INET;
	c->src.port = (uint16_t)(30000 + pid % 30000);
	memcpy(c->src.addr, "\x7f\x00\x00\x01", 4);
	c->dst.family = AF_INET;
	c->dst.port = port;
	memcpy(c->dst.addr, "\x7f\x00\x00\x01", 4);
	c->ts_ns = clock_ns;
	clock_ns += 1000;
}

int main(int argc, char **argv)
{
	struct chunk *c = malloc(sizeof(struct chunk) + 65536);
	struct recorder *rec;
	char err[256];

	if (argc < 4 || !c) {
		fprintf(stderr, "usage: udp_to_wwr OUT.wwr SERVER_PORT FIXTURE...\n");
		return 2;
	}
	if (recorder_open(&rec, argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int f = 3; f < argc; f++) {
		uint32_t pid = 50000 + (uint32_t)f + 1; /* argv position + 1, like fixture_to_wwr */
		uint64_t offset[2] = {0, 0};
		FILE *in = fopen(argv[f], "rb");
		uint8_t hdr[5];

		if (!in) {
			fprintf(stderr, "udp_to_wwr: cannot read %s\n", argv[f]);
			return 1;
		}
		header(c, pid, (uint16_t)atoi(argv[2]), CHUNK_OPEN);
		recorder_write(rec, c);
		while (fread(hdr, 1, 5, in) == 5) {
			uint32_t len;

			memcpy(&len, hdr + 1, 4);
			if (len > 65536) {
				fprintf(stderr, "udp_to_wwr: %s: datagram of %u bytes\n", argv[f],
					len);
				return 1;
			}
			header(c, pid, (uint16_t)atoi(argv[2]), CHUNK_DATA);
			c->dir = hdr[0] ? DIR_RESPONSE : DIR_REQUEST;
			if (fread(c->data, 1, len, in) != len)
				return 1;
			c->len = c->len_true = len;
			c->offset = offset[c->dir];
			offset[c->dir] += len;
			recorder_write(rec, c);
		}
		fclose(in);
		header(c, pid, (uint16_t)atoi(argv[2]), CHUNK_CLOSE);
		recorder_write(rec, c);
	}
	free(c);
	return recorder_close(rec) < 0 ? 1 : 0;
}
