/*
 * The PII and secrets engine: finds personal data and credentials in the values that
 * parsers hand over (query text, bind parameters, result cells, HTTP bodies, headers,
 * Redis values) and says where they are, what they are and how sure it is.
 *
 * How it works: config/pii.yaml lists, per type, Hyperscan patterns, a validator written
 * in C (Luhn, mod 97, CRC32, public suffix list, ...), the key or column names that make a
 * value likely to be that type (context) or not (negative context), and base confidences.
 * pii_engine_load() compiles the Hyperscan databases once: block-mode ones for text (a
 * statement, a body, a log line; the digit-led patterns over its numeric windows only) and
 * anchored ones for short fields (one value per column or parameter, one database per
 * first byte). A scan finds candidates with Hyperscan, works out the key each
 * candidate sits under (INSERT column lists, `col = 'literal'`, JSON keys, query-string
 * names, or the column the caller passed), validates, scores and reports what clears the
 * configured minimum confidence.
 *
 * Threads: the engine is read-only after load and shared by every worker; each worker owns
 * one pii_scratch (Hyperscan scratch, candidate arrays, the column-class cache) and never
 * shares it.
 */
#ifndef WIREWATCH_PII_H
#define WIREWATCH_PII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The type names of the record's `pii` array; pii_type_name() gives the spelling. */
enum pii_type {
	PII_EMAIL,
	PII_CREDIT_CARD,
	PII_IBAN,
	PII_US_SSN,
	PII_PHONE,
	PII_IP_ADDRESS,
	PII_JWT,
	PII_AWS_ACCESS_KEY,
	PII_AWS_SECRET_KEY,
	PII_GITHUB_TOKEN,
	PII_SLACK_TOKEN,
	PII_PRIVATE_KEY,
	PII_PASSWORD,
	PII_DATE_OF_BIRTH,
	PII_PERSON_NAME,
	PII_ADDRESS,
	PII_TYPE_COUNT,
};

/* Where a value was seen: decides how the key of each candidate is found. */
enum pii_context_kind {
	PII_CTX_SQL_INSERT,  /* an INSERT statement (column list gives the keys), or one value */
	PII_CTX_SQL_WHERE,   /* a statement with `col = 'literal'` comparisons, or one value */
	PII_CTX_RESULT_ROW,  /* one result cell; the key is its column name */
	PII_CTX_HTTP_JSON,   /* a JSON body (member names are keys), or one value under a path */
	PII_CTX_HTTP_QUERY,  /* a query string or form body: name=value&... */
	PII_CTX_HTTP_HEADER, /* one header value; the key is the header name */
	PII_CTX_FREE_TEXT,   /* prose, logs: only nearby words and `key: value` pairs */
	PII_CTX_REDIS_VALUE, /* a Redis value; the key is the Redis key */
	PII_CTX_CSV_ROWS,    /* rows of a CSV export; the key is its header line (not in text) */
	PII_CTX_COUNT,
};

struct pii_finding {
	enum pii_type type;
	uint32_t start, end; /* byte offsets into the scanned text, end exclusive */
	float confidence;    /* 0..1 */
	/* the key the value sits under when the finding is that whole value (an INSERT's
	 * column, `col = '...'`, a JSON member, a query-string name, `key: value`), else
	 * NULL: points into the text, the caller's column_or_key or (a percent-decoded
	 * query string) the scratch, valid only during the callback */
	const char *key;
	uint32_t key_len;
};

/*
 * Called once per finding, in order of start offset. The finding is valid only during the
 * call. A non-zero return stops the scan.
 */
typedef int (*pii_finding_fn)(const struct pii_finding *f, void *arg);

struct pii_engine;
struct pii_scratch;

/*
 * Loads the rule catalog and compiles its databases. On failure returns -errno and writes
 * one line "FILE:LINE:COL: what was expected, got what" to err.
 */
int pii_engine_load(struct pii_engine **e, const char *rules_path, char *err, size_t err_len);
void pii_engine_free(struct pii_engine *e);

/* Per worker thread; NULL with errno set on failure. */
struct pii_scratch *pii_scratch_new(const struct pii_engine *e);
/* What one scratch takes (a worker's, besides Hyperscan's own scratch), for memory caps. */
size_t pii_scratch_bytes(void);
void pii_scratch_free(struct pii_scratch *s);

/*
 * Scans text seen in a context of `kind`, under the key column_or_key (a column name, JSON
 * path, header name, Redis key; NULL or empty when there is none). Returns the number of
 * findings reported (>= 0), or -errno (-EINVAL for a bad kind, -EOVERFLOW for text over
 * 4 GiB). Texts with more candidates than the scratch holds are scanned in part; the
 * truncation is counted in pii_scratch_truncated().
 */
int pii_scan(const struct pii_engine *e, struct pii_scratch *s, enum pii_context_kind kind,
	     const char *column_or_key, size_t column_len, const uint8_t *text, size_t len,
	     pii_finding_fn cb, void *arg);

/*
 * The length of text's header line, its line end included, when text is a CSV export
 * (a header line of two or more names and one separator, ',' ';' or tab, and rows of as
 * many fields, RFC 4180 quoting; the last row may be cut short), else 0. The rules are
 * those by which a free-text scan keys a CSV's fields by their columns. A body scanned in
 * windows keeps this line and scans the windows after the first as PII_CTX_CSV_ROWS with
 * it as the key, so their fields are judged under their columns too.
 */
size_t pii_csv_header(const uint8_t *text, size_t len);

/*
 * The columns a prepared statement's placeholders stand for, so that bind parameters are
 * judged under their column: `email = $2`, `WHERE name LIKE ?`, `INSERT INTO t (a, b)
 * VALUES (?, ?)`. dollar: PostgreSQL's $1, $2 (else MySQL's ?, numbered in order).
 * keys[i] is set for parameter i (0-based) to a view into sql, or NULL with key_lens[i] 0;
 * parameters from max on are not named. Returns 0.
 */
int pii_sql_param_keys(struct pii_scratch *s, const uint8_t *sql, size_t len, bool dollar,
		       const char **keys, uint32_t *key_lens, uint32_t max);

/* Scans whose candidates did not all fit in the scratch (kept, never silent). */
uint64_t pii_scratch_truncated(const struct pii_scratch *s);

/*
 * Writes the masked form of a value of type t into out (always NUL-terminated when
 * out_len > 0): `j***@e***.com`, `****-****-****-1111`, `***-**-6789`. Secrets keep at most
 * their public prefix (`AKIA****`, `ghp_****`). Returns the length written, without the NUL.
 */
size_t pii_mask(enum pii_type t, const uint8_t *v, size_t len, char *out, size_t out_len);

/* "email", "credit_card", ...; NULL for a value out of range. */
const char *pii_type_name(enum pii_type t);
/* The type named by s[0..len), or -EINVAL. */
int pii_type_parse(const char *s, size_t len);

/* "sql_insert", ...; NULL for a value out of range. */
const char *pii_context_kind_name(enum pii_context_kind k);
int pii_context_kind_parse(const char *s, size_t len);

/* Default rule file of `wirewatch pii-scan` when --config is not given. */
#define PII_RULES_DEFAULT "config/pii.yaml"

/*
 * `wirewatch pii-scan [--config FILE]` (DESIGN section 4): argv[0] is "pii-scan". Reads
 * JSON lines on stdin, writes one JSON line per finding on stdout. Returns the exit code:
 * 0 every line parsed, 1 some line was malformed (named on stderr, skipped), 2 bad usage or
 * rule file.
 */
int pii_scan_main(int argc, char **argv);

#endif
