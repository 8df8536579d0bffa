/*
 * The rule catalog: config/pii.yaml read with libyaml's document API, checked, and turned
 * into the Hyperscan databases (the anchored ones for short values: field_dbs.c).
 *
 * The file is a mapping with a few engine settings and `types:`, one mapping per PII type
 * (names as in pii_type_name()) giving its validator, confidences, word lists and patterns;
 * config/pii.yaml documents every key. The first problem stops the load with one line in
 * the project's format:
 *
 *	FILE:LINE:COL: key 'types.email.confidence': expected WHAT, got 'VALUE'
 *
 * Every repetition in a pattern must be bounded ({m,n}, ?): Hyperscan itself never
 * backtracks, but an unbounded repeat under start-of-match tracking reports every prefix of
 * a long run, so one long field of digits could cost quadratic callbacks. The loader
 * refuses `*`, `+` and `{n,}` rather than trusting every future edit of the file.
 */
#include <errno.h>
#include <libpsl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "engine.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Bigger than any rule file a person writes: a wrong path, not a catalog. */
#define RULES_FILE_MAX (4 << 20)
#define QUOTE_MAX      64

static const char *const type_names[PII_TYPE_COUNT] = {
	[PII_EMAIL] = "email",
	[PII_CREDIT_CARD] = "credit_card",
	[PII_IBAN] = "iban",
	[PII_US_SSN] = "us_ssn",
	[PII_PHONE] = "phone",
	[PII_IP_ADDRESS] = "ip_address",
	[PII_JWT] = "jwt",
	[PII_AWS_ACCESS_KEY] = "aws_access_key",
	[PII_AWS_SECRET_KEY] = "aws_secret_key",
	[PII_GITHUB_TOKEN] = "github_token",
	[PII_SLACK_TOKEN] = "slack_token",
	[PII_PRIVATE_KEY] = "private_key",
	[PII_PASSWORD] = "password",
	[PII_DATE_OF_BIRTH] = "date_of_birth",
	[PII_PERSON_NAME] = "person_name",
	[PII_ADDRESS] = "address",
};

static const char *const kind_names[PII_CTX_COUNT] = {
	[PII_CTX_SQL_INSERT] = "sql_insert", [PII_CTX_SQL_WHERE] = "sql_where",
	[PII_CTX_RESULT_ROW] = "result_row", [PII_CTX_HTTP_JSON] = "http_json",
	[PII_CTX_HTTP_QUERY] = "http_query", [PII_CTX_HTTP_HEADER] = "http_header",
	[PII_CTX_FREE_TEXT] = "free_text",   [PII_CTX_REDIS_VALUE] = "redis_value",
	[PII_CTX_CSV_ROWS] = "csv_rows",
};

const char *pii_type_name(enum pii_type t)
{
	return (unsigned)t < PII_TYPE_COUNT ? type_names[t] : NULL;
}

int pii_type_parse(const char *s, size_t len)
{
	for (int i = 0; i < PII_TYPE_COUNT; i++) {
		if (strlen(type_names[i]) == len && !memcmp(type_names[i], s, len))
			return i;
	}
	return -EINVAL;
}

const char *pii_context_kind_name(enum pii_context_kind k)
{
	return (unsigned)k < PII_CTX_COUNT ? kind_names[k] : NULL;
}

int pii_context_kind_parse(const char *s, size_t len)
{
	for (int i = 0; i < PII_CTX_COUNT; i++) {
		if (strlen(kind_names[i]) == len && !memcmp(kind_names[i], s, len))
			return i;
	}
	return -EINVAL;
}

struct load {
	const char *path;
	char *err;
	size_t err_len;
	yaml_document_t doc;
	struct pii_engine *e;
	uint32_t pattern_cap;
	char key[160]; /* "types.email.confidence": names the key in messages */
};

/* Copies s for quoting in a one-line message: control bytes escaped, long values cut. */
static void quote(char *dst, size_t dst_len, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && i < QUOTE_MAX && o + 6 < dst_len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			o += (size_t)snprintf(dst + o, dst_len - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	if (len > QUOTE_MAX && o + 4 < dst_len)
		o += (size_t)snprintf(dst + o, dst_len - o, "...");
	dst[o] = '\0';
}

static int __attribute__((format(printf, 3, 4)))
load_fail(struct load *ld, const yaml_node_t *node, const char *fmt, ...)
{
	char what[512], got[QUOTE_MAX * 4 + 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (node->type == YAML_SCALAR_NODE)
		quote(got, sizeof(got), (const char *)node->data.scalar.value,
		      node->data.scalar.length);
	else
		snprintf(got, sizeof(got), "%s",
			 node->type == YAML_MAPPING_NODE ? "{...}" : "[...]");
	snprintf(ld->err, ld->err_len, "%s:%zu:%zu: key '%s': expected %s, got '%s'", ld->path,
		 node->start_mark.line + 1, node->start_mark.column + 1, ld->key, what, got);
	return -EINVAL;
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

static int get_float(struct load *ld, const yaml_node_t *n, float lo, float hi, float *out)
{
	char *end;
	double v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0)
		return load_fail(ld, n, "a number from %.1f to %.1f", lo, hi);
	v = strtod((const char *)n->data.scalar.value, &end);
	if (*end || v < lo || v > hi)
		return load_fail(ld, n, "a number from %.1f to %.1f", lo, hi);
	*out = (float)v;
	return 0;
}

static int get_u32(struct load *ld, const yaml_node_t *n, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v;
	const char *s = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0 || s[0] == '-')
		return load_fail(ld, n, "a whole number from %u to %u", lo, hi);
	v = strtoul(s, &end, 10);
	if (*end || v < lo || v > hi)
		return load_fail(ld, n, "a whole number from %u to %u", lo, hi);
	*out = (uint32_t)v;
	return 0;
}

static int get_bool(struct load *ld, const yaml_node_t *n, bool *out)
{
	if (scalar_is(n, "true") || scalar_is(n, "yes"))
		*out = true;
	else if (scalar_is(n, "false") || scalar_is(n, "no"))
		*out = false;
	else
		return load_fail(ld, n, "true or false");
	return 0;
}

int pii_phrase_init(struct pii_phrase *p, const char *word, size_t len)
{
	char norm[PII_KEY_MAX + 1];
	size_t n = pii_key_normalize(word, len, norm, sizeof(norm)), k = 0;

	p->norm = strndup(norm, n);
	p->squash = malloc(n + 1);
	if (!p->norm || !p->squash)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (norm[i] != '_')
			p->squash[k++] = norm[i];
	}
	p->squash[k] = '\0';
	p->norm_len = (uint16_t)n;
	p->squash_len = (uint16_t)k;
	return 0;
}

static int get_phrases(struct load *ld, const yaml_node_t *n, struct pii_phrases *out)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return load_fail(ld, n, "a list of words");
	size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);

	out->v = calloc(count ? count : 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *w = yaml_document_get_node(&ld->doc, *it);
		int ret;

		if (w->type != YAML_SCALAR_NODE || w->data.scalar.length == 0 ||
		    w->data.scalar.length > PII_KEY_MAX)
			return load_fail(ld, w, "a word or phrase of 1 to %d bytes", PII_KEY_MAX);
		ret = pii_phrase_init(&out->v[out->n], (const char *)w->data.scalar.value,
				      w->data.scalar.length);
		out->n++;
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Finds the first unbounded repetition in a pattern: `*`, `+` or `{n,}` outside a character
 * class. Returns its offset, or -1 when every repetition is bounded.
 */
static long unbounded_repeat(const char *re)
{
	bool in_class = false;

	for (size_t i = 0; re[i]; i++) {
		char c = re[i];

		if (c == '\\') {
			if (re[i + 1])
				i++;
			continue;
		}
		if (in_class) {
			if (c == ']')
				in_class = false;
			continue;
		}
		if (c == '[') {
			in_class = true;
			if (re[i + 1] == '^')
				i++;
			if (re[i + 1] == ']')
				i++; /* a leading ']' is a member, not the end */
			continue;
		}
		if (c == '*' || c == '+')
			return (long)i;
		if (c == '{') {
			size_t k = i + 1;

			while (re[k] >= '0' && re[k] <= '9')
				k++;
			if (k > i + 1 && re[k] == ',' && re[k + 1] == '}')
				return (long)i;
		}
	}
	return -1;
}

static int add_pattern(struct load *ld, enum pii_type t, const yaml_node_t *re_node, uint32_t flags,
		       const yaml_node_t *needs, unsigned kinds)
{
	struct pii_engine *e = ld->e;
	struct pii_pattern *p;
	long bad;

	if (re_node->type != YAML_SCALAR_NODE || re_node->data.scalar.length == 0)
		return load_fail(ld, re_node, "a regular expression");
	bad = unbounded_repeat((const char *)re_node->data.scalar.value);
	if (bad >= 0)
		return load_fail(ld, re_node,
				 "only bounded repetition ({m,n} or ?; '*', '+' and {n,} at "
				 "offset %ld can go quadratic)",
				 bad);
	if (e->npatterns == ld->pattern_cap) {
		uint32_t cap = ld->pattern_cap ? ld->pattern_cap * 2 : 32;
		struct pii_pattern *v = realloc(e->patterns, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->patterns = v;
		ld->pattern_cap = cap;
	}
	p = &e->patterns[e->npatterns];
	p->regex = strndup((const char *)re_node->data.scalar.value, re_node->data.scalar.length);
	if (!p->regex)
		return -ENOMEM;
	p->type = t;
	p->flags = flags;
	p->kinds = (uint16_t)kinds;
	p->line = (uint32_t)re_node->start_mark.line + 1;
	p->col = (uint32_t)re_node->start_mark.column + 1;
	p->needs[0] = '\0';
	if (needs) {
		memcpy(p->needs, needs->data.scalar.value, needs->data.scalar.length);
		p->needs[needs->data.scalar.length] = '\0';
	}
	e->npatterns++;
	return 0;
}

static const char *const numeric_kind_names[PII_NUM_KINDS] = {
	[PII_NUM_RUN] = "run",
	[PII_NUM_CARD_GROUPS] = "card_groups",
	[PII_NUM_SSN_GROUPS] = "ssn_groups",
	[PII_NUM_NANP_GROUPS] = "nanp_groups",
	[PII_NUM_NATIONAL] = "national",
	[PII_NUM_INTERNATIONAL] = "international",
	[PII_NUM_DOTTED_QUAD] = "dotted_quad",
	[PII_NUM_IBAN] = "iban",
	[PII_NUM_IPV6] = "ipv6",
	[PII_NUM_HOUSE_NUMBER] = "house_number",
};

int pii_numeric_kind_parse(const char *name, size_t len)
{
	for (int k = 0; k < PII_NUM_KINDS; k++) {
		if (strlen(numeric_kind_names[k]) == len &&
		    !memcmp(numeric_kind_names[k], name, len))
			return k;
	}
	return -1;
}

/* `numeric: [card_groups, run]`: the windows (numeric.c) a pattern is scanned in. */
static int get_kinds(struct load *ld, const yaml_node_t *n, unsigned *kinds)
{
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
		int k = item->type == YAML_SCALAR_NODE
				? pii_numeric_kind_parse((const char *)item->data.scalar.value,
							 item->data.scalar.length)
				: -1;

		if (k < 0)
			return load_fail(ld, item,
					 "a kind of numeric window: run, card_groups, ssn_groups, "
					 "nanp_groups, national, international, dotted_quad, iban, "
					 "ipv6 or house_number");
		*kinds |= 1u << k;
	}
	if (*kinds == 0)
		return load_fail(ld, n, "at least one kind of numeric window, or true");
	return 0;
}

static int load_patterns(struct load *ld, enum pii_type t, const yaml_node_t *n)
{
	size_t base = strlen(ld->key);

	if (n->type != YAML_SEQUENCE_NODE)
		return load_fail(ld, n, "a list of patterns");
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
		yaml_node_t *re = NULL, *needs = NULL;
		uint32_t flags = 0;
		unsigned kinds = 0;
		int ret;

		if (item->type == YAML_SCALAR_NODE) {
			ret = add_pattern(ld, t, item, 0, NULL, 0);
			if (ret)
				return ret;
			continue;
		}
		if (item->type != YAML_MAPPING_NODE)
			return load_fail(ld, item, "a pattern or {regex: ..., keyed: ...}");
		for (yaml_node_pair_t *pr = item->data.mapping.pairs.start;
		     pr < item->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(&ld->doc, pr->key);
			yaml_node_t *v = yaml_document_get_node(&ld->doc, pr->value);
			static const struct {
				const char *name;
				uint32_t flag;
				bool invert;
			} bools[] = {{"keyed", PII_PAT_KEYED, false},
				     {"needs_context", PII_PAT_CONTEXT, false},
				     {"trigger", PII_PAT_TRIGGER, false},
				     {"field", PII_PAT_NO_FIELD, true},
				     {"text", PII_PAT_NO_TEXT, true},
				     {"numeric", PII_PAT_NUMERIC, false}};
			bool known = false;

			if (k->type != YAML_SCALAR_NODE)
				return load_fail(ld, k, "a pattern key");
			snprintf(ld->key + base, sizeof(ld->key) - base, ".%.*s",
				 (int)k->data.scalar.length, (const char *)k->data.scalar.value);
			if (scalar_is(k, "regex")) {
				re = v;
				known = true;
			}
			if (scalar_is(k, "numeric") && v->type == YAML_SEQUENCE_NODE) {
				ret = get_kinds(ld, v, &kinds);
				if (ret)
					return ret;
				flags |= PII_PAT_NUMERIC;
				known = true;
				ld->key[base] = '\0';
				continue;
			}
			if (scalar_is(k, "needs")) {
				if (v->type != YAML_SCALAR_NODE || v->data.scalar.length == 0 ||
				    v->data.scalar.length > PII_NEEDS_MAX)
					return load_fail(ld, v,
							 "from 1 to %d bytes a match holds one of",
							 PII_NEEDS_MAX);
				needs = v;
				known = true;
			}
			for (size_t i = 0; i < ARRAY_SIZE(bools); i++) {
				bool b;

				if (!scalar_is(k, bools[i].name))
					continue;
				ret = get_bool(ld, v, &b);
				if (ret)
					return ret;
				if (b != bools[i].invert)
					flags |= bools[i].flag;
				known = true;
			}
			if (!known)
				return load_fail(ld, k,
						 "regex, keyed, needs_context, trigger, field, "
						 "text, numeric "
						 "or needs");
			ld->key[base] = '\0';
		}
		if (!re)
			return load_fail(ld, item, "a mapping with regex:");
		if ((flags & PII_PAT_NUMERIC) && kinds == 0)
			kinds = PII_NUM_ALL; /* numeric: true: scanned in every window */
		ret = add_pattern(ld, t, re, flags, needs, kinds);
		if (ret)
			return ret;
	}
	return 0;
}

static int load_type(struct load *ld, enum pii_type t, const yaml_node_t *n)
{
	struct pii_rule *r = &ld->e->rules[t];
	size_t base = strlen(ld->key);
	bool have_shape = false, have_ctx = false;

	if (n->type != YAML_MAPPING_NODE)
		return load_fail(ld, n, "a mapping of validator, confidence, patterns, ...");
	r->present = true;
	r->confidence = 0.9f;
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yaml_document_get_node(&ld->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(&ld->doc, pr->value);
		int ret;

		if (k->type != YAML_SCALAR_NODE)
			return load_fail(ld, k, "a key");
		snprintf(ld->key + base, sizeof(ld->key) - base, ".%.*s",
			 (int)k->data.scalar.length, (const char *)k->data.scalar.value);
		if (scalar_is(k, "validator")) {
			int vi = v->type == YAML_SCALAR_NODE
					 ? pii_validator_parse((const char *)v->data.scalar.value,
							       v->data.scalar.length)
					 : -1;

			if (vi < 0)
				return load_fail(ld, v,
						 "a validator name (none, email, credit_card, "
						 "iban, us_ssn, phone, ...)");
			r->validator = (enum pii_validator)vi;
			ret = 0;
		} else if (scalar_is(k, "confidence")) {
			ret = get_float(ld, v, 0, 1, &r->confidence);
		} else if (scalar_is(k, "shape_confidence")) {
			ret = get_float(ld, v, 0, 1, &r->shape_confidence);
			have_shape = true;
		} else if (scalar_is(k, "context_confidence")) {
			ret = get_float(ld, v, 0, 1, &r->context_confidence);
			have_ctx = true;
		} else if (scalar_is(k, "key_value")) {
			ret = get_bool(ld, v, &r->key_value);
		} else if (scalar_is(k, "context")) {
			ret = get_phrases(ld, v, &r->context);
		} else if (scalar_is(k, "negative")) {
			ret = get_phrases(ld, v, &r->negative);
		} else if (scalar_is(k, "nearby")) {
			ret = get_phrases(ld, v, &r->nearby);
		} else if (scalar_is(k, "nearby_negative")) {
			ret = get_phrases(ld, v, &r->nearby_negative);
		} else if (scalar_is(k, "weak_context")) {
			ret = get_phrases(ld, v, &r->weak_context);
		} else if (scalar_is(k, "patterns")) {
			ret = load_patterns(ld, t, v);
		} else {
			return load_fail(ld, k,
					 "validator, confidence, shape_confidence, "
					 "context_confidence, key_value, context, negative, "
					 "weak_context, nearby, nearby_negative or patterns");
		}
		if (ret)
			return ret;
		ld->key[base] = '\0';
	}
	if (!have_shape)
		r->shape_confidence = r->confidence;
	if (!have_ctx)
		r->context_confidence = r->confidence;
	return 0;
}

/* common_words: a word list, one word per line; "" for none. */
static int load_common_words(struct load *ld, const yaml_node_t *v)
{
	char path[PATH_MAX];
	int ret;

	if (v->type != YAML_SCALAR_NODE || v->data.scalar.length >= sizeof(path))
		return load_fail(ld, v, "the path of a word list (one word per line)");
	memcpy(path, v->data.scalar.value, v->data.scalar.length);
	path[v->data.scalar.length] = '\0';
	pii_common_words_free(&ld->e->common_words);
	if (path[0] == '\0')
		return 0;
	ret = pii_common_words_load(&ld->e->common_words, path);
	if (ret == -ENOMEM)
		return ret;
	if (ret)
		return load_fail(ld, v, "a readable word list (%s; Debian's wamerican has one)",
				 strerror(-ret));
	return 0;
}

static int load_root(struct load *ld, const yaml_node_t *root)
{
	if (!root || root->type != YAML_MAPPING_NODE) {
		snprintf(ld->key, sizeof(ld->key), "(document)");
		if (!root) {
			snprintf(ld->err, ld->err_len,
				 "%s:1:1: key '(document)': expected a "
				 "mapping with types:, got an empty file",
				 ld->path);
			return -EINVAL;
		}
		return load_fail(ld, root, "a mapping with types:");
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(&ld->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(&ld->doc, pr->value);
		int ret = 0;

		if (k->type != YAML_SCALAR_NODE)
			return load_fail(ld, k, "a key");
		snprintf(ld->key, sizeof(ld->key), "%.*s", (int)k->data.scalar.length,
			 (const char *)k->data.scalar.value);
		if (scalar_is(k, "version")) {
			uint32_t ver;

			ret = get_u32(ld, v, 1, 1, &ver);
		} else if (scalar_is(k, "min_confidence")) {
			ret = get_float(ld, v, 0, 1, &ld->e->min_confidence);
		} else if (scalar_is(k, "nearby_bytes")) {
			ret = get_u32(ld, v, 0, PII_NEARBY_BYTES_MAX, &ld->e->nearby_bytes);
		} else if (scalar_is(k, "field_max")) {
			ret = get_u32(ld, v, 0, 1 << 20, &ld->e->field_max);
		} else if (scalar_is(k, "common_words")) {
			ret = load_common_words(ld, v);
		} else if (scalar_is(k, "types")) {
			if (v->type != YAML_MAPPING_NODE)
				return load_fail(ld, v, "a mapping of type names");
			for (yaml_node_pair_t *tp = v->data.mapping.pairs.start;
			     tp < v->data.mapping.pairs.top; tp++) {
				yaml_node_t *tk = yaml_document_get_node(&ld->doc, tp->key);
				yaml_node_t *tv = yaml_document_get_node(&ld->doc, tp->value);
				int t = tk->type == YAML_SCALAR_NODE
						? pii_type_parse(
							  (const char *)tk->data.scalar.value,
							  tk->data.scalar.length)
						: -EINVAL;

				snprintf(ld->key, sizeof(ld->key), "types");
				if (t < 0)
					return load_fail(ld, tk,
							 "a type name (email, credit_card, iban, "
							 "us_ssn, phone, ip_address, jwt, ...)");
				if (ld->e->rules[t].present)
					return load_fail(ld, tk, "each type once");
				snprintf(ld->key, sizeof(ld->key), "types.%s", type_names[t]);
				ret = load_type(ld, (enum pii_type)t, tv);
				if (ret)
					return ret;
			}
		} else {
			return load_fail(
				ld, k,
				"version, min_confidence, nearby_bytes, field_max, common_words or "
				"types");
		}
		if (ret)
			return ret;
	}
	return 0;
}

static void free_phrases(struct pii_phrases *p)
{
	for (uint32_t i = 0; i < p->n; i++) {
		free(p->v[i].norm);
		free(p->v[i].squash);
	}
	free(p->v);
}

void pii_engine_free(struct pii_engine *e)
{
	if (!e)
		return;
	pii_nearby_free(&e->nearby);
	pii_common_words_free(&e->common_words);
	for (int t = 0; t < PII_TYPE_COUNT; t++) {
		free_phrases(&e->rules[t].context);
		free_phrases(&e->rules[t].negative);
		free_phrases(&e->rules[t].nearby);
		free_phrases(&e->rules[t].nearby_negative);
		free_phrases(&e->rules[t].weak_context);
	}
	for (uint32_t i = 0; i < e->npatterns; i++)
		free(e->patterns[i].regex);
	free(e->patterns);
	free(e->field_ids);
	hs_free_database(e->text_db);
	hs_free_database(e->numeric_any_db);
	for (int k = 0; k < PII_NUM_KINDS; k++)
		hs_free_database(e->numeric_kind_db[k]);
	pii_field_dbs_free(e);
	hs_free_database(e->text_plain_db);
	if (e->psl_owned)
		psl_free((psl_ctx_t *)e->psl);
	free(e);
}

/*
 * Compiles the databases. The text database reports start of match (leftmost) so a
 * candidate's span is known without scanning back; the field databases anchor every
 * pattern at both ends, so a value that is not wholly one of them is rejected at its first
 * bytes, and need no start-of-match tracking at all. Nor single-match bookkeeping: a
 * pattern anchored at both ends matches a value once, and Hyperscan's per-pattern
 * "matched already" state cost 3% of a short field.
 */
static int compile(struct load *ld)
{
	struct pii_engine *e = ld->e;
	uint32_t n = e->npatterns;
	const char **exprs = calloc(n, sizeof(*exprs));
	char **owned = calloc(n, sizeof(*owned));
	unsigned *flags = calloc(n, sizeof(*flags));
	unsigned *ids = calloc(n, sizeof(*ids));
	hs_compile_error_t *cerr = NULL;
	int ret = -ENOMEM;

	e->field_ids = calloc(n ? n : 1, sizeof(*e->field_ids));
	if (!exprs || !owned || !flags || !ids || !e->field_ids)
		goto out;
	/* the text database, and the numeric ones (numeric.c), vectored so that the windows
	 * they are scanned over are one call: of the patterns that name no kind (every
	 * window), and one per kind of window */
	for (int db = -2; db < PII_NUM_KINDS; db++) {
		hs_database_t **out = db == -2	 ? &e->text_db
				      : db == -1 ? &e->numeric_any_db
						 : &e->numeric_kind_db[db];
		uint32_t ntext = 0;

		for (uint32_t i = 0; i < n; i++) {
			const struct pii_pattern *p = &e->patterns[i];
			bool numeric = p->flags & PII_PAT_NUMERIC;

			if ((p->flags & PII_PAT_NO_TEXT) || numeric != (db > -2))
				continue;
			if (db == -1
				    ? p->kinds != PII_NUM_ALL
				    : db >= 0 && (p->kinds == PII_NUM_ALL || !(p->kinds >> db & 1)))
				continue;
			exprs[ntext] = p->regex;
			flags[ntext] = HS_FLAG_SOM_LEFTMOST;
			ids[ntext] = i;
			ntext++;
		}
		if (ntext == 0) /* a rule file may have no text patterns, or no numeric ones */
			continue;
		e->numeric |= db > -2;
		if (hs_compile_multi(exprs, flags, ids, ntext,
				     db >= -1 ? HS_MODE_VECTORED : HS_MODE_BLOCK, NULL, out,
				     &cerr) != HS_SUCCESS) {
			const struct pii_pattern *p =
				&e->patterns[ids[cerr->expression >= 0 ? cerr->expression : 0]];

			snprintf(ld->err, ld->err_len,
				 "%s:%u:%u: key 'types.%s.patterns': expected a pattern Hyperscan "
				 "compiles, got '%s' (%s)",
				 ld->path, p->line, p->col, type_names[p->type], p->regex,
				 cerr->message);
			ret = -EINVAL;
			goto out;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct pii_pattern *p = &e->patterns[i];
		size_t len = strlen(p->regex) + 16;

		if (p->flags & (PII_PAT_KEYED | PII_PAT_NO_FIELD))
			continue;
		owned[e->nfield] = malloc(len);
		if (!owned[e->nfield])
			goto out;
		snprintf(owned[e->nfield], len, "^(?:%s)%s", p->regex,
			 p->flags & PII_PAT_TRIGGER ? "" : "$");
		e->field_ids[e->nfield] = i;
		e->nfield++;
	}
	/* the bytes that make a value take the anchored databases with the patterns that
	 * need one (field_dbs.c) */
	for (uint32_t k = 0; k < e->nfield; k++)
		for (const char *c = e->patterns[e->field_ids[k]].needs; *c; c++)
			e->field_byte[(uint8_t)*c] |= PII_FIELD_NEEDED;
	/* the other bytes a value's one pass looks for (scan.c): the spaces and separators
	 * that give a value parts to search inside */
	for (const char *c = " \t\n@:=%,;/&"; *c; c++)
		e->field_byte[(uint8_t)*c] |= PII_FIELD_PART;
	uint32_t bad = 0, nplain = 0;

	ret = pii_field_dbs_compile(e, (const char *const *)owned, &bad, &cerr);
	if (ret == -EINVAL) {
		const struct pii_pattern *p = &e->patterns[e->field_ids[bad]];

		snprintf(ld->err, ld->err_len,
			 "%s:%u:%u: key 'types.%s.patterns': expected a pattern Hyperscan compiles "
			 "anchored, got '%s' (%s; mark it field: false)",
			 ld->path, p->line, p->col, type_names[p->type], p->regex, cerr->message);
		goto out;
	}
	if (ret)
		goto out;
	ret = -ENOMEM;
	/* the text database less the patterns that need a byte, for the inside of a short
	 * value without any of those bytes: the patterns led by one byte ('@', '+', '(') are
	 * half of a short call's cost */
	bool needed = false;

	for (uint32_t i = 0; i < n; i++) {
		const struct pii_pattern *p = &e->patterns[i];

		if (p->flags & (PII_PAT_NO_TEXT | PII_PAT_NUMERIC))
			continue;
		if (p->needs[0]) {
			for (const char *c = p->needs; *c; c++)
				e->field_byte[(uint8_t)*c] |= PII_TEXT_NEEDED;
			needed = true;
			continue;
		}
		exprs[nplain] = p->regex;
		flags[nplain] = HS_FLAG_SOM_LEFTMOST;
		ids[nplain] = i;
		nplain++;
	}
	if (needed && nplain &&
	    hs_compile_multi(exprs, flags, ids, nplain, HS_MODE_BLOCK, NULL, &e->text_plain_db,
			     &cerr) != HS_SUCCESS) {
		snprintf(ld->err, ld->err_len, "%s: the text patterns without `needs`: %s",
			 ld->path, cerr->message);
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	if (cerr)
		hs_free_compile_error(cerr);
	for (uint32_t i = 0; i < e->nfield && owned; i++)
		free(owned[i]);
	free(owned);
	free(exprs);
	free(flags);
	free(ids);
	return ret;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *b;

	if (!f) {
		int e = errno;

		snprintf(err, err_len, "%s: %s", path, strerror(e));
		return -e;
	}
	b = malloc(cap);
	while (b) {
		size_t got = fread(b + n, 1, cap - n, f);

		n += got;
		if (n < cap)
			break;
		if (cap >= RULES_FILE_MAX) {
			snprintf(err, err_len, "%s: bigger than %d bytes: not a rule file", path,
				 RULES_FILE_MAX);
			free(b);
			fclose(f);
			return -EFBIG;
		}
		char *nb = realloc(b, cap * 2);

		if (!nb)
			free(b);
		b = nb;
		cap *= 2;
	}
	fclose(f);
	if (!b) {
		snprintf(err, err_len, "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	*buf = b;
	*len = n;
	return 0;
}

int pii_engine_load(struct pii_engine **out, const char *rules_path, char *err, size_t err_len)
{
	struct load ld = {.path = rules_path, .err = err, .err_len = err_len};
	yaml_parser_t parser;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	pii_block_classes_init();
	ret = read_file(rules_path, &buf, &len, err, err_len);
	if (ret)
		return ret;
	ld.e = calloc(1, sizeof(*ld.e));
	if (!ld.e || !yaml_parser_initialize(&parser)) {
		free(buf);
		free(ld.e);
		snprintf(err, err_len, "%s: %s", rules_path, strerror(ENOMEM));
		return -ENOMEM;
	}
	ld.e->min_confidence = 0.5f;
	ld.e->nearby_bytes = 48;
	ld.e->field_max = 256;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &ld.doc)) {
		snprintf(err, err_len,
			 "%s:%zu:%zu: key '(document)': expected valid YAML, got '%s'", rules_path,
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "error");
		yaml_parser_delete(&parser);
		free(buf);
		pii_engine_free(ld.e);
		return -EINVAL;
	}
	ret = load_root(&ld, yaml_document_get_root_node(&ld.doc));
	yaml_document_delete(&ld.doc);
	yaml_parser_delete(&parser);
	free(buf);
	if (ret == -ENOMEM)
		snprintf(err, err_len, "%s: %s", rules_path, strerror(ENOMEM));
	if (!ret && ld.e->npatterns == 0) {
		snprintf(err, err_len,
			 "%s:1:1: key 'types': expected at least one pattern, got none",
			 rules_path);
		ret = -EINVAL;
	}
	if (!ret)
		ret = compile(&ld);
	if (!ret)
		ret = pii_nearby_build(ld.e);
	if (ret == -ENOMEM)
		snprintf(err, err_len, "%s: %s", rules_path, strerror(ENOMEM));
	if (!ret) {
		ld.e->psl = psl_latest(NULL);
		ld.e->psl_owned = ld.e->psl != NULL;
		if (!ld.e->psl)
			ld.e->psl = psl_builtin();
	}
	if (ret) {
		pii_engine_free(ld.e);
		return ret;
	}
	*out = ld.e;
	return 0;
}
