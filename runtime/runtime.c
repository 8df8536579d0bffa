/*
 * Building, running and stopping the pipeline (see runtime.h for the stop order).
 * The main thread owns signals, --duration, the stats records and the shutdown.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pii/pii.h"
#include "recording.h"
#include "runtime.h"
#include "telemetry.h"

static uint32_t online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (uint32_t)n : 1;
}

static int check_memory(const struct runtime *rt, char *err, size_t err_len)
{
	const struct config *cfg = rt->cfg;
	uint64_t per_reader = chunk_pool_bytes(cfg->chunk_pool, cfg->chunk_bytes) +
			      (uint64_t)rt->nworkers * cfg->shard_queue * sizeof(void *);
	uint64_t per_worker = conn_table_bytes(cfg->conn_table) + parse_engine_bytes(cfg) +
			      (uint64_t)cfg->batches * cfg->batch_bytes;
	uint64_t total = per_reader * rt->nreaders + per_worker * rt->nworkers;

	if (total <= cfg->memory_cap_bytes)
		return 0;
	snprintf(err, err_len,
		 "memory: %u readers x %" PRIu64 " + %u workers x %" PRIu64 " = %" PRIu64
		 " bytes exceeds runtime.memory_cap %" PRIu64
		 " (lower chunk_pool, conn_table, batches or workers, or raise memory_cap)",
		 rt->nreaders, per_reader, rt->nworkers, per_worker, total, cfg->memory_cap_bytes);
	return -ENOMEM;
}

int runtime_create(struct runtime **out, const struct config *cfg,
		   const struct runtime_options *opt, char *err, size_t err_len)
{
	struct runtime *rt = calloc(1, sizeof(*rt));
	const char *arg = "";
	int ret;

	if (!rt)
		return -ENOMEM;
	rt->cfg = cfg;
	rt->filter_pid = opt->filter_pid;
	rt->filter_port = opt->filter_port;
	rt->duration_ns = opt->duration_ns;
	rt->source.ops = source_find(opt->source_spec, &arg);
	if (!rt->source.ops) {
		snprintf(err, err_len, "--source '%s': unknown source (expected %s)",
			 opt->source_spec, source_names());
		free(rt);
		return -EINVAL;
	}
	ret = rt->source.ops->open(&rt->source, arg, cfg, err, err_len);
	if (ret) {
		free(rt);
		return ret;
	}
	rt->nworkers = cfg->workers ? cfg->workers : online_cpus();
	rt->nreaders = rt->source.ops->readers(&rt->source);
	ret = check_memory(rt, err, err_len);
	if (ret)
		goto err_source;
	if (cfg->pii_rules[0]) {
		ret = pii_engine_load(&rt->pii, cfg->pii_rules, err, err_len);
		if (ret)
			goto err_source;
	}
	ret = output_open(&rt->out, cfg, rt->nworkers + 1, err, err_len);
	if (ret)
		goto err_pii;
	if (opt->record_path) {
		ret = recorder_open(&rt->rec, opt->record_path, err, err_len);
		if (ret)
			goto err_output;
	}
	rt->queues = calloc((size_t)rt->nreaders * rt->nworkers, sizeof(*rt->queues));
	rt->workers = calloc(rt->nworkers, sizeof(*rt->workers));
	rt->readers = calloc(rt->nreaders, sizeof(*rt->readers));
	if (!rt->queues || !rt->workers || !rt->readers) {
		ret = -ENOMEM;
		goto err_alloc;
	}
	for (uint32_t i = 0; i < rt->nreaders * rt->nworkers; i++)
		if ((ret = spsc_ring_init(&rt->queues[i], cfg->shard_queue)) < 0)
			goto err_alloc;
	for (uint32_t i = 0; i < rt->nworkers; i++)
		if ((ret = worker_init(&rt->workers[i], rt, i)) < 0)
			goto err_alloc;
	for (uint32_t i = 0; i < rt->nreaders; i++)
		if ((ret = reader_init(&rt->readers[i], rt, i)) < 0)
			goto err_alloc;
	*out = rt;
	return 0;

err_alloc:
	snprintf(err, err_len, "runtime: %s", strerror(-ret));
	runtime_destroy(rt);
	return ret;
err_output:
	output_close(rt->out);
err_pii:
	if (rt->pii)
		pii_engine_free(rt->pii);
err_source:
	rt->source.ops->close(&rt->source);
	free(rt);
	return ret;
}

void runtime_destroy(struct runtime *rt)
{
	if (!rt)
		return;
	for (uint32_t i = 0; rt->readers && i < rt->nreaders; i++)
		reader_destroy(&rt->readers[i]);
	for (uint32_t i = 0; rt->workers && i < rt->nworkers; i++)
		worker_destroy(&rt->workers[i]);
	for (uint32_t i = 0; rt->queues && i < rt->nreaders * rt->nworkers; i++)
		spsc_ring_destroy(&rt->queues[i]);
	free(rt->readers);
	free(rt->workers);
	free(rt->queues);
	if (rt->rec)
		recorder_close(rt->rec);
	if (rt->out)
		output_close(rt->out);
	if (rt->pii)
		pii_engine_free(rt->pii);
	rt->source.ops->close(&rt->source);
	free(rt);
}

/* Waits for a stop reason; writes periodic stats records meanwhile. */
static void runtime_wait(struct runtime *rt, struct emitter *stats, const sigset_t *signals)
{
	uint64_t start = monotonic_ns();
	uint64_t interval_ns = (uint64_t)rt->cfg->stats_interval_s * 1000000000ull;
	uint64_t next_stats = start + interval_ns;
	struct timespec tick = {0, 100000000};

	for (;;) {
		int sig = sigtimedwait(signals, NULL, &tick);
		uint64_t now = monotonic_ns();

		if (sig == SIGHUP) {
			output_request_reopen(rt->out);
		} else if (sig == SIGINT || sig == SIGTERM) {
			fprintf(stderr, "wirewatch: %s, stopping\n", strsignal(sig));
			return;
		}
		if (rt->duration_ns && now - start >= rt->duration_ns)
			return;
		if (__atomic_load_n(&rt->readers_running, __ATOMIC_ACQUIRE) == 0)
			return; /* the input ended (replay, synth count) */
		if (interval_ns && now >= next_stats) {
			stats_record_emit(stats, rt->cfg->stats_interval_s, 0);
			emitter_flush(stats);
			next_stats += interval_ns;
		}
	}
}

int runtime_run(struct runtime *rt)
{
	struct metrics_server *metrics = NULL;
	struct emitter stats;
	sigset_t signals;
	char err[512];
	uint64_t start = monotonic_ns();
	int exit_code = 0;

	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGHUP);
	/* every thread inherits the mask: only the main thread takes these, in sigtimedwait */
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (emitter_init(&stats, rt->out, rt->nworkers, rt->cfg->flush_ms, "producer", "stats") <
		    0 ||
	    output_start(rt->out) < 0) {
		fprintf(stderr, "wirewatch: cannot start the output\n");
		return 1;
	}
	if (rt->cfg->metrics[0] && metrics_start(&metrics, rt->cfg->metrics, err, sizeof(err))) {
		fprintf(stderr, "wirewatch: %s\n", err);
		return 2;
	}
	for (uint32_t i = 0; i < rt->nworkers; i++)
		pthread_create(&rt->workers[i].thread, NULL, worker_main, &rt->workers[i]);
	rt->readers_running = rt->nreaders;
	for (uint32_t i = 0; i < rt->nreaders; i++)
		pthread_create(&rt->readers[i].thread, NULL, reader_main, &rt->readers[i]);

	runtime_wait(rt, &stats, &signals);

	__atomic_store_n(&rt->stop_readers, true, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < rt->nreaders; i++) {
		pthread_join(rt->readers[i].thread, NULL);
		if (rt->readers[i].result < 0)
			exit_code = 1;
	}
	__atomic_store_n(&rt->readers_done, true, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < rt->nworkers; i++)
		pthread_join(rt->workers[i].thread, NULL);
	if (rt->cfg->stats_interval_s)
		stats_record_emit(&stats, rt->cfg->stats_interval_s, 1);
	emitter_flush(&stats);
	metrics_stop(metrics);
	output_close(rt->out);
	rt->out = NULL;
	if (rt->rec && recorder_close(rt->rec) < 0)
		exit_code = 1;
	rt->rec = NULL;
	stats_print_summary(stderr, (double)(monotonic_ns() - start) / 1e9);
	return exit_code;
}
