/* The harness of engine_harness.h (compiled into each parser fuzz target). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "conn_table.h"
#include "emit.h"
#include "engine.h"
#include "tests/lib/engine_harness.h"
#include "output.h"

static struct config cfg;
static struct output *out;
static struct emitter emit;
static struct parse_engine *engine;
static struct conn_table table;
static struct chunk *chunk;
static uint32_t generation;

static void setup(void)
{
	char err[256];

	config_defaults(&cfg);
	strcpy(cfg.output, "file:/dev/null");
	cfg.parser_buffer_bytes = 4096; /* small: oversize paths get exercised */
	cfg.parser_records = 64;
	cfg.parser_statements = 64;
	if (output_open(&out, &cfg, 1, err, sizeof(err)) || output_start(out) ||
	    emitter_init(&emit, out, 0, 1000, NULL, NULL) ||
	    parse_engine_create(&engine, &cfg, &emit, NULL, 0, 16) || conn_table_init(&table, 16))
		abort();
	chunk = malloc(sizeof(*chunk) + 65536);
}

int engine_harness_run(const uint8_t *data, size_t size, uint16_t server_port)
{
	struct conn *c;
	uint64_t offset[2] = {0, 0};
	size_t i = 0;

	if (!engine)
		setup();
	c = conn_table_insert(&table, 1, ++generation);
	conn_parse_init(&c->parse);
	c->role = ROLE_CLIENT;
	c->src.family = c->dst.family = AF_INET;
	c->src.port = 40000;
	c->dst.port = server_port;
	while (i + 3 <= size) {
		uint8_t control = data[i];
		uint32_t len = (uint32_t)data[i + 1] | (uint32_t)data[i + 2] << 8;
		enum dir dir = control & 1 ? DIR_RESPONSE : DIR_REQUEST;

		i += 3;
		if (control & 2) {
			parse_engine_gap(engine, c, dir, len, 1000 + i);
			offset[dir] += len;
			continue;
		}
		if (len > size - i)
			len = (uint32_t)(size - i);
		memset(chunk, 0, sizeof(*chunk));
		chunk->kind = CHUNK_DATA;
		chunk->dir = (uint8_t)dir;
		chunk->len = chunk->len_true = len;
		chunk->offset = offset[dir];
		chunk->ts_ns = 1000 + i;
		memcpy(chunk->data, data + i, len);
		parse_engine_data(engine, c, chunk);
		offset[dir] += len;
		i += len;
	}
	parse_engine_close(engine, c, 1000 + size);
	conn_table_remove(&table, c);
	return 0;
}
