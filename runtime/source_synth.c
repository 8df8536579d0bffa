/*
 * The synthetic source: chunks for N concurrent connections replaying request/response
 * byte vectors (runtime/synth_vectors.c), at a given rate or as fast as possible. For
 * benchmarks and tests: the whole pipeline runs without a kernel or a capture.
 *
 *   synth:[conns=N][,rate=CHUNKS_PER_S][,exchanges=N][,count=CHUNKS][,readers=N][,mix=NAME]
 *
 * conns: connections open at once per reader (default 64); rate: chunks per second
 * per reader, 0 = as fast as possible (default 0); exchanges: request/response pairs
 * before a connection closes and its fd is reused with a new generation (default 8);
 * count: chunks per reader before the source ends, 0 = until stopped (default 0);
 * readers: reader threads (default 1); mix: default (all vectors), http, postgres,
 * redis, memcached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "emit.h"
#include "source.h"
#include "synth_vectors.h"

struct synth_spec {
	uint32_t conns;
	uint64_t rate;
	uint32_t exchanges;
	uint64_t count;
	uint32_t readers;
	char mix[32];
};

struct synth_conn {
	uint32_t fd;
	uint32_t generation;
	uint32_t exchange; /* completed request/response pairs */
	uint8_t step;	   /* 0 open, 1 request, 2 response, 3 close */
	const struct synth_vector *vec;
	uint64_t offset[2];
};

static int synth_parse(struct synth_spec *s, const char *arg, char *err, size_t err_len)
{
	char buf[256], *save = NULL, *tok;

	*s = (struct synth_spec){.conns = 64, .rate = 0, .exchanges = 8, .count = 0, .readers = 1};
	snprintf(s->mix, sizeof(s->mix), "default");
	if (!arg || !*arg)
		return 0;
	if (strlen(arg) >= sizeof(buf)) {
		snprintf(err, err_len, "synth: spec too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		unsigned long long v;

		if (!eq) {
			snprintf(err, err_len, "synth: '%s': expected KEY=VALUE", tok);
			return -EINVAL;
		}
		*eq = '\0';
		if (strcmp(tok, "mix") == 0) {
			if (!synth_vectors_mix(eq + 1, NULL)) {
				snprintf(err, err_len,
					 "synth: mix '%s': expected default, http, postgres, redis "
					 "or memcached",
					 eq + 1);
				return -EINVAL;
			}
			snprintf(s->mix, sizeof(s->mix), "%s", eq + 1);
			continue;
		}
		errno = 0;
		v = strtoull(eq + 1, &end, 10);
		if (errno || end == eq + 1 || *end || eq[1] == '-') {
			snprintf(err, err_len, "synth: %s='%s': expected a number", tok, eq + 1);
			return -EINVAL;
		}
		if (strcmp(tok, "conns") == 0 && v >= 1 && v <= 1000000)
			s->conns = (uint32_t)v;
		else if (strcmp(tok, "rate") == 0)
			s->rate = v;
		else if (strcmp(tok, "exchanges") == 0 && v >= 1 && v <= 1000000)
			s->exchanges = (uint32_t)v;
		else if (strcmp(tok, "count") == 0)
			s->count = v;
		else if (strcmp(tok, "readers") == 0 && v >= 1 && v <= 64)
			s->readers = (uint32_t)v;
		else {
			snprintf(err, err_len,
				 "synth: '%s=%llu': unknown key or out of range (conns 1..1000000, "
				 "rate, exchanges 1..1000000, count, readers 1..64, mix)",
				 tok, v);
			return -EINVAL;
		}
	}
	return 0;
}

static int synth_open(struct source *src, const char *arg, const struct config *cfg, char *err,
		      size_t err_len)
{
	struct synth_spec *s = calloc(1, sizeof(*s));
	int ret;

	(void)cfg;
	if (!s)
		return -ENOMEM;
	ret = synth_parse(s, arg, err, err_len);
	if (ret) {
		free(s);
		return ret;
	}
	src->priv = s;
	return 0;
}

static uint32_t synth_readers(struct source *src)
{
	return ((struct synth_spec *)src->priv)->readers;
}

static void synth_fill_header(struct chunk *c, uint32_t reader, const struct synth_conn *sc)
{
	uint32_t pid = 100000 + reader; /* one fake process per reader */

	c->conn_key = (uint64_t)pid << 32 | sc->fd;
	c->generation = sc->generation;
	c->role = ROLE_CLIENT;
	c->flags = 0;
	c->pid = pid;
	c->reserved = 0;
	memcpy(c->comm, sc->vec->comm, sizeof(c->comm));
	c->src = (struct endpoint){.family = AF_INET,
				   .port = (uint16_t)(20000 + sc->fd % 40000),
				   .addr = {10, 0, (uint8_t)reader, 1}};
	c->dst = (struct endpoint){
		.family = AF_INET, .port = sc->vec->port, .addr = {10, 0, 255, 1}};
	c->offset = 0;
	c->len = 0;
	c->len_true = 0;
}

/* Fills c with the next event of connection sc and advances it. */
static void synth_step(struct chunk *c, uint32_t reader, struct synth_conn *sc, uint32_t cap,
		       const struct synth_vector *const *mix, uint32_t nmix, uint32_t exchanges,
		       uint32_t conns)
{
	synth_fill_header(c, reader, sc);
	c->ts_ns = realtime_ns();
	switch (sc->step) {
	case 0:
		c->kind = CHUNK_OPEN;
		c->dir = DIR_REQUEST;
		sc->step = 1;
		break;
	case 1:
	case 2: {
		enum dir d = sc->step == 1 ? DIR_REQUEST : DIR_RESPONSE;
		const uint8_t *bytes = d == DIR_REQUEST ? sc->vec->req : sc->vec->resp;
		uint32_t len = d == DIR_REQUEST ? sc->vec->req_len : sc->vec->resp_len;

		c->kind = CHUNK_DATA;
		c->dir = (uint8_t)d;
		c->offset = sc->offset[d];
		c->len_true = len;
		c->len = len < cap ? len : cap;
		if (c->len < len)
			c->flags |= CHUNK_F_TRUNCATED;
		memcpy(c->data, bytes, c->len);
		sc->offset[d] += len;
		if (d == DIR_REQUEST) {
			sc->step = 2;
		} else {
			sc->exchange++;
			sc->step = sc->exchange >= exchanges ? 3 : 1;
		}
		break;
	}
	default:
		c->kind = CHUNK_CLOSE;
		c->dir = DIR_REQUEST;
		/* the fd is reused by the next connection: a new generation tells them apart */
		sc->generation++;
		sc->exchange = 0;
		sc->step = 0;
		sc->offset[0] = sc->offset[1] = 0;
		sc->vec = mix[(sc->fd + sc->generation * conns) % nmix];
		break;
	}
}

static void sleep_until(uint64_t mono_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(mono_ns / 1000000000ull),
			      .tv_nsec = (long)(mono_ns % 1000000000ull)};

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static int synth_run(struct source *src, struct reader *rd, uint32_t index)
{
	const struct synth_spec *s = src->priv;
	const struct synth_vector *mix[SYNTH_VECTORS_MAX];
	uint32_t nmix = synth_vectors_mix(s->mix, mix);
	struct synth_conn *conns = calloc(s->conns, sizeof(*conns));
	uint32_t cap = reader_chunk_capacity(rd);
	uint64_t produced = 0, start = monotonic_ns();
	uint32_t next = 0;
	/* sleep in steps of about a millisecond of traffic: smooth at low rates, cheap at high */
	uint64_t rate_step = s->rate >= 64000 ? 64 : (s->rate >= 1000 ? s->rate / 1000 : 1);

	if (!conns)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->conns; i++) {
		conns[i].fd = 3 + i;
		conns[i].generation = 1;
		conns[i].vec = mix[i % nmix];
	}
	while (!reader_stopping(rd) && (s->count == 0 || produced < s->count)) {
		struct chunk *c = reader_chunk_get(rd);

		if (!c) {
			reader_flush(rd);
			continue;
		}
		synth_step(c, index, &conns[next], cap, mix, nmix, s->exchanges, s->conns);
		next = next + 1 == s->conns ? 0 : next + 1;
		reader_emit(rd, c);
		produced++;
		if (s->rate && produced % rate_step == 0) {
			reader_flush(rd);
			sleep_until(start + produced * 1000000000ull / s->rate);
		}
	}
	free(conns);
	return 0;
}

static void synth_close(struct source *src)
{
	free(src->priv);
	src->priv = NULL;
}

const struct source_ops synth_source_ops = {
	.name = "synth",
	.live = true,
	.open = synth_open,
	.readers = synth_readers,
	.run = synth_run,
	.close = synth_close,
};
