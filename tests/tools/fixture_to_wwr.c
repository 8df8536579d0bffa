/*
 * Turns fixtures recorded from real servers (tests/tools/tcp_recorder.py format) into a
 * wirewatch recording that replays each session as several connections:
 *   whole  - the chunks as the server and client really sent them;
 *   splits - for every chunk and every byte position inside it, the same session with
 *            that chunk cut in two there (STYLE.md: every split point);
 *   bytes  - the session one byte per chunk.
 * The parser tests replay it with --source replay: and check that every variant gives the
 * same records as the whole one.
 *   fixture_to_wwr OUT.wwr SERVER_PORT MODE[,MODE...] FIXTURE...
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "chunk.h"
#include "recording.h"

struct piece {
	uint8_t dir;
	uint32_t len;
	uint8_t *data;
};

struct session {
	struct piece *pieces;
	uint32_t n;
};

static struct chunk *scratch;
static uint64_t clock_ns = 1795514400000000000ull; /* 2026-11-24T10:00:00Z */

static int load(const char *path, struct session *s)
{
	FILE *f = fopen(path, "rb");
	uint8_t hdr[5];

	if (!f)
		return -1;
	memset(s, 0, sizeof(*s));
	while (fread(hdr, 1, 5, f) == 5) {
		struct piece p = {.dir = hdr[0]};

		memcpy(&p.len, hdr + 1, 4);
		p.data = malloc(p.len ? p.len : 1);
		if (fread(p.data, 1, p.len, f) != p.len)
			return -1;
		s->pieces = realloc(s->pieces, (s->n + 1) * sizeof(*s->pieces));
		s->pieces[s->n++] = p;
	}
	fclose(f);
	return 0;
}

static void header(struct chunk *c, uint32_t pid, uint32_t fd, uint16_t port, uint8_t kind)
{
	memset(c, 0, sizeof(*c));
	c->conn_key = (uint64_t)pid << 32 | fd;
	c->generation = 1;
	c->kind = kind;
	c->role = ROLE_CLIENT;
	c->pid = pid;
	snprintf(c->comm, sizeof(c->comm), "fixture");
	c->src.family = AF_INET;
	c->src.port = (uint16_t)(30000 + fd % 30000);
	memcpy(c->src.addr, "\x7f\x00\x00\x01", 4);
	c->dst.family = AF_INET;
	c->dst.port = port;
	memcpy(c->dst.addr, "\x7f\x00\x00\x01", 4);
	c->ts_ns = clock_ns;
	clock_ns += 1000; /* 1 us per chunk: latencies are deterministic */
}

static void emit_data(struct recorder *rec, uint32_t pid, uint32_t fd, uint16_t port, uint8_t dir,
		      const uint8_t *p, uint32_t len, uint64_t *offset)
{
	header(scratch, pid, fd, port, CHUNK_DATA);
	scratch->dir = dir;
	scratch->offset = offset[dir];
	scratch->len = scratch->len_true = len;
	memcpy(scratch->data, p, len);
	offset[dir] += len;
	recorder_write(rec, scratch);
}

/* One connection of the session; piece `cut` is split at byte `at` (0 = not split);
 * step 1 = byte by byte. */
static void emit_session(struct recorder *rec, const struct session *s, uint32_t pid, uint32_t fd,
			 uint16_t port, uint32_t cut, uint32_t at, int bytewise)
{
	uint64_t offset[2] = {0, 0};

	header(scratch, pid, fd, port, CHUNK_OPEN);
	recorder_write(rec, scratch);
	for (uint32_t i = 0; i < s->n; i++) {
		const struct piece *p = &s->pieces[i];

		if (bytewise) {
			for (uint32_t b = 0; b < p->len; b++)
				emit_data(rec, pid, fd, port, p->dir, p->data + b, 1, offset);
		} else if (at && i == cut) {
			emit_data(rec, pid, fd, port, p->dir, p->data, at, offset);
			emit_data(rec, pid, fd, port, p->dir, p->data + at, p->len - at, offset);
		} else {
			emit_data(rec, pid, fd, port, p->dir, p->data, p->len, offset);
		}
	}
	header(scratch, pid, fd, port, CHUNK_CLOSE);
	recorder_write(rec, scratch);
}

int main(int argc, char **argv)
{
	struct recorder *rec;
	char err[256];
	uint16_t port;

	if (argc < 5) {
		fprintf(stderr, "usage: fixture_to_wwr OUT.wwr SERVER_PORT MODES FIXTURE...\n");
		return 2;
	}
	port = (uint16_t)atoi(argv[2]);
	scratch = malloc(sizeof(struct chunk) + (1u << 20));
	if (recorder_open(&rec, argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int f = 4; f < argc; f++) {
		uint32_t pid = 50000 + (uint32_t)f, fd = 3;
		struct session s;

		if (load(argv[f], &s) < 0) {
			fprintf(stderr, "fixture_to_wwr: cannot read %s\n", argv[f]);
			return 1;
		}
		if (strstr(argv[3], "whole"))
			emit_session(rec, &s, pid, fd++, port, 0, 0, 0);
		if (strstr(argv[3], "splits"))
			for (uint32_t i = 0; i < s.n; i++)
				for (uint32_t at = 1; at < s.pieces[i].len; at++)
					emit_session(rec, &s, pid, fd++, port, i, at, 0);
		if (strstr(argv[3], "bytes"))
			emit_session(rec, &s, pid, fd++, port, 0, 0, 1);
	}
	return recorder_close(rec) < 0 ? 1 : 0;
}
