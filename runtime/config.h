/*
 * Configuration: the values every part of wirewatch is sized and steered by.
 *
 * Loaded once at start from YAML (config/wirewatch.yaml documents every key),
 * then overridden by command-line flags, then frozen: after startup the
 * struct is read by every thread and written by none.
 */
#ifndef WIREWATCH_CONFIG_H
#define WIREWATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_STR_MAX 256

enum queue_full_policy {
	QUEUE_FULL_WAIT, /* the reader waits for the worker: nothing lost, capture may lag */
	QUEUE_FULL_DROP, /* the chunk is dropped and counted: capture never lags */
};

enum redact_mode {
	REDACT_PII,	 /* PII values replaced by their masked form (default) */
	REDACT_LITERALS, /* every literal in a query replaced by '?' */
	REDACT_NONE,	 /* everything as captured, for trusted sinks and tests */
};

struct config {
	char path[CONFIG_STR_MAX]; /* file it was loaded from, "" for built-in defaults */

	/* runtime */
	uint32_t workers;     /* worker shards; 0 = one per online CPU */
	uint32_t readers;     /* reader threads for multi-reader sources; 0 = auto */
	uint32_t chunk_bytes; /* payload capacity of one pooled chunk */
	uint32_t chunk_pool;  /* chunks per reader pool */
	uint32_t shard_queue; /* slots in each reader->worker ring (power of two) */
	enum queue_full_policy queue_full;
	uint32_t conn_table;	   /* connections per worker shard */
	uint32_t conn_idle_s;	   /* a connection silent this long is evicted */
	uint64_t memory_cap_bytes; /* upper bound on pools, tables and batches together */

	/* capture (eBPF source) */
	uint32_t ring_bytes;	/* per-CPU BPF ring buffer size (power of two, >= page) */
	uint32_t capture_bytes; /* bytes of payload captured per syscall */
	uint32_t wakeup_bytes;	/* ring fill level past which the kernel wakes a reader */

	/* output */
	char output[CONFIG_STR_MAX]; /* stdout | file:PATH | tcp:HOST:PORT | unix:PATH */
	uint32_t batch_bytes;	     /* size of one output batch */
	uint32_t batches;	     /* output batches per worker */
	uint32_t flush_ms;	     /* a partly filled batch is written after this long */
	char spool_dir[CONFIG_STR_MAX];
	uint64_t spool_bytes; /* cap on the on-disk spool for socket sinks */
	enum redact_mode redact;

	/* protocol parsers */
	uint32_t parser_buffer_bytes;	/* longest message buffered per connection direction */
	uint32_t parser_records;	/* records awaiting their response, per worker */
	uint32_t parser_statements;	/* prepared statements remembered, per worker */
	char pii_rules[CONFIG_STR_MAX]; /* PII rule catalog (config/pii.yaml); "" = no PII scan */

	/* metrics and stats */
	char metrics[CONFIG_STR_MAX]; /* HOST:PORT, "" = off */
	uint32_t stats_interval_s;    /* 0 = no periodic stats records */
};

/* Fills cfg with the built-in defaults (the same values config/wirewatch.yaml documents). */
void config_defaults(struct config *cfg);

/*
 * Loads path over the current values of cfg. On error returns -EINVAL (or -errno when
 * the file cannot be read) and writes one line "FILE:LINE:COL: key 'K': expected ..., got
 * '...'" into err.
 */
int config_load(struct config *cfg, const char *path, char *err, size_t err_len);

/* Parsers for single values, shared by the YAML loader and the command line. */
int config_parse_output(const char *s, char *err, size_t err_len);
int config_parse_redact(const char *s, enum redact_mode *out);

const char *config_redact_name(enum redact_mode mode);

#endif
