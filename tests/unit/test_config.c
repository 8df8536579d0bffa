/*
 * Unit tests for the configuration loader (runtime/config.c).
 *
 * Each bad file of bad_cases[] is its own cmocka test: written to a temporary file, loaded
 * over the defaults, and checked for -EINVAL, the exact "FILE:LINE:COL: key 'K': expected"
 * prefix, a fragment of what was expected, one line, and an untouched struct. The good files
 * check values field by field. Run from the repository root: the documented default file is
 * opened as config/wirewatch.yaml.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ERR_LEN	      1024

static const char *tmp_dir(void)
{
	const char *dir = getenv("TMPDIR");

	return dir && *dir ? dir : "/tmp";
}

/* Writes yaml to a new temporary file; the caller unlinks path. */
static void write_temp(char *path, size_t path_len, const char *yaml, size_t yaml_len)
{
	FILE *f;
	int fd;

	snprintf(path, path_len, "%s/test_config-XXXXXX.yaml", tmp_dir());
	fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(yaml, 1, yaml_len, f), yaml_len);
	assert_int_equal(fclose(f), 0);
}

/* Loads yaml (as a file) over cfg; err receives the message. */
static int load_yaml(struct config *cfg, const char *yaml, char *path, size_t path_len, char *err)
{
	int ret;

	write_temp(path, path_len, yaml, strlen(yaml));
	ret = config_load(cfg, path, err, ERR_LEN);
	unlink(path);
	return ret;
}

static void assert_config_equal(const struct config *a, const struct config *b)
{
	assert_int_equal(a->workers, b->workers);
	assert_int_equal(a->readers, b->readers);
	assert_int_equal(a->chunk_bytes, b->chunk_bytes);
	assert_int_equal(a->chunk_pool, b->chunk_pool);
	assert_int_equal(a->shard_queue, b->shard_queue);
	assert_int_equal(a->queue_full, b->queue_full);
	assert_int_equal(a->conn_table, b->conn_table);
	assert_int_equal(a->conn_idle_s, b->conn_idle_s);
	assert_int_equal(a->memory_cap_bytes, b->memory_cap_bytes);
	assert_int_equal(a->ring_bytes, b->ring_bytes);
	assert_int_equal(a->capture_bytes, b->capture_bytes);
	assert_int_equal(a->wakeup_bytes, b->wakeup_bytes);
	assert_string_equal(a->output, b->output);
	assert_int_equal(a->batch_bytes, b->batch_bytes);
	assert_int_equal(a->batches, b->batches);
	assert_int_equal(a->flush_ms, b->flush_ms);
	assert_string_equal(a->spool_dir, b->spool_dir);
	assert_int_equal(a->spool_bytes, b->spool_bytes);
	assert_int_equal(a->redact, b->redact);
	assert_string_equal(a->metrics, b->metrics);
	assert_int_equal(a->stats_interval_s, b->stats_interval_s);
	assert_int_equal(a->parser_buffer_bytes, b->parser_buffer_bytes);
	assert_int_equal(a->parser_records, b->parser_records);
	assert_int_equal(a->parser_statements, b->parser_statements);
	assert_string_equal(a->pii_rules, b->pii_rules);
}

/* Every field different from its default, and valid: what full.yaml below sets. */
static void config_full(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 12;
	cfg->readers = 3;
	cfg->chunk_bytes = 64 << 10;
	cfg->chunk_pool = 1000;
	cfg->shard_queue = 1024;
	cfg->queue_full = QUEUE_FULL_DROP;
	cfg->conn_table = 100000;
	cfg->conn_idle_s = 45;
	cfg->memory_cap_bytes = 512ULL << 20;
	cfg->ring_bytes = 32 << 20;
	cfg->capture_bytes = 4096;
	cfg->wakeup_bytes = 1 << 20;
	strcpy(cfg->output, "tcp:[::1]:9000");
	cfg->batch_bytes = 1 << 20;
	cfg->batches = 4;
	cfg->flush_ms = 250;
	strcpy(cfg->spool_dir, "/srv/spool dir/wirewatch");
	cfg->spool_bytes = 3ULL << 40;
	cfg->redact = REDACT_LITERALS;
	strcpy(cfg->metrics, "127.0.0.1:9187");
	cfg->stats_interval_s = 0;
	cfg->parser_buffer_bytes = 1 << 20;
	cfg->parser_records = 100;
	cfg->parser_statements = 200;
	strcpy(cfg->pii_rules, "/etc/wirewatch/pii.yaml");
}

static const char full_yaml[] = "# every key, none at its default\n"
				"runtime:\n"
				"  workers: 12\n"
				"  readers: 3\n"
				"  chunk_bytes: 64KiB\n"
				"  chunk_pool: 1000\n"
				"  shard_queue: 1024\n"
				"  queue_full: drop\n"
				"  conn_table: 100000\n"
				"  conn_idle_s: 45\n"
				"  memory_cap: 512MiB\n"
				"capture:\n"
				"  ring_bytes: 32M\n"
				"  capture_bytes: 4096\n"
				"  wakeup_bytes: 1MiB\n"
				"output:\n"
				"  sink: 'tcp:[::1]:9000'\n"
				"  batch_bytes: 1M\n"
				"  batches: 4\n"
				"  flush_ms: 250\n"
				"  spool_dir: /srv/spool dir/wirewatch\n"
				"  spool_bytes: 3TiB\n"
				"  redact: literals\n"
				"metrics:\n"
				"  address: 127.0.0.1:9187\n"
				"  stats_interval_s: 0\n"
				"parsers:\n"
				"  buffer_bytes: 1MiB\n"
				"  records: 100\n"
				"  statements: 200\n"
				"  pii_rules: /etc/wirewatch/pii.yaml\n";

struct bad_case {
	const char *name;
	const char *yaml;
	const char *pos;  /* "LINE:COL" of the offending key or value */
	const char *key;  /* as the message names it */
	const char *hint; /* must appear in the message */
};

static const char long_spool_yaml[] =
	"output:\n"
	"  spool_dir: "
	"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";

static const char long_unix_yaml[] =
	"output:\n"
	"  sink: unix:/run/wirewatch/"
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.sock\n";

static const struct bad_case bad_cases[] = {
	/* where the file is */
	{"unknown_section", "runtim:\n  workers: 4\n", "1:1", "runtim",
	 "a section (runtime, capture, output, metrics, parsers)"},
	{"unknown_key", "runtime:\n  workers: 4\n  worker: 4\n", "3:3", "runtime.worker",
	 "a key of runtime (workers, readers, chunk_bytes, chunk_pool, shard_queue, queue_full, "
	 "conn_table, conn_idle_s, memory_cap), got 'worker'"},
	{"section_scalar", "runtime: 5\n", "1:10", "runtime", "a mapping of runtime keys, got '5'"},
	{"section_sequence", "capture:\n  - ring_bytes\n", "2:3", "capture",
	 "a mapping of capture keys, got '[...]'"},
	{"top_level_sequence", "- runtime\n", "1:1", "(document)",
	 "a mapping of sections (runtime, capture, output, metrics, parsers), got '[...]'"},
	{"top_level_scalar", "hello\n", "1:1", "(document)", "a mapping of sections"},
	{"two_documents", "runtime:\n  workers: 1\n---\nruntime:\n  workers: 2\n", "3:1",
	 "(document)", "a single YAML document"},
	{"value_sequence", "runtime:\n  workers: [1, 2]\n", "2:12", "runtime.workers",
	 "a single value (not a list, mapping or alias), got '[...]'"},
	{"value_mapping", "runtime:\n  workers:\n    count: 4\n", "3:5", "runtime.workers",
	 "a single value (not a list, mapping or alias), got '{...}'"},
	{"value_alias", "runtime:\n  workers: &n 4\n  readers: *n\n", "3:12", "runtime.readers",
	 "got '*n'"},
	{"key_not_scalar", "runtime:\n  [a, b]: 1\n", "2:3", "runtime", "a key name"},
	{"duplicate_key", "runtime:\n  workers: 1\n  workers: 2\n", "3:3", "runtime.workers",
	 "each key once (first at line 2)"},
	{"duplicate_section",
	 "runtime:\n  workers: 1\noutput:\n  batches: 2\nruntime:\n  readers: 1\n", "5:1",
	 "runtime", "each section once (first at line 1)"},

	/* YAML syntax, with libyaml's problem and mark */
	{"syntax_bad_indent", "runtime:\n  workers: 4\n readers: 2\n", "3:2", "runtime.workers",
	 "expected valid YAML (while parsing a block mapping at 1:1), got 'did not find expected "
	 "key'"},
	{"syntax_missing_colon", "runtime:\n  workers: 4\n  readers 2\n  batches: 3\n", "4:3",
	 "runtime.workers",
	 "expected valid YAML (while scanning a simple key at 3:3), got 'could not find expected "
	 "':''"},
	{"syntax_tab_indent", "runtime:\n\tworkers: 4\n", "2:1", "runtime",
	 "expected valid YAML (while scanning for the next token at 2:1), got 'found character "
	 "that cannot start any token'"},
	{"syntax_unclosed_quote", "output:\n  sink: \"stdout\n", "3:1", "output.sink",
	 "expected valid YAML (while scanning a quoted scalar at 2:9), got 'found unexpected end "
	 "of stream'"},
	{"syntax_bad_utf8", "runtime:\n  queue_full: w\xffit\n", "2:16", "(document)",
	 "expected valid YAML, got 'invalid leading UTF-8 octet'"},

	/* numbers */
	{"not_a_number", "runtime:\n  workers: four\n", "2:12", "runtime.workers",
	 "a whole decimal number in 0..1024, got 'four'"},
	{"number_fraction", "output:\n  flush_ms: 1.5\n", "2:13", "output.flush_ms",
	 "a whole decimal number in 1..60000, got '1.5'"},
	{"number_with_suffix", "runtime:\n  chunk_pool: 4K\n", "2:15", "runtime.chunk_pool",
	 "a whole decimal number in 16..1048576"},
	{"number_too_big", "runtime:\n  workers: 5000\n", "2:12", "runtime.workers",
	 "a number in 0..1024, got '5000'"},
	{"number_too_small", "output:\n  batches: 0\n", "2:12", "output.batches",
	 "a number in 1..1024, got '0'"},
	{"number_past_64_bits", "runtime:\n  conn_table: 99999999999999999999999\n", "2:15",
	 "runtime.conn_table", "a number in 64..16777216"},
	{"number_negative", "runtime:\n  conn_idle_s: -5\n", "2:16", "runtime.conn_idle_s",
	 "a non-negative number in 1..604800, got '-5'"},
	{"number_empty", "metrics:\n  stats_interval_s:\n", "2:20", "metrics.stats_interval_s",
	 "a whole decimal number in 0..86400, got ''"},
	{"shard_queue_not_pow2", "runtime:\n  shard_queue: 1000\n", "2:16", "runtime.shard_queue",
	 "a power-of-two number in 2..1048576, got '1000'"},

	/* sizes */
	{"size_suffix_decimal", "runtime:\n  memory_cap: 2GB\n", "2:15", "runtime.memory_cap",
	 "a size suffix K, KiB, M, MiB, G, GiB, T or TiB (powers of 1024), got '2GB'"},
	{"size_suffix_space", "runtime:\n  memory_cap: 2 GiB\n", "2:15", "runtime.memory_cap",
	 "a size suffix"},
	{"size_suffix_lowercase", "output:\n  batch_bytes: 64kib\n", "2:16", "output.batch_bytes",
	 "a size suffix"},
	{"size_not_a_number", "capture:\n  ring_bytes: big\n", "2:15", "capture.ring_bytes",
	 "a size in 4KiB..1GiB (bytes, or a number with suffix"},
	{"size_negative", "runtime:\n  memory_cap: -1GiB\n", "2:15", "runtime.memory_cap",
	 "a non-negative size in 16MiB..1TiB"},
	{"size_too_big", "output:\n  batch_bytes: 128MiB\n", "2:16", "output.batch_bytes",
	 "a size in 4KiB..64MiB, got '128MiB'"},
	{"size_past_64_bits", "output:\n  spool_bytes: 99999999999TiB\n", "2:16",
	 "output.spool_bytes", "a size in 1MiB..16TiB"},
	{"ring_not_pow2", "capture:\n  ring_bytes: 12KiB\n", "2:15", "capture.ring_bytes",
	 "a power-of-two size in 4KiB..1GiB, got '12KiB'"},
	{"ring_below_page", "capture:\n  ring_bytes: 2048\n", "2:15", "capture.ring_bytes",
	 "a size in 4KiB..1GiB, got '2048'"},

	/* enums */
	{"queue_full_unknown", "runtime:\n  queue_full: block\n", "2:15", "runtime.queue_full",
	 "one of wait, drop, got 'block'"},
	{"redact_unknown", "output:\n  redact: all\n", "2:11", "output.redact",
	 "one of pii, literals, none, got 'all'"},
	{"enum_case", "output:\n  redact: PII\n", "2:11", "output.redact", "one of pii"},

	/* output sink syntax */
	{"sink_tcp_no_port", "output:\n  sink: tcp:localhost\n", "2:9", "output.sink",
	 "tcp:HOST:PORT with PORT in 1..65535 (IPv6 HOST in brackets), got 'tcp:localhost'"},
	{"sink_tcp_port_zero", "output:\n  sink: tcp:localhost:0\n", "2:9", "output.sink",
	 "PORT in 1..65535"},
	{"sink_tcp_port_high", "output:\n  sink: tcp:localhost:65536\n", "2:9", "output.sink",
	 "PORT in 1..65535"},
	{"sink_tcp_port_text", "output:\n  sink: tcp:localhost:http\n", "2:9", "output.sink",
	 "PORT in 1..65535"},
	{"sink_tcp_no_host", "output:\n  sink: tcp::9000\n", "2:9", "output.sink", "tcp:HOST:PORT"},
	{"sink_tcp_bare_ipv6", "output:\n  sink: tcp:::1:9000\n", "2:9", "output.sink",
	 "IPv6 HOST in brackets"},
	{"sink_file_empty", "output:\n  sink: \"file:\"\n", "2:9", "output.sink",
	 "file:PATH with a non-empty PATH, got 'file:'"},
	{"sink_unix_empty", "output:\n  sink: 'unix:'\n", "2:9", "output.sink",
	 "unix:PATH with PATH of 1..107 bytes"},
	{"sink_unix_too_long", long_unix_yaml, "2:9", "output.sink",
	 "unix:PATH with PATH of 1..107 bytes"},
	{"sink_unknown_scheme", "output:\n  sink: udp:host:514\n", "2:9", "output.sink",
	 "stdout, file:PATH, tcp:HOST:PORT or unix:PATH, got 'udp:host:514'"},
	{"sink_bare_path", "output:\n  sink: /var/log/wirewatch.ndjson\n", "2:9", "output.sink",
	 "stdout, file:PATH"},
	{"metrics_no_port", "metrics:\n  address: localhost\n", "2:12", "metrics.address",
	 "HOST:PORT with PORT in 1..65535 (IPv6 HOST in brackets), or \"\" for off"},

	/* strings */
	{"string_too_long", long_spool_yaml, "2:14", "output.spool_dir",
	 "at most 255 bytes, got '/aaaa"},
	{"string_nul", "output:\n  spool_dir: \"/var/\\0/x\"\n", "2:14", "output.spool_dir",
	 "text without NUL characters"},
	{"spool_dir_empty", "output:\n  spool_dir: ''\n", "2:14", "output.spool_dir",
	 "a directory path, got ''"},
	{"newline_escaped", "runtime:\n  queue_full: \"wa\\nit\"\n", "2:15", "runtime.queue_full",
	 "got 'wa\\nit'"},

	/* relations between keys */
	{"ring_not_above_wakeup", "capture:\n  ring_bytes: 64KiB\n", "2:15", "capture.ring_bytes",
	 "more than capture.wakeup_bytes (256KiB), got '64KiB'"},
	{"wakeup_not_below_ring", "capture:\n  wakeup_bytes: 8MiB\n", "2:17",
	 "capture.wakeup_bytes", "less than capture.ring_bytes (8MiB), got '8MiB'"},
	{"capture_over_chunk", "runtime:\n  chunk_bytes: 8KiB\n", "2:16", "runtime.chunk_bytes",
	 "at least capture.capture_bytes (16KiB), got '8KiB'"},
	{"capture_over_chunk_both",
	 "capture:\n  capture_bytes: 32KiB\nruntime:\n  chunk_bytes: 16K\n", "2:18",
	 "capture.capture_bytes", "at most runtime.chunk_bytes (16KiB), got '32KiB'"},
};

static void test_bad_file(void **state)
{
	const struct bad_case *c = *state;
	struct config cfg, before;
	char path[PATH_MAX], err[ERR_LEN], prefix[PATH_MAX + 128];
	int ret;

	config_defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	ret = load_yaml(&cfg, c->yaml, path, sizeof(path), err);
	print_message("  %s\n", err);
	assert_int_equal(ret, -EINVAL);

	snprintf(prefix, sizeof(prefix), "%s:%s: key '%s': expected ", path, c->pos, c->key);
	if (strncmp(err, prefix, strlen(prefix)))
		fail_msg("message '%s' does not start with '%s'", err, prefix);
	if (!strstr(err, c->hint))
		fail_msg("message '%s' does not contain '%s'", err, c->hint);
	assert_non_null(strstr(err, ", got '"));
	assert_null(strchr(err, '\n'));
	/* a bad file changes nothing, not even the keys before the bad one */
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

/* The whole message, once, character for character. */
static void test_message_exact(void **state)
{
	struct config cfg;
	char path[PATH_MAX], err[ERR_LEN], want[PATH_MAX + 256];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(
		load_yaml(&cfg, "runtime:\n  shard_queue: 1000\n", path, sizeof(path), err),
		-EINVAL);
	snprintf(
		want, sizeof(want),
		"%s:2:16: key 'runtime.shard_queue': expected a power-of-two number in 2..1048576, "
		"got '1000'",
		path);
	assert_string_equal(err, want);
}

static void test_default_file_matches_defaults(void **state)
{
	struct config cfg, defaults;
	char err[ERR_LEN];

	(void)state;
	/* start from all-different values, so a key missing from the file shows up */
	config_full(&cfg);
	config_defaults(&defaults);
	assert_int_equal(config_load(&cfg, "config/wirewatch.yaml", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_config_equal(&cfg, &defaults);
	assert_string_equal(cfg.path, "config/wirewatch.yaml");
	assert_string_equal(defaults.path, "");
}

static void test_full_file_overrides_everything(void **state)
{
	struct config cfg, want, defaults;
	char path[PATH_MAX], err[ERR_LEN];

	(void)state;
	config_defaults(&cfg);
	config_defaults(&defaults);
	config_full(&want);
	assert_int_equal(load_yaml(&cfg, full_yaml, path, sizeof(path), err), 0);
	assert_config_equal(&cfg, &want);
	assert_string_equal(cfg.path, path);

	/* config_full() is only a real test if it differs from the defaults everywhere */
	assert_int_not_equal(want.workers, defaults.workers);
	assert_int_not_equal(want.readers, defaults.readers);
	assert_int_not_equal(want.chunk_bytes, defaults.chunk_bytes);
	assert_int_not_equal(want.chunk_pool, defaults.chunk_pool);
	assert_int_not_equal(want.shard_queue, defaults.shard_queue);
	assert_int_not_equal(want.queue_full, defaults.queue_full);
	assert_int_not_equal(want.conn_table, defaults.conn_table);
	assert_int_not_equal(want.conn_idle_s, defaults.conn_idle_s);
	assert_int_not_equal(want.memory_cap_bytes, defaults.memory_cap_bytes);
	assert_int_not_equal(want.ring_bytes, defaults.ring_bytes);
	assert_int_not_equal(want.capture_bytes, defaults.capture_bytes);
	assert_int_not_equal(want.wakeup_bytes, defaults.wakeup_bytes);
	assert_string_not_equal(want.output, defaults.output);
	assert_int_not_equal(want.batch_bytes, defaults.batch_bytes);
	assert_int_not_equal(want.batches, defaults.batches);
	assert_int_not_equal(want.flush_ms, defaults.flush_ms);
	assert_string_not_equal(want.spool_dir, defaults.spool_dir);
	assert_int_not_equal(want.spool_bytes, defaults.spool_bytes);
	assert_int_not_equal(want.redact, defaults.redact);
	assert_string_not_equal(want.metrics, defaults.metrics);
	assert_int_not_equal(want.stats_interval_s, defaults.stats_interval_s);
}

static void test_defaults_values(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	config_defaults(&cfg);
	assert_string_equal(cfg.path, "");
	assert_int_equal(cfg.workers, 0);
	assert_int_equal(cfg.readers, 0);
	assert_int_equal(cfg.chunk_bytes, 16384);
	assert_int_equal(cfg.chunk_pool, 4096);
	assert_int_equal(cfg.shard_queue, 4096);
	assert_int_equal(cfg.queue_full, QUEUE_FULL_WAIT);
	assert_int_equal(cfg.conn_table, 65536);
	assert_int_equal(cfg.conn_idle_s, 300);
	assert_int_equal(cfg.memory_cap_bytes, 2ULL << 30);
	assert_int_equal(cfg.ring_bytes, 8 << 20);
	assert_int_equal(cfg.capture_bytes, 16384);
	assert_int_equal(cfg.wakeup_bytes, 256 << 10);
	assert_string_equal(cfg.output, "stdout");
	assert_int_equal(cfg.batch_bytes, 256 << 10);
	assert_int_equal(cfg.batches, 8);
	assert_int_equal(cfg.flush_ms, 100);
	assert_string_equal(cfg.spool_dir, "/var/lib/wirewatch/spool");
	assert_int_equal(cfg.spool_bytes, 1ULL << 30);
	assert_int_equal(cfg.redact, REDACT_PII);
	assert_string_equal(cfg.metrics, "");
	assert_int_equal(cfg.stats_interval_s, 60);
}

struct size_case {
	const char *yaml;
	uint64_t bytes;
	bool spool; /* spool_bytes (64-bit) rather than batch_bytes */
};

static void test_size_suffixes(void **state)
{
	static const struct size_case cases[] = {
		{"output:\n  batch_bytes: 65536\n", 65536, false},
		{"output:\n  batch_bytes: 4096\n", 4096, false},
		{"output:\n  batch_bytes: 100000\n", 100000, false},
		{"output:\n  batch_bytes: 64K\n", 64ULL << 10, false},
		{"output:\n  batch_bytes: 64KiB\n", 64ULL << 10, false},
		{"output:\n  batch_bytes: 3M\n", 3ULL << 20, false},
		{"output:\n  batch_bytes: 3MiB\n", 3ULL << 20, false},
		{"output:\n  batch_bytes: 0064KiB\n", 64ULL << 10, false},
		{"output:\n  batch_bytes: \"8KiB\"\n", 8ULL << 10, false},
		{"output:\n  spool_bytes: 5G\n", 5ULL << 30, true},
		{"output:\n  spool_bytes: 5GiB\n", 5ULL << 30, true},
		{"output:\n  spool_bytes: 2T\n", 2ULL << 40, true},
		{"output:\n  spool_bytes: 2TiB\n", 2ULL << 40, true},
		{"output:\n  spool_bytes: 16TiB\n", 16ULL << 40, true},
		{"output:\n  spool_bytes: 1048576\n", 1ULL << 20, true},
		{"output:\n  spool_bytes: 5368709120\n", 5ULL << 30, true},
	};
	char path[PATH_MAX], err[ERR_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct config cfg;

		config_defaults(&cfg);
		if (load_yaml(&cfg, cases[i].yaml, path, sizeof(path), err))
			fail_msg("'%s': %s", cases[i].yaml, err);
		if (cases[i].spool)
			assert_int_equal(cfg.spool_bytes, cases[i].bytes);
		else
			assert_int_equal(cfg.batch_bytes, cases[i].bytes);
	}
}

/* Files that say nothing, or only empty sections, keep every value. */
static void test_empty_files_keep_values(void **state)
{
	static const char *const files[] = {
		"",
		"\n\n",
		"# nothing but a comment\n",
		"---\n",
		"--- ~\n",
		"runtime:\n",
		"runtime:\n  # workers: 4\ncapture: ~\noutput: null\nmetrics: {}\n",
	};
	char path[PATH_MAX], err[ERR_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct config cfg, want;

		config_full(&cfg);
		config_full(&want);
		if (load_yaml(&cfg, files[i], path, sizeof(path), err))
			fail_msg("'%s': %s", files[i], err);
		assert_config_equal(&cfg, &want);
		assert_string_equal(cfg.path, path);
	}
}

/* A file overrides only what it names: the loader layers over the caller's values. */
static void test_partial_file_layers(void **state)
{
	struct config cfg;
	char path[PATH_MAX], err[ERR_LEN], yaml[512];

	(void)state;
	config_defaults(&cfg);
	cfg.workers = 7;
	strcpy(cfg.output, "file:/tmp/x");
	assert_int_equal(load_yaml(&cfg,
				   "runtime:\n  readers: 3\nmetrics:\n  address: '[::1]:9100'\n"
				   "  stats_interval_s: 5\n",
				   path, sizeof(path), err),
			 0);
	assert_int_equal(cfg.workers, 7);
	assert_int_equal(cfg.readers, 3);
	assert_string_equal(cfg.output, "file:/tmp/x");
	assert_string_equal(cfg.metrics, "[::1]:9100");
	assert_int_equal(cfg.stats_interval_s, 5);

	/* "address:" with nothing after it is YAML null: the endpoint off */
	assert_int_equal(load_yaml(&cfg, "metrics:\n  address:\n", path, sizeof(path), err), 0);
	assert_string_equal(cfg.metrics, "");

	/* the longest string that fits */
	snprintf(yaml, sizeof(yaml), "output:\n  spool_dir: /%0254d\n", 0);
	assert_int_equal(load_yaml(&cfg, yaml, path, sizeof(path), err), 0);
	assert_int_equal(strlen(cfg.spool_dir), 255);
}

static void test_unreadable_files(void **state)
{
	struct config cfg, before;
	char path[PATH_MAX], err[ERR_LEN], want[PATH_MAX + 64];

	(void)state;
	config_defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));

	snprintf(path, sizeof(path), "%s/test_config-does-not-exist-%d.yaml", tmp_dir(),
		 (int)getpid());
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);

	snprintf(path, sizeof(path), "%s/test_config-XXXXXX", tmp_dir());
	assert_non_null(mkdtemp(path));
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "%s: Is a directory", path);
	assert_string_equal(err, want);
	rmdir(path);

	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

struct output_case {
	const char *sink;
	const char *expect; /* NULL = valid, else a fragment of the message */
};

static void test_parse_output(void **state)
{
	static const struct output_case cases[] = {
		{"stdout", NULL},
		{"file:/var/log/wirewatch.ndjson", NULL},
		{"file:relative.ndjson", NULL},
		{"tcp:collector.example:9000", NULL},
		{"tcp:10.0.0.1:1", NULL},
		{"tcp:[2001:db8::1]:65535", NULL},
		{"unix:/run/wirewatch.sock", NULL},
		{"", "expected stdout, file:PATH, tcp:HOST:PORT or unix:PATH, got ''"},
		{"stderr", "got 'stderr'"},
		{"file:", "expected file:PATH with a non-empty PATH, got 'file:'"},
		{"unix:", "expected unix:PATH with PATH of 1..107 bytes, got 'unix:'"},
		{"tcp:", "expected tcp:HOST:PORT"},
		{"tcp:host", "got 'tcp:host'"},
		{"tcp:host:", "PORT in 1..65535"},
		{"tcp:host:0", "PORT in 1..65535"},
		{"tcp:host:65536", "PORT in 1..65535"},
		{"tcp:host:099999", "PORT in 1..65535"},
		{"tcp:host:-1", "PORT in 1..65535"},
		{"tcp::80", "tcp:HOST:PORT"},
		{"tcp:::1:80", "IPv6 HOST in brackets"},
		{"tcp:[::1]", "tcp:HOST:PORT"},
		{"tcp:[]:80", "tcp:HOST:PORT"},
		{"tcp:[::1:80", "tcp:HOST:PORT"},
		{"udp:host:514", "expected stdout, file:PATH, tcp:HOST:PORT or unix:PATH"},
		{"TCP:host:80", "got 'TCP:host:80'"},
	};
	char err[ERR_LEN], sink[CONFIG_STR_MAX + 16];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret;

		strcpy(err, "untouched");
		ret = config_parse_output(cases[i].sink, err, sizeof(err));
		if (!cases[i].expect) {
			if (ret)
				fail_msg("'%s' rejected: %s", cases[i].sink, err);
			continue;
		}
		if (ret != -EINVAL)
			fail_msg("'%s' accepted", cases[i].sink);
		if (!strstr(err, cases[i].expect))
			fail_msg("'%s': message '%s' lacks '%s'", cases[i].sink, err,
				 cases[i].expect);
		assert_int_equal(strncmp(err, "expected ", 9), 0);
	}

	/* from the command line a long value is rejected, never cut */
	memset(sink, 'f', sizeof(sink) - 1);
	sink[sizeof(sink) - 1] = '\0';
	memcpy(sink, "file:", 5);
	assert_int_equal(config_parse_output(sink, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 255 bytes"));
}

static void test_redact_names(void **state)
{
	static const struct {
		const char *name;
		enum redact_mode mode;
	} names[] = {
		{"pii", REDACT_PII},
		{"literals", REDACT_LITERALS},
		{"none", REDACT_NONE},
	};
	static const char *const bad[] = {"", "PII", "all", "pii ", "literal", "nonex"};
	enum redact_mode mode;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		mode = (enum redact_mode)99;
		assert_int_equal(config_parse_redact(names[i].name, &mode), 0);
		assert_int_equal(mode, names[i].mode);
		assert_string_equal(config_redact_name(names[i].mode), names[i].name);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		mode = REDACT_NONE;
		assert_int_equal(config_parse_redact(bad[i], &mode), -EINVAL);
		assert_int_equal(mode, REDACT_NONE);
	}
	assert_string_equal(config_redact_name((enum redact_mode)42), "unknown");
}

static const struct CMUnitTest good_tests[] = {
	cmocka_unit_test(test_message_exact),
	cmocka_unit_test(test_default_file_matches_defaults),
	cmocka_unit_test(test_full_file_overrides_everything),
	cmocka_unit_test(test_defaults_values),
	cmocka_unit_test(test_size_suffixes),
	cmocka_unit_test(test_empty_files_keep_values),
	cmocka_unit_test(test_partial_file_layers),
	cmocka_unit_test(test_unreadable_files),
	cmocka_unit_test(test_parse_output),
	cmocka_unit_test(test_redact_names),
};

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(bad_cases) + ARRAY_SIZE(good_tests)];
	size_t n = 0;

	/* one named test per bad file, so a failure names the case */
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		struct CMUnitTest t = {.name = bad_cases[i].name,
				       .test_func = test_bad_file,
				       .initial_state = (void *)&bad_cases[i]};

		tests[n++] = t;
	}
	for (size_t i = 0; i < ARRAY_SIZE(good_tests); i++)
		tests[n++] = good_tests[i];
	return _cmocka_run_group_tests("config", tests, n, NULL, NULL);
}
