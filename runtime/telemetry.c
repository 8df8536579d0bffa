/* Stats records, Prometheus metrics and the exit summary (see telemetry.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "telemetry.h"

#define METRIC_ROWS_MAX 4096

struct metric_row {
	const struct counter_def *def;
	const char *label_key;
	const char *label_value;
	uint64_t value;
};

struct metric_rows {
	struct metric_row rows[METRIC_ROWS_MAX];
	uint32_t n;
};

static void collect_row(void *arg, const struct counter_def *def, const char *label_key,
			const char *label_value, uint64_t value)
{
	struct metric_rows *m = arg;

	if (m->n < METRIC_ROWS_MAX)
		m->rows[m->n++] = (struct metric_row){def, label_key, label_value, value};
}

static int row_by_name(const void *a, const void *b)
{
	const struct metric_row *x = a, *y = b;
	int c = strcmp(x->def->name, y->def->name);

	return c ? c
		 : strcmp(x->label_value ? x->label_value : "",
			  y->label_value ? y->label_value : "");
}

/* Every counter, sorted by name so instances of one counter are adjacent. */
static struct metric_rows *collect_sorted(void)
{
	struct metric_rows *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	counters_visit(collect_row, m);
	qsort(m->rows, m->n, sizeof(m->rows[0]), row_by_name);
	return m;
}

char *metrics_render(size_t *len)
{
	struct metric_rows *m = collect_sorted();
	size_t cap = 256 + (size_t)(m ? m->n : 0) * 256, used = 0;
	char *buf = malloc(cap);

	if (!m || !buf) {
		free(m);
		free(buf);
		return NULL;
	}
	for (uint32_t i = 0; i < m->n; i++) {
		const struct metric_row *r = &m->rows[i];

		if (i == 0 || strcmp(r->def->name, m->rows[i - 1].def->name) != 0)
			used += (size_t)snprintf(
				buf + used, cap - used,
				"# HELP wirewatch_%s %s\n# TYPE wirewatch_%s counter\n",
				r->def->name, r->def->help, r->def->name);
		if (r->label_key)
			used += (size_t)snprintf(
				buf + used, cap - used, "wirewatch_%s{%s=\"%s\"} %" PRIu64 "\n",
				r->def->name, r->label_key, r->label_value, r->value);
		else
			used += (size_t)snprintf(buf + used, cap - used,
						 "wirewatch_%s %" PRIu64 "\n", r->def->name,
						 r->value);
	}
	free(m);
	*len = used;
	return buf;
}

static enum MHD_Result metrics_handle(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status = MHD_HTTP_OK;
	size_t len = 0;
	char *body = NULL;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0)
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	else if (strcmp(url, "/metrics") != 0)
		status = MHD_HTTP_NOT_FOUND;
	else if (!(body = metrics_render(&len)))
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	if (!body) {
		static const char msg[] = "wirewatch: GET /metrics\n";

		resp = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
						       MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct metrics_server {
	struct MHD_Daemon *daemon;
};

int metrics_start(struct metrics_server **out, const char *addr, char *err, size_t err_len)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct metrics_server *ms;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
	int rc;

	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host)) {
		snprintf(err, err_len, "--metrics '%s': expected HOST:PORT", addr);
		return -EINVAL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:9100 */
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc) {
		snprintf(err, err_len, "--metrics '%s': %s", addr, gai_strerror(rc));
		return -EINVAL;
	}
	ms = calloc(1, sizeof(*ms));
	if (!ms) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	ms->daemon = MHD_start_daemon(flags, 0, NULL, NULL, metrics_handle, NULL,
				      MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!ms->daemon) {
		snprintf(err, err_len, "--metrics '%s': cannot listen (address in use?)", addr);
		free(ms);
		return -EADDRINUSE;
	}
	*out = ms;
	return 0;
}

void metrics_stop(struct metrics_server *ms)
{
	if (!ms)
		return;
	MHD_stop_daemon(ms->daemon);
	free(ms);
}

struct stats_arg {
	struct metric_rows *m;
	uint64_t interval_s;
	int final;
	uint64_t ts_ns;
};

static void stats_encode(struct json_writer *w, const void *arg)
{
	const struct stats_arg *s = arg;

	json_object_begin(w);
	json_key(w, "ts");
	json_timestamp(w, s->ts_ns);
	json_key(w, "type");
	json_cstring(w, "stats");
	json_key(w, "interval_s");
	json_u64(w, s->interval_s);
	json_key(w, "final");
	json_bool(w, s->final);
	json_key(w, "counters");
	json_object_begin(w);
	for (uint32_t i = 0; i < s->m->n;) {
		const char *name = s->m->rows[i].def->name;
		uint64_t total = 0;

		for (; i < s->m->n && strcmp(s->m->rows[i].def->name, name) == 0; i++)
			total += s->m->rows[i].value;
		json_key(w, name);
		json_u64(w, total);
	}
	json_object_end(w);
	json_object_end(w);
}

void stats_record_emit(struct emitter *e, uint64_t interval_s, int final)
{
	struct stats_arg s = {.m = collect_sorted(),
			      .interval_s = interval_s,
			      .final = final,
			      .ts_ns = realtime_ns()};

	if (!s.m)
		return;
	emitter_record(e, stats_encode, &s);
	free(s.m);
}

void stats_print_summary(FILE *f, double seconds)
{
	static const char *const lines[][2] = {
		{"reader_chunks_total", "chunks captured"},
		{"reader_bytes_total", "bytes captured"},
		{"conn_opened_total", "connections seen"},
		{"records_total", "records written"},
		{"source_drops_total", "lost in the source"},
		{"reader_pool_empty_total", "lost: chunk pool empty"},
		{"reader_queue_full_drops_total", "lost: shard queue full"},
		{"output_records_dropped_total", "records lost: spool full"},
		{"records_too_large_total", "records lost: larger than a batch"},
		{"conn_evicted_full_total", "connections evicted: table full"},
		{"conn_evicted_idle_total", "connections evicted: idle"},
		{"conn_lost_bytes_total", "bytes missing in streams (gaps)"},
	};

	fprintf(f, "wirewatch: ran %.1f s\n", seconds);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		fprintf(f, "  %-36s %" PRIu64 "\n", lines[i][1], counters_total(lines[i][0]));
}
