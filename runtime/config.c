/*
 * Configuration loader: built-in defaults, then a YAML file read with libyaml's event API.
 *
 * The file is a mapping of sections (runtime, capture, output, metrics), each a mapping of
 * keys to scalars. Every key is one row of config_keys[] (section, name, kind, field, range),
 * so adding a key is one row here, one field in struct config and one documented line in
 * config/wirewatch.yaml. The event API is used rather than the document API so that even a
 * YAML syntax error can name the key it came after.
 *
 * A load works on a copy of the caller's struct and copies it back only when the whole file
 * was valid: a bad file never leaves a half-applied configuration behind. The first error
 * stops the load and is reported as one line:
 *
 *	FILE:LINE:COL: key 'section.key': expected WHAT, got 'VALUE'
 *
 * with LINE and COL 1-based, taken from libyaml's marks.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"

#define ARRAY_SIZE(a)	  (sizeof(a) / sizeof((a)[0]))
#define FIELD_SIZE(field) sizeof(((struct config *)0)->field)

#define SIZE_KIB (1ULL << 10)
#define SIZE_MIB (1ULL << 20)
#define SIZE_GIB (1ULL << 30)
#define SIZE_TIB (1ULL << 40)

/* A config file bigger than this is a wrong path (a log, a core), not a configuration. */
#define CONFIG_FILE_MAX (1 << 20)

/* Longest piece of a value quoted back in a message: enough to recognise it, one line. */
#define CONFIG_QUOTE_MAX 64
#define CONFIG_QUOTE_BUF (CONFIG_QUOTE_MAX * 4 + 8)

/* Messages name this as the key when the problem is above any section. */
#define CONFIG_KEY_DOCUMENT "(document)"

/* Enum fields are stored through a uint32_t; that needs them to be that size. */
_Static_assert(sizeof(enum queue_full_policy) == sizeof(uint32_t), "enum size");
_Static_assert(sizeof(enum redact_mode) == sizeof(uint32_t), "enum size");

enum config_section {
	SECTION_RUNTIME,
	SECTION_CAPTURE,
	SECTION_OUTPUT,
	SECTION_METRICS,
	SECTION_PARSERS,
	SECTION_COUNT,
};

static const char *const section_names[SECTION_COUNT] = {
	[SECTION_RUNTIME] = "runtime", [SECTION_CAPTURE] = "capture", [SECTION_OUTPUT] = "output",
	[SECTION_METRICS] = "metrics", [SECTION_PARSERS] = "parsers",
};

/* Enum names are indexed by the enum value, NULL-terminated. */
static const char *const queue_full_names[] = {
	[QUEUE_FULL_WAIT] = "wait",
	[QUEUE_FULL_DROP] = "drop",
	NULL,
};

static const char *const redact_names[] = {
	[REDACT_PII] = "pii",
	[REDACT_LITERALS] = "literals",
	[REDACT_NONE] = "none",
	NULL,
};

enum key_kind {
	KEY_NUMBER, /* decimal digits */
	KEY_SIZE,   /* decimal digits, optionally followed by a binary suffix (K, KiB, ...) */
	KEY_ENUM,   /* one of names[] */
	KEY_STRING, /* text shorter than the field, accepted by check() */
};

typedef int (*config_check_fn)(const char *s, char *err, size_t err_len);

struct config_key {
	enum config_section section;
	const char *name;
	enum key_kind kind;
	size_t offset;
	size_t width;		  /* bytes of the field: 4 or 8 for numbers, buffer size for text */
	uint64_t min, max;	  /* KEY_NUMBER, KEY_SIZE: inclusive */
	bool pow2;		  /* KEY_NUMBER, KEY_SIZE: must also be a power of two */
	const char *const *names; /* KEY_ENUM */
	config_check_fn check;	  /* KEY_STRING */
};

#define KEY_NUM(sec, key, field, lo, hi, p2)                                                       \
	{                                                                                          \
		.section = (sec), .name = (key), .kind = KEY_NUMBER,                               \
		.offset = offsetof(struct config, field), .width = FIELD_SIZE(field), .min = (lo), \
		.max = (hi), .pow2 = (p2)                                                          \
	}
#define KEY_SZ(sec, key, field, lo, hi, p2)                                                        \
	{                                                                                          \
		.section = (sec), .name = (key), .kind = KEY_SIZE,                                 \
		.offset = offsetof(struct config, field), .width = FIELD_SIZE(field), .min = (lo), \
		.max = (hi), .pow2 = (p2)                                                          \
	}
#define KEY_ENUM(sec, key, field, list)                                               \
	{                                                                             \
		.section = (sec), .name = (key), .kind = KEY_ENUM,                    \
		.offset = offsetof(struct config, field), .width = FIELD_SIZE(field), \
		.names = (list)                                                       \
	}
#define KEY_STR(sec, key, field, fn)                                                  \
	{                                                                             \
		.section = (sec), .name = (key), .kind = KEY_STRING,                  \
		.offset = offsetof(struct config, field), .width = FIELD_SIZE(field), \
		.check = (fn)                                                         \
	}

static int check_spool_dir(const char *s, char *err, size_t err_len);
static int check_metrics(const char *s, char *err, size_t err_len);

/*
 * Every key of the file. Ranges are what the code can honour, not advice: the lower bounds
 * keep rings and pools from degenerating, the upper ones keep products (slots x size) far
 * from overflowing 32 and 64 bits. config/wirewatch.yaml documents the same ranges.
 */
static const struct config_key config_keys[] = {
	KEY_NUM(SECTION_RUNTIME, "workers", workers, 0, 1024, false),
	KEY_NUM(SECTION_RUNTIME, "readers", readers, 0, 1024, false),
	KEY_SZ(SECTION_RUNTIME, "chunk_bytes", chunk_bytes, 1024, 16 * SIZE_MIB, false),
	KEY_NUM(SECTION_RUNTIME, "chunk_pool", chunk_pool, 16, 1 << 20, false),
	/* a power of two so ring indexes wrap with a mask */
	KEY_NUM(SECTION_RUNTIME, "shard_queue", shard_queue, 2, 1 << 20, true),
	KEY_ENUM(SECTION_RUNTIME, "queue_full", queue_full, queue_full_names),
	KEY_NUM(SECTION_RUNTIME, "conn_table", conn_table, 64, 1 << 24, false),
	KEY_NUM(SECTION_RUNTIME, "conn_idle_s", conn_idle_s, 1, 7 * 86400, false),
	KEY_SZ(SECTION_RUNTIME, "memory_cap", memory_cap_bytes, 16 * SIZE_MIB, SIZE_TIB, false),
	/* the kernel requires BPF ring buffers to be a power-of-two number of pages */
	KEY_SZ(SECTION_CAPTURE, "ring_bytes", ring_bytes, 4096, SIZE_GIB, true),
	KEY_SZ(SECTION_CAPTURE, "capture_bytes", capture_bytes, 64, SIZE_MIB, false),
	KEY_SZ(SECTION_CAPTURE, "wakeup_bytes", wakeup_bytes, 0, SIZE_GIB, false),
	KEY_STR(SECTION_OUTPUT, "sink", output, config_parse_output),
	KEY_SZ(SECTION_OUTPUT, "batch_bytes", batch_bytes, 4 * SIZE_KIB, 64 * SIZE_MIB, false),
	KEY_NUM(SECTION_OUTPUT, "batches", batches, 1, 1024, false),
	KEY_NUM(SECTION_OUTPUT, "flush_ms", flush_ms, 1, 60000, false),
	KEY_STR(SECTION_OUTPUT, "spool_dir", spool_dir, check_spool_dir),
	KEY_SZ(SECTION_OUTPUT, "spool_bytes", spool_bytes, SIZE_MIB, 16 * SIZE_TIB, false),
	KEY_ENUM(SECTION_OUTPUT, "redact", redact, redact_names),
	KEY_STR(SECTION_METRICS, "address", metrics, check_metrics),
	KEY_NUM(SECTION_METRICS, "stats_interval_s", stats_interval_s, 0, 86400, false),
	KEY_SZ(SECTION_PARSERS, "buffer_bytes", parser_buffer_bytes, 4 * SIZE_KIB, 16 * SIZE_MIB,
	       false),
	KEY_NUM(SECTION_PARSERS, "records", parser_records, 16, 1 << 20, false),
	KEY_NUM(SECTION_PARSERS, "statements", parser_statements, 16, 1 << 20, false),
	KEY_STR(SECTION_PARSERS, "pii_rules", pii_rules, NULL),
};

/*
 * Relations between keys that no single range can express. Checked after the whole file is
 * read, so the order of keys in the file does not matter.
 */
struct key_order {
	const char *small, *big; /* "section.key" */
	bool strict;
};

static const struct key_order key_orders[] = {
	/* the kernel wakes a reader once this much is queued: at the ring size it never would */
	{"capture.wakeup_bytes", "capture.ring_bytes", true},
	/* one captured payload is copied into one pooled chunk */
	{"capture.capture_bytes", "runtime.chunk_bytes", false},
};

struct key_seen {
	bool set;
	yaml_mark_t mark;	/* of the key: "first at line N" */
	yaml_mark_t value_mark; /* of the value: where a relation between keys is reported */
};

struct load {
	const char *path;
	const char *input; /* the whole file */
	size_t input_len;
	char *err;
	size_t err_len;
	yaml_parser_t parser;
	yaml_event_t event;		/* the event being looked at; owned, freed by load_next() */
	struct config cfg;		/* values being built; copied out only on success */
	char key[2 * CONFIG_QUOTE_BUF]; /* "section.key" last read, names the key in messages */
	struct key_seen sections[SECTION_COUNT];
	struct key_seen keys[ARRAY_SIZE(config_keys)];
};

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 0;
	cfg->readers = 0;
	cfg->chunk_bytes = 16384;
	cfg->chunk_pool = 4096;
	cfg->shard_queue = 4096;
	cfg->queue_full = QUEUE_FULL_WAIT;
	cfg->conn_table = 65536;
	cfg->conn_idle_s = 300;
	cfg->memory_cap_bytes = 2 * SIZE_GIB;
	cfg->ring_bytes = 8 * SIZE_MIB;
	cfg->capture_bytes = 16384;
	cfg->wakeup_bytes = 256 * SIZE_KIB;
	strcpy(cfg->output, "stdout");
	cfg->batch_bytes = 256 * SIZE_KIB;
	cfg->batches = 8;
	cfg->flush_ms = 100;
	strcpy(cfg->spool_dir, "/var/lib/wirewatch/spool");
	cfg->spool_bytes = SIZE_GIB;
	cfg->redact = REDACT_PII;
	cfg->metrics[0] = '\0';
	cfg->stats_interval_s = 60;
	cfg->parser_buffer_bytes = 64 * SIZE_KIB;
	cfg->parser_records = 4096;
	cfg->parser_statements = 4096;
	strcpy(cfg->pii_rules, "config/pii.yaml");
}

/*
 * Copies s into dst for quoting in a one-line message: control bytes and backslashes
 * escaped, long values cut (on a UTF-8 boundary) and marked with "...".
 */
static void quote(char *dst, size_t dst_len, const char *s, size_t len)
{
	size_t n = len > CONFIG_QUOTE_MAX ? CONFIG_QUOTE_MAX : len;
	size_t o = 0;

	while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	for (size_t i = 0; i < n && o + 5 < dst_len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			o += (size_t)snprintf(dst + o, dst_len - o, "\\n");
		else if (c == '\t')
			o += (size_t)snprintf(dst + o, dst_len - o, "\\t");
		else if (c == '\\')
			o += (size_t)snprintf(dst + o, dst_len - o, "\\\\");
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(dst + o, dst_len - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	if (n < len && o + 4 <= dst_len)
		o += (size_t)snprintf(dst + o, dst_len - o, "...");
	dst[o < dst_len ? o : dst_len - 1] = '\0';
}

/* Writes a byte count the way a person would type it: "8MiB", or plain bytes if not exact. */
static void format_size(char *dst, size_t dst_len, uint64_t v)
{
	static const struct {
		const char *suffix;
		uint64_t unit;
	} units[] = {{"TiB", SIZE_TIB}, {"GiB", SIZE_GIB}, {"MiB", SIZE_MIB}, {"KiB", SIZE_KIB}};

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (v && v % units[i].unit == 0) {
			snprintf(dst, dst_len, "%" PRIu64 "%s", v / units[i].unit, units[i].suffix);
			return;
		}
	}
	snprintf(dst, dst_len, "%" PRIu64, v);
}

/* The shared tail of every message: "expected WHAT, got 'VALUE'". */
static void format_expected(char *err, size_t err_len, const char *value, size_t len,
			    const char *fmt, va_list ap)
{
	char what[512];
	char got[CONFIG_QUOTE_BUF];

	vsnprintf(what, sizeof(what), fmt, ap);
	quote(got, sizeof(got), value, len);
	snprintf(err, err_len, "expected %s, got '%s'", what, got);
}

static void __attribute__((format(printf, 5, 6)))
expected(char *err, size_t err_len, const char *value, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	format_expected(err, err_len, value, len, fmt, ap);
	va_end(ap);
}

/* Prefixes msg ("expected ..., got '...'") with "FILE:LINE:COL: key 'K': ". */
static int load_fail_msg(struct load *ld, yaml_mark_t mark, const char *msg)
{
	snprintf(ld->err, ld->err_len, "%s:%zu:%zu: key '%s': %s", ld->path, mark.line + 1,
		 mark.column + 1, ld->key, msg);
	return -EINVAL;
}

static int __attribute__((format(printf, 5, 6)))
load_fail(struct load *ld, yaml_mark_t mark, const char *value, size_t len, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	format_expected(msg, sizeof(msg), value, len, fmt, ap);
	va_end(ap);
	return load_fail_msg(ld, mark, msg);
}

/*
 * Fails at the event being looked at. For "got '...'" a non-scalar is written the way YAML's
 * flow style would write it, an alias as "*name".
 */
static int __attribute__((format(printf, 2, 3)))
load_fail_here(struct load *ld, const char *fmt, ...)
{
	const yaml_event_t *ev = &ld->event;
	char shape[CONFIG_QUOTE_BUF];
	const char *value = shape;
	size_t len;
	char msg[1024];
	va_list ap;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		value = (const char *)ev->data.scalar.value;
		break;
	case YAML_SEQUENCE_START_EVENT:
		snprintf(shape, sizeof(shape), "[...]");
		break;
	case YAML_MAPPING_START_EVENT:
		snprintf(shape, sizeof(shape), "{...}");
		break;
	case YAML_ALIAS_EVENT:
		snprintf(shape, sizeof(shape), "*%.*s", CONFIG_QUOTE_MAX,
			 (const char *)ev->data.alias.anchor);
		break;
	default:
		snprintf(shape, sizeof(shape), "?");
		break;
	}
	len = ev->type == YAML_SCALAR_EVENT ? ev->data.scalar.length : strlen(shape);

	va_start(ap, fmt);
	format_expected(msg, sizeof(msg), value, len, fmt, ap);
	va_end(ap);
	return load_fail_msg(ld, ev->start_mark, msg);
}

/* YAML's null ("key:" with nothing after it, "~", "null") as libyaml hands it over. */
static bool event_is_null(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;

	if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/*
 * Reader errors (bad UTF-8, a NUL byte) carry a byte offset, not a mark, and the reader decodes
 * ahead of the scanner, so the scanner's own mark would point at the wrong place: count.
 */
static yaml_mark_t offset_mark(const struct load *ld, size_t offset)
{
	yaml_mark_t mark = {.index = offset};

	for (size_t i = 0; i < offset && i < ld->input_len; i++) {
		if (ld->input[i] == '\n') {
			mark.line++;
			mark.column = 0;
		} else if (((unsigned char)ld->input[i] & 0xc0) != 0x80) {
			mark.column++;
		}
	}
	return mark;
}

static int load_next(struct load *ld)
{
	const yaml_parser_t *p = &ld->parser;
	char msg[512];
	char got[CONFIG_QUOTE_BUF];

	yaml_event_delete(&ld->event);
	if (yaml_parser_parse(&ld->parser, &ld->event))
		return 0;
	if (p->error == YAML_MEMORY_ERROR) {
		snprintf(ld->err, ld->err_len, "%s: %s", ld->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	quote(got, sizeof(got), p->problem ? p->problem : "error",
	      strlen(p->problem ? p->problem : "error"));
	/* the context mark says where the construct began: for an unclosed quote, the quote */
	if (p->context)
		snprintf(msg, sizeof(msg), "expected valid YAML (%s at %zu:%zu), got '%s'",
			 p->context, p->context_mark.line + 1, p->context_mark.column + 1, got);
	else
		snprintf(msg, sizeof(msg), "expected valid YAML, got '%s'", got);
	return load_fail_msg(ld,
			     p->error == YAML_READER_ERROR ? offset_mark(ld, p->problem_offset)
							   : p->problem_mark,
			     msg);
}

static int find_section(const char *name, size_t len)
{
	for (int i = 0; i < SECTION_COUNT; i++) {
		if (strlen(section_names[i]) == len && !memcmp(section_names[i], name, len))
			return i;
	}
	return -1;
}

static int find_key(enum config_section section, const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		const struct config_key *k = &config_keys[i];

		if (k->section == section && strlen(k->name) == len && !memcmp(k->name, name, len))
			return (int)i;
	}
	return -1;
}

static int find_dotted_key(const char *dotted)
{
	const char *dot = strchr(dotted, '.');
	int section = find_section(dotted, (size_t)(dot - dotted));

	return find_key((enum config_section)section, dot + 1, strlen(dot + 1));
}

enum number_status {
	NUMBER_OK,
	NUMBER_NOT,	 /* not digits */
	NUMBER_NEGATIVE, /* a minus sign in front of digits */
	NUMBER_SUFFIX,	 /* digits followed by something that is not a size suffix */
	NUMBER_RANGE,	 /* does not fit in 64 bits */
};

/* Decimal digits only: no sign, no hex, no spaces; sizes take one binary suffix. */
static enum number_status parse_number(const char *s, bool size, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned int shift;
	} suffixes[] = {{"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20},
			{"G", 30}, {"GiB", 30}, {"T", 40}, {"TiB", 40}};
	bool overflow = false;
	uint64_t v = 0;
	const char *p = s;

	if (*p == '-' && p[1] >= '0' && p[1] <= '9')
		return NUMBER_NEGATIVE;
	if (*p < '0' || *p > '9')
		return NUMBER_NOT;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		v = v * 10 + d;
	}
	if (*p && (!size || *p == '.' || *p == ','))
		return NUMBER_NOT;
	if (*p) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(suffixes); i++) {
			if (!strcmp(p, suffixes[i].suffix))
				break;
		}
		if (i == ARRAY_SIZE(suffixes))
			return NUMBER_SUFFIX;
		if (v > UINT64_MAX >> suffixes[i].shift)
			overflow = true;
		v <<= suffixes[i].shift;
	}
	if (overflow)
		return NUMBER_RANGE;
	*out = v;
	return NUMBER_OK;
}

static void store_u64(struct config *cfg, const struct config_key *k, uint64_t v)
{
	char *field = (char *)cfg + k->offset;

	if (k->width == sizeof(uint64_t)) {
		memcpy(field, &v, sizeof(v));
	} else {
		uint32_t v32 = (uint32_t)v;

		memcpy(field, &v32, sizeof(v32));
	}
}

static uint64_t load_u64(const struct config *cfg, const struct config_key *k)
{
	const char *field = (const char *)cfg + k->offset;
	uint64_t v;
	uint32_t v32;

	if (k->width == sizeof(uint64_t)) {
		memcpy(&v, field, sizeof(v));
		return v;
	}
	memcpy(&v32, field, sizeof(v32));
	return v32;
}

static void format_value(char *dst, size_t dst_len, const struct config_key *k, uint64_t v)
{
	if (k->kind == KEY_SIZE)
		format_size(dst, dst_len, v);
	else
		snprintf(dst, dst_len, "%" PRIu64, v);
}

static int apply_number(struct load *ld, const struct config_key *k, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	yaml_mark_t mark = ev->start_mark;
	bool size = k->kind == KEY_SIZE;
	const char *noun = size ? "size" : "number";
	char lo[32], hi[32], range[80];
	uint64_t v = 0;

	format_value(lo, sizeof(lo), k, k->min);
	format_value(hi, sizeof(hi), k, k->max);
	snprintf(range, sizeof(range), "%s..%s", lo, hi);

	switch (parse_number(s, size, &v)) {
	case NUMBER_OK:
		break;
	case NUMBER_NOT:
		if (size)
			return load_fail(ld, mark, s, len,
					 "a size in %s (bytes, or a number with suffix K, KiB, M, "
					 "MiB, G, GiB, T, TiB)",
					 range);
		return load_fail(ld, mark, s, len, "a whole decimal number in %s", range);
	case NUMBER_NEGATIVE:
		return load_fail(ld, mark, s, len, "a non-negative %s in %s", noun, range);
	case NUMBER_SUFFIX:
		return load_fail(ld, mark, s, len,
				 "a size suffix K, KiB, M, MiB, G, GiB, T or TiB (powers of 1024)");
	case NUMBER_RANGE:
		return load_fail(ld, mark, s, len, "a %s in %s", noun, range);
	}
	if (v < k->min || v > k->max)
		return load_fail(ld, mark, s, len, "a %s in %s", noun, range);
	if (k->pow2 && (v & (v - 1)))
		return load_fail(ld, mark, s, len, "a power-of-two %s in %s", noun, range);
	store_u64(&ld->cfg, k, v);
	return 0;
}

static int apply_value(struct load *ld, const struct config_key *k, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	char *field = (char *)&ld->cfg + k->offset;
	char msg[1024];
	char list[256] = "";

	/* a "\0" escape would make the C string disagree with what the file says */
	if (strlen(s) != len)
		return load_fail(ld, ev->start_mark, s, len, "text without NUL characters");

	switch (k->kind) {
	case KEY_NUMBER:
	case KEY_SIZE:
		return apply_number(ld, k, ev);
	case KEY_ENUM:
		for (uint32_t i = 0; k->names[i]; i++) {
			if (!strcmp(s, k->names[i])) {
				store_u64(&ld->cfg, k, i);
				return 0;
			}
		}
		for (size_t i = 0; k->names[i]; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", k->names[i]);
		return load_fail(ld, ev->start_mark, s, len, "one of %s", list);
	case KEY_STRING:
		if (event_is_null(ev))
			s = "";
		if (strlen(s) >= k->width)
			return load_fail(ld, ev->start_mark, s, len, "at most %zu bytes",
					 k->width - 1);
		if (k->check && k->check(s, msg, sizeof(msg)))
			return load_fail_msg(ld, ev->start_mark, msg);
		memcpy(field, s, strlen(s) + 1);
		return 0;
	}
	return -EINVAL;
}

/* Records where a section or key was first given; a second time is an error (YAML 1.2 3.2.1.1). */
static int load_once(struct load *ld, struct key_seen *seen, const char *what)
{
	if (seen->set)
		return load_fail_here(ld, "each %s once (first at line %zu)", what,
				      seen->mark.line + 1);
	seen->set = true;
	seen->mark = ld->event.start_mark;
	return 0;
}

static int load_section(struct load *ld, enum config_section section)
{
	const char *sname = section_names[section];
	char list[512] = "";
	char name[CONFIG_QUOTE_BUF];
	int ret, i;

	for (;;) {
		ret = load_next(ld);
		if (ret)
			return ret;
		if (ld->event.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (ld->event.type != YAML_SCALAR_EVENT) {
			snprintf(ld->key, sizeof(ld->key), "%s", sname);
			return load_fail_here(ld, "a key name");
		}

		quote(name, sizeof(name), (const char *)ld->event.data.scalar.value,
		      ld->event.data.scalar.length);
		snprintf(ld->key, sizeof(ld->key), "%s.%s", sname, name);
		i = find_key(section, (const char *)ld->event.data.scalar.value,
			     ld->event.data.scalar.length);
		if (i < 0) {
			for (size_t k = 0; k < ARRAY_SIZE(config_keys); k++) {
				if (config_keys[k].section != section)
					continue;
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 list[0] ? ", " : "", config_keys[k].name);
			}
			return load_fail_here(ld, "a key of %s (%s)", sname, list);
		}
		ret = load_once(ld, &ld->keys[i], "key");
		if (ret)
			return ret;

		ret = load_next(ld);
		if (ret)
			return ret;
		if (ld->event.type != YAML_SCALAR_EVENT)
			return load_fail_here(ld, "a single value (not a list, mapping or alias)");
		ret = apply_value(ld, &config_keys[i], &ld->event);
		if (ret)
			return ret;
		ld->keys[i].value_mark = ld->event.start_mark;
	}
}

static void section_list(char *dst, size_t dst_len)
{
	dst[0] = '\0';
	for (int i = 0; i < SECTION_COUNT; i++)
		snprintf(dst + strlen(dst), dst_len - strlen(dst), "%s%s", i ? ", " : "",
			 section_names[i]);
}

static int load_sections(struct load *ld)
{
	char list[128];
	char name[CONFIG_QUOTE_BUF];
	int ret, section;

	section_list(list, sizeof(list));
	for (;;) {
		ret = load_next(ld);
		if (ret)
			return ret;
		if (ld->event.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (ld->event.type != YAML_SCALAR_EVENT) {
			snprintf(ld->key, sizeof(ld->key), CONFIG_KEY_DOCUMENT);
			return load_fail_here(ld, "a section name (%s)", list);
		}

		quote(name, sizeof(name), (const char *)ld->event.data.scalar.value,
		      ld->event.data.scalar.length);
		snprintf(ld->key, sizeof(ld->key), "%s", name);
		section = find_section((const char *)ld->event.data.scalar.value,
				       ld->event.data.scalar.length);
		if (section < 0)
			return load_fail_here(ld, "a section (%s)", list);
		ret = load_once(ld, &ld->sections[section], "section");
		if (ret)
			return ret;

		ret = load_next(ld);
		if (ret)
			return ret;
		/* "runtime:" with every key commented out is a null: keep the defaults */
		if (event_is_null(&ld->event))
			continue;
		if (ld->event.type != YAML_MAPPING_START_EVENT)
			return load_fail_here(ld, "a mapping of %s keys", section_names[section]);
		ret = load_section(ld, (enum config_section)section);
		if (ret)
			return ret;
	}
}

/* Stream: nothing at all (empty or comments only), or one document holding one mapping. */
static int load_stream(struct load *ld)
{
	char list[128];
	int ret;

	ret = load_next(ld); /* STREAM-START */
	if (!ret)
		ret = load_next(ld);
	if (ret || ld->event.type == YAML_STREAM_END_EVENT)
		return ret;

	ret = load_next(ld); /* past DOCUMENT-START, at the root node */
	if (ret)
		return ret;
	if (ld->event.type == YAML_MAPPING_START_EVENT) {
		ret = load_sections(ld);
	} else if (!event_is_null(&ld->event)) {
		section_list(list, sizeof(list));
		return load_fail_here(ld, "a mapping of sections (%s)", list);
	}
	if (!ret)
		ret = load_next(ld); /* DOCUMENT-END */
	if (!ret)
		ret = load_next(ld);
	if (ret)
		return ret;
	if (ld->event.type == YAML_DOCUMENT_START_EVENT) {
		snprintf(ld->key, sizeof(ld->key), CONFIG_KEY_DOCUMENT);
		return load_fail(ld, ld->event.start_mark, "---", 3, "a single YAML document");
	}
	return 0;
}

static int load_check_orders(struct load *ld)
{
	for (size_t i = 0; i < ARRAY_SIZE(key_orders); i++) {
		const struct key_order *o = &key_orders[i];
		int si = find_dotted_key(o->small), bi = find_dotted_key(o->big);
		const struct config_key *small = &config_keys[si], *big = &config_keys[bi];
		uint64_t sv = load_u64(&ld->cfg, small), bv = load_u64(&ld->cfg, big);
		char sval[32], bval[32];

		if (o->strict ? sv < bv : sv <= bv)
			continue;
		format_value(sval, sizeof(sval), small, sv);
		format_value(bval, sizeof(bval), big, bv);
		/* blame the key this file set; if it set both, the one that must be smaller */
		if (ld->keys[si].set) {
			snprintf(ld->key, sizeof(ld->key), "%s", o->small);
			return load_fail(ld, ld->keys[si].value_mark, sval, strlen(sval),
					 "%s %s (%s)", o->strict ? "less than" : "at most", o->big,
					 bval);
		}
		if (ld->keys[bi].set) {
			snprintf(ld->key, sizeof(ld->key), "%s", o->big);
			return load_fail(ld, ld->keys[bi].value_mark, bval, strlen(bval),
					 "%s %s (%s)", o->strict ? "more than" : "at least",
					 o->small, sval);
		}
		/* neither came from this file: the caller's values, not this file's problem */
	}
	return 0;
}

/* Reads the whole file: bounded, and with the real errno when it is not readable. */
static int read_file(const char *path, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *p = NULL, *bigger;
	ssize_t got;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (!p || n == cap) {
			if (p)
				cap *= 2;
			bigger = realloc(p, cap);
			if (!bigger) {
				ret = -ENOMEM;
				goto err_free;
			}
			p = bigger;
		}
		got = read(fd, p + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ret = -errno;
			goto err_free;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > CONFIG_FILE_MAX) {
			ret = -EFBIG;
			goto err_free;
		}
	}
	close(fd);
	*buf = p;
	*len = n;
	return 0;

err_free:
	free(p);
	close(fd);
	return ret;
}

int config_load(struct config *cfg, const char *path, char *err, size_t err_len)
{
	struct load *ld;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (err_len)
		err[0] = '\0';
	if (strlen(path) >= CONFIG_STR_MAX) {
		snprintf(err, err_len, "%s: %s", path, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	ret = read_file(path, &buf, &len);
	if (ret)
		goto err_msg;

	/* on the heap: the parser and a whole config are too much for a small thread stack */
	ld = calloc(1, sizeof(*ld));
	if (!ld) {
		ret = -ENOMEM;
		goto err_buf;
	}
	if (!yaml_parser_initialize(&ld->parser)) {
		ret = -ENOMEM;
		goto err_ld;
	}
	ld->path = path;
	ld->input = buf;
	ld->input_len = len;
	ld->err = err;
	ld->err_len = err_len;
	ld->cfg = *cfg;
	snprintf(ld->key, sizeof(ld->key), CONFIG_KEY_DOCUMENT);
	yaml_parser_set_input_string(&ld->parser, (const unsigned char *)buf, len);

	ret = load_stream(ld);
	if (!ret)
		ret = load_check_orders(ld);
	if (!ret) {
		snprintf(ld->cfg.path, sizeof(ld->cfg.path), "%s", path);
		*cfg = ld->cfg;
	}

	yaml_event_delete(&ld->event);
	yaml_parser_delete(&ld->parser);
	free(ld);
	free(buf);
	return ret;

err_ld:
	free(ld);
err_buf:
	free(buf);
err_msg:
	snprintf(err, err_len, "%s: %s", path, strerror(-ret));
	return ret;
}

/*
 * HOST:PORT as getaddrinfo() takes it apart. The port is split at the last colon; an IPv6
 * literal goes in brackets so its own colons are not taken for the separator.
 */
static bool host_port_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	const char *port;
	size_t host_len;
	unsigned long v = 0;

	if (!colon)
		return false;
	host_len = (size_t)(colon - s);
	if (host_len == 0 || strpbrk(s, " \t/"))
		return false;
	if (s[0] == '[') {
		if (host_len < 3 || s[host_len - 1] != ']' || memchr(s + 1, '[', host_len - 1) ||
		    memchr(s, ']', host_len - 1))
			return false;
	} else if (memchr(s, ':', host_len) || memchr(s, '[', host_len) ||
		   memchr(s, ']', host_len)) {
		return false;
	}
	port = colon + 1;
	if (!*port || strlen(port) > 5)
		return false;
	for (const char *p = port; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v >= 1 && v <= 65535;
}

/*
 * Writes "expected ..., got '...'" into err on failure, so the YAML loader and the command
 * line can each put their own prefix (file position, or the flag) in front of it.
 */
int config_parse_output(const char *s, char *err, size_t err_len)
{
	const size_t len = strlen(s);
	const size_t sun_path_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	if (len >= CONFIG_STR_MAX) {
		expected(err, err_len, s, len, "an output of at most %d bytes", CONFIG_STR_MAX - 1);
		return -EINVAL;
	}
	if (!strcmp(s, "stdout"))
		return 0;
	if (!strncmp(s, "file:", 5)) {
		if (s[5])
			return 0;
		expected(err, err_len, s, len, "file:PATH with a non-empty PATH");
		return -EINVAL;
	}
	if (!strncmp(s, "unix:", 5)) {
		/* the path has to fit sockaddr_un.sun_path with its terminating NUL */
		if (s[5] && strlen(s + 5) <= sun_path_max)
			return 0;
		expected(err, err_len, s, len, "unix:PATH with PATH of 1..%zu bytes", sun_path_max);
		return -EINVAL;
	}
	if (!strncmp(s, "tcp:", 4)) {
		if (host_port_valid(s + 4))
			return 0;
		expected(err, err_len, s, len,
			 "tcp:HOST:PORT with PORT in 1..65535 (IPv6 HOST in brackets)");
		return -EINVAL;
	}
	expected(err, err_len, s, len, "stdout, file:PATH, tcp:HOST:PORT or unix:PATH");
	return -EINVAL;
}

static int check_metrics(const char *s, char *err, size_t err_len)
{
	if (!*s || host_port_valid(s))
		return 0;
	expected(err, err_len, s, strlen(s),
		 "HOST:PORT with PORT in 1..65535 (IPv6 HOST in brackets), or \"\" for off");
	return -EINVAL;
}

static int check_spool_dir(const char *s, char *err, size_t err_len)
{
	if (*s)
		return 0;
	expected(err, err_len, s, 0, "a directory path");
	return -EINVAL;
}

int config_parse_redact(const char *s, enum redact_mode *out)
{
	for (uint32_t i = 0; redact_names[i]; i++) {
		if (!strcmp(s, redact_names[i])) {
			*out = (enum redact_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *config_redact_name(enum redact_mode mode)
{
	if ((size_t)mode >= ARRAY_SIZE(redact_names) - 1)
		return "unknown";
	return redact_names[mode];
}
