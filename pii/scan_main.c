/*
 * `wirewatch pii-scan [--config FILE]` (DESIGN section 4): the engine alone over labelled
 * text, for data audits and for measuring precision and recall (tests/pii/evaluate.py).
 *
 * stdin, one JSON object per line:
 *	{"id": ..., "context": {"kind": "sql_insert|...", "column": NAME|null, "path": PATH|null},
 *	 "text": "..."}
 * stdout, one line per finding, byte offsets into the decoded text:
 *	{"id": ..., "type": "email", "start": 10, "end": 26, "confidence": 0.99}
 *
 * Input is parsed with jansson (members other than these are ignored, so a labelled corpus
 * can be piped in as it is). A malformed line is named on stderr with its line number and
 * skipped; the exit code then says 1. Blank lines are skipped silently.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finding_json.h"
#include "pii.h"

#define EXIT_BAD_LINE 1
#define EXIT_USAGE    2

struct emit_ctx {
	struct pii_line_id id;
	char *buf;
	size_t cap;
};

static int on_finding(const struct pii_finding *f, void *arg)
{
	struct emit_ctx *c = arg;
	size_t n = pii_finding_json(c->buf, c->cap, &c->id, f);

	fwrite(c->buf, 1, n, stdout);
	return 0;
}

/* Reads an optional string-or-null member; -1 when it is something else. */
static int opt_string(const json_t *obj, const char *name, const char **s, size_t *len)
{
	const json_t *v = json_object_get(obj, name);

	*s = NULL;
	*len = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

static int scan_line(const struct pii_engine *e, struct pii_scratch *s, const char *line,
		     size_t len, unsigned long lineno, struct emit_ctx *ec)
{
	json_error_t jerr;
	json_t *root = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
	const json_t *id, *ctx, *kind, *text;
	const char *column, *path, *key;
	size_t column_len, path_len, key_len, need;
	int k, ret = -1;

	if (!root) {
		fprintf(stderr,
			"wirewatch pii-scan: stdin:%lu:%d: expected a JSON object, got "
			"invalid JSON (%s)\n",
			lineno, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		fprintf(stderr, "wirewatch pii-scan: stdin:%lu: expected a JSON object\n", lineno);
		goto out;
	}
	id = json_object_get(root, "id");
	ctx = json_object_get(root, "context");
	text = json_object_get(root, "text");
	if (!id || !(json_is_string(id) || json_is_integer(id))) {
		fprintf(stderr,
			"wirewatch pii-scan: stdin:%lu: expected \"id\" as a string or "
			"integer\n",
			lineno);
		goto out;
	}
	if (!json_is_object(ctx) || !json_is_string(kind = json_object_get(ctx, "kind"))) {
		fprintf(stderr,
			"wirewatch pii-scan: stdin:%lu: expected \"context\": {\"kind\": "
			"...}\n",
			lineno);
		goto out;
	}
	k = pii_context_kind_parse(json_string_value(kind), json_string_length(kind));
	if (k < 0) {
		fprintf(stderr,
			"wirewatch pii-scan: stdin:%lu: context.kind: expected sql_insert, "
			"sql_where, result_row, http_json, http_query, http_header, free_text, "
			"redis_value or csv_rows, got '%.64s'\n",
			lineno, json_string_value(kind));
		goto out;
	}
	if (opt_string(ctx, "column", &column, &column_len) ||
	    opt_string(ctx, "path", &path, &path_len)) {
		fprintf(stderr,
			"wirewatch pii-scan: stdin:%lu: context.column and context.path: "
			"expected a string or null\n",
			lineno);
		goto out;
	}
	if (!json_is_string(text)) {
		fprintf(stderr, "wirewatch pii-scan: stdin:%lu: expected \"text\" as a string\n",
			lineno);
		goto out;
	}
	key = column ? column : path;
	key_len = column ? column_len : path_len;
	ec->id.str = json_is_string(id) ? json_string_value(id) : NULL;
	ec->id.len = json_is_string(id) ? json_string_length(id) : 0;
	ec->id.num = json_is_integer(id) ? (int64_t)json_integer_value(id) : 0;
	need = pii_finding_json_max(&ec->id);
	if (need > ec->cap) {
		char *b = realloc(ec->buf, need);

		if (!b) {
			fprintf(stderr, "wirewatch pii-scan: stdin:%lu: %s\n", lineno,
				strerror(ENOMEM));
			goto out;
		}
		ec->buf = b;
		ec->cap = need;
	}
	if (pii_scan(e, s, (enum pii_context_kind)k, key, key_len,
		     (const uint8_t *)json_string_value(text), json_string_length(text), on_finding,
		     ec) < 0) {
		fprintf(stderr, "wirewatch pii-scan: stdin:%lu: text too long to scan\n", lineno);
		goto out;
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

static const char usage[] =
	"usage: wirewatch pii-scan [--config FILE] < lines > findings\n"
	"  -c, --config FILE  PII rule catalog (default " PII_RULES_DEFAULT ")\n";

int pii_scan_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *rules = PII_RULES_DEFAULT;
	struct pii_engine *e;
	struct pii_scratch *s;
	struct emit_ctx ec = {0};
	char err[1024];
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0, bad = 0;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			rules = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "wirewatch pii-scan: unexpected argument '%s'\n%s", argv[optind],
			usage);
		return EXIT_USAGE;
	}
	if (pii_engine_load(&e, rules, err, sizeof(err)) < 0) {
		fprintf(stderr, "wirewatch pii-scan: %s\n", err);
		return EXIT_USAGE;
	}
	s = pii_scratch_new(e);
	if (!s) {
		fprintf(stderr, "wirewatch pii-scan: scratch: %s\n", strerror(errno));
		pii_engine_free(e);
		return EXIT_BAD_LINE;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (strspn(line, " \t") >= len)
			continue;
		if (scan_line(e, s, line, len, lineno, &ec))
			bad++;
	}
	fflush(stdout);
	if (pii_scratch_truncated(s))
		fprintf(stderr,
			"wirewatch pii-scan: %llu texts had more candidates than one scan "
			"holds and were scanned in part\n",
			(unsigned long long)pii_scratch_truncated(s));
	if (bad)
		fprintf(stderr, "wirewatch pii-scan: %lu of %lu lines malformed and skipped\n", bad,
			lineno);
	free(line);
	free(ec.buf);
	pii_scratch_free(s);
	pii_engine_free(e);
	return bad ? EXIT_BAD_LINE : 0;
}
