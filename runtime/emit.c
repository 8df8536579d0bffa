/* Record batching for one producer (see emit.h). */
#include <time.h>

#include "counters.h"
#include "emit.h"

enum { EMIT_RECORDS, EMIT_TOO_LARGE, EMIT_BATCH_WAITS };

static const struct counter_def emit_counter_defs[] = {
	[EMIT_RECORDS] = {"records_total", "Records encoded by this producer"},
	[EMIT_TOO_LARGE] = {"records_too_large_total",
			    "Records dropped because one alone is larger than an output batch"},
	[EMIT_BATCH_WAITS] = {"output_batch_waits_total",
			      "Times a producer waited for the output thread to free a batch"},
};

uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int emitter_init(struct emitter *e, struct output *out, uint32_t producer, uint32_t flush_ms,
		 const char *label_key, const char *label_value)
{
	e->out = out;
	e->producer = producer;
	e->flush_ms = flush_ms;
	e->cur = NULL;
	for (unsigned i = 0; i < 3; i++)
		e->counters[i] = 0;
	return counters_register(label_key, label_value, emit_counter_defs, 3, e->counters);
}

static void batch_take(struct emitter *e)
{
	e->cur = output_batch_get(e->out, e->producer);
	if (!e->cur) {
		counter_add(&e->counters[EMIT_BATCH_WAITS], 1);
		e->cur = output_wait_batch(e->out, e->producer);
	}
	e->cur->len = 0;
	e->cur->records = 0;
}

void emitter_flush(struct emitter *e)
{
	if (e->cur && e->cur->len > 0) {
		output_batch_submit(e->out, e->cur);
		e->cur = NULL;
	}
}

static int encode_into_batch(struct emitter *e, record_encode_fn encode, const void *arg)
{
	struct out_batch *b = e->cur;
	struct json_writer w;

	json_init(&w, b->data + b->len, b->cap - b->len);
	encode(&w, arg);
	json_raw(&w, "\n", 1);
	if (w.overflow)
		return -1;
	if (b->records == 0)
		b->first_ns = monotonic_ns();
	b->len += (uint32_t)w.len;
	b->records++;
	return 0;
}

void emitter_record(struct emitter *e, record_encode_fn encode, const void *arg)
{
	if (!e->cur)
		batch_take(e);
	if (encode_into_batch(e, encode, arg) == 0)
		goto done;
	if (e->cur->len == 0) {
		counter_add(&e->counters[EMIT_TOO_LARGE], 1);
		return;
	}
	emitter_flush(e);
	batch_take(e);
	if (encode_into_batch(e, encode, arg) < 0) {
		counter_add(&e->counters[EMIT_TOO_LARGE], 1);
		return;
	}
done:
	counter_add(&e->counters[EMIT_RECORDS], 1);
}

void emitter_tick(struct emitter *e, uint64_t now_mono_ns)
{
	if (e->cur && e->cur->len > 0 &&
	    now_mono_ns - e->cur->first_ns >= (uint64_t)e->flush_ms * 1000000ull)
		emitter_flush(e);
}
