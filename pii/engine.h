/*
 * The engine's own structures, shared by the rule loader (rules.c), the scanner (scan.c)
 * and the key finders (keys.c). Nothing outside pii/ includes this.
 *
 * Ownership: struct pii_engine is built by pii_engine_load() and read-only afterwards;
 * every worker reads it without locks. struct pii_scratch belongs to one worker.
 */
#ifndef WIREWATCH_PII_ENGINE_H
#define WIREWATCH_PII_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <hs/hs.h>

#include "pii.h"
#include "validate.h"

/* A word list entry, pre-normalised: lower case, words joined by '_'. */
struct pii_phrase {
	char *norm;   /* "card_number" */
	char *squash; /* "cardnumber": matches keys written without separators */
	uint16_t norm_len, squash_len;
};

struct pii_phrases {
	struct pii_phrase *v;
	uint32_t n;
};

enum pii_pattern_flags {
	PII_PAT_KEYED = 1 << 0,	   /* matches `key: ` / `key=`: the value follows the match */
	PII_PAT_CONTEXT = 1 << 1,  /* a finding only with positive context */
	PII_PAT_TRIGGER = 1 << 2,  /* matches the start; the validator finds the end */
	PII_PAT_NO_FIELD = 1 << 3, /* not in the anchored database for short fields */
	PII_PAT_NO_TEXT = 1 << 4,  /* only in the anchored database */
	PII_PAT_NUMERIC = 1 << 5,  /* searched in the numeric windows (numeric.c), not the text */
};

#define PII_NEEDS_MAX 8

/* The shapes the numeric windows are cut around (numeric.c), and the database of the
 * numeric patterns that each one hosts: a window is scanned only by its kinds' databases. */
enum pii_numeric_kind {
	PII_NUM_RUN,	       /* nine digits or more in a row */
	PII_NUM_CARD_GROUPS,   /* 4+4 or 4+6 digits joined by ' ', '-' or '+' */
	PII_NUM_SSN_GROUPS,    /* 3+2 joined by '-' or ' ' */
	PII_NUM_NANP_GROUPS,   /* 3+3 joined by ' ', '.' or '-' */
	PII_NUM_NATIONAL,      /* 0X.. then a separator and two digits or more */
	PII_NUM_INTERNATIONAL, /* 00X.. */
	PII_NUM_DOTTED_QUAD,   /* four groups of 1-3 digits joined by '.' */
	PII_NUM_IBAN,	       /* two capitals and two digits opening a word */
	PII_NUM_IPV6,	       /* eight groups of 1-4 hex digits joined by ':' */
	PII_NUM_HOUSE_NUMBER,  /* 1-6 digits, a space, then a street's words */
	PII_NUM_KINDS,
};

#define PII_NUM_ALL ((1u << PII_NUM_KINDS) - 1)
#define PII_NUM_GROUP_KINDS                                                                 \
	(1u << PII_NUM_CARD_GROUPS | 1u << PII_NUM_SSN_GROUPS | 1u << PII_NUM_NANP_GROUPS | \
	 1u << PII_NUM_NATIONAL)

/* rules.c: the kind called name (as in the rule file), or -1. */
int pii_numeric_kind_parse(const char *name, size_t len);

struct pii_pattern {
	char *regex;
	enum pii_type type;
	uint32_t flags;
	uint32_t line, col;	       /* in the rule file, for messages */
	char needs[PII_NEEDS_MAX + 1]; /* a match holds one of these bytes ("" when unsaid) */
	uint16_t kinds; /* numeric: the windows it is scanned in (PII_NUM_ALL: all) */
};

struct pii_rule {
	bool present; /* listed in the rule file */
	enum pii_validator validator;
	float confidence;	  /* validator passed with a checksum/registry (or only check) */
	float shape_confidence;	  /* validator passed on shape alone */
	float context_confidence; /* positive context: key or nearby word */
	bool key_value;		  /* a value under a context key is this type as a whole */
	struct pii_phrases context, negative, nearby, nearby_negative;
	/* keys that name the type only for a value no ordinary word is part of ("name":
	 * "Carol Brown", not "Premium Plan") */
	struct pii_phrases weak_context;
};

/* What a key or a window of text says: bit t of pos set when it names type t, of neg when
 * it rules t out, of weak when it names t weakly (a weak_context key, and nothing else
 * said). */
struct pii_keyclass {
	uint32_t pos, neg, weak;
};

#define PII_NEARBY_WORDS_MAX 4	 /* longest nearby phrase looked up, in words */
#define PII_NEARBY_BYTES_MAX 256 /* nearby_bytes at most */

/* One nearby word or phrase (normalised) and the types it speaks for and against. */
struct pii_nearby_word {
	const char *norm; /* NULL: empty slot; the text belongs to the rule's phrase */
	uint64_t hash;
	uint16_t len;
	bool longer; /* the first words of a longer phrase */
	uint32_t pos, neg;
};

struct pii_nearby_table {
	struct pii_nearby_word *slots;
	uint32_t mask;	      /* slots - 1, a power of two minus one */
	uint8_t max_words;    /* the longest phrase, in words */
	uint64_t shapes[512]; /* first and second byte % 32 and length of each entry: a filter */
};

/* words.c: a dictionary's words by hash, and in which case it lists them */
struct pii_common_slot {
	uint64_t hash; /* 0: empty */
	uint8_t seen;  /* PII_WORD_LOWER, PII_WORD_CAPITAL */
};

struct pii_common_words {
	struct pii_common_slot *slots; /* NULL: no list */
	uint32_t mask, n;
};

/* What a byte of a short value says (engine->field_byte): it is one some anchored pattern
 * needs (its `needs`), a space or separator that gives the value parts, or one some text
 * pattern needs. */
enum { PII_FIELD_NEEDED = 1, PII_FIELD_PART = 2, PII_TEXT_NEEDED = 4 };

struct pii_engine {
	struct pii_rule rules[PII_TYPE_COUNT];
	struct pii_nearby_table nearby;
	struct pii_common_words common_words; /* "Mr. Student" is no name */
	struct pii_pattern *patterns;
	uint32_t npatterns;
	uint32_t *field_ids; /* field database id -> pattern index */
	uint32_t nfield;
	hs_database_t *text_db; /* block mode, start of match, all but numeric patterns */
	/* the numeric patterns over the numeric windows, vectored: per kind those naming it,
	 * and those that name none (scanned in every window); NULL when there are none */
	hs_database_t *numeric_kind_db[PII_NUM_KINDS];
	hs_database_t *numeric_any_db;
	bool numeric; /* some pattern is numeric */
	/* field_dbs.c: block mode, anchored at both ends, for short values: by the value's
	 * first byte, of the patterns that can begin with it, [1] all of them, [0] less those
	 * with `needs` (for a value without a needed byte); NULL: none begins so */
	const hs_database_t *field_by_first[256][2];
	hs_database_t **field_dbs; /* the distinct ones, owned */
	uint32_t nfield_dbs;
	hs_database_t *text_plain_db; /* the text database less patterns with `needs` */
	uint8_t field_byte[256]; /* byte -> PII_FIELD_NEEDED, _PART, PII_TEXT_NEEDED (scan.c) */
	const struct psl_ctx_st *psl;
	bool psl_owned;
	float min_confidence;
	uint32_t nearby_bytes;
	uint32_t field_max; /* values up to this long use the anchored database first */
};

/* A value in the scanned text and the key it sits under (a view into text or the caller's). */
struct pii_span {
	uint32_t start, end;
	const char *key;
	uint32_t key_len;
	bool quoted;
};

struct pii_cand {
	uint32_t start, end;
	uint32_t pattern; /* index into engine->patterns, or UINT32_MAX for key-value checks */
	enum pii_type type;
	bool quoted;
};

#define PII_DECODE_MAX	   16384 /* query strings and forms decoded up to this length */
#define PII_SPANS_MAX	   2048
#define PII_CANDS_MAX	   4096
#define PII_KEYCACHE_SLOTS 512 /* power of two */
#define PII_KEY_MAX	   96  /* longer keys are classified by their first bytes */

struct pii_keycache_slot {
	uint64_t hash; /* 0: empty */
	struct pii_keyclass cls;
};

/* One numeric window: text[raw, raw + len) copied to out[out, out + len), '\n' after, and
 * the kinds of trigger it holds. */
struct pii_window {
	uint32_t raw, out, len;
	uint16_t kinds;
};

#define PII_WINDOWS_MAX 2048
#define PII_WINDOWS_OUT 65536

/* The numeric windows of one text, cut a batch at a time (numeric.c). */
struct pii_windows {
	const uint8_t *text;
	size_t len, pos;
	size_t open_start, open_end; /* the window still growing */
	size_t colons_done;	     /* the end of the last IPv6 run taken */
	unsigned open_kinds;	     /* the open window's kinds */
	struct pii_window v[PII_WINDOWS_MAX];
	uint32_t n;
	unsigned kinds; /* of all the batch's windows */
	uint8_t out[PII_WINDOWS_OUT];
	size_t out_len;
	/* one database's windows as Hyperscan's vector, where each starts in it, and the
	 * one of the last match (the next is mostly the same or the one after) */
	const char *vec_ptr[PII_WINDOWS_MAX];
	unsigned vec_len[PII_WINDOWS_MAX];
	uint32_t vec_win[PII_WINDOWS_MAX], vec_off[PII_WINDOWS_MAX];
	uint32_t vec_n, vec_hint;
};

/* blocks.c: the classes of 64 bytes, a bit per byte. */
struct pii_block_classes {
	uint64_t digit, word, upper, colon, lower, high; /* word: [A-Za-z0-9_] */
};

/* blocks.c: picks the widest SIMD the CPU has (once; pii_engine_load() calls it). */
void pii_block_classes_init(void);
/* blocks.c: the classes of q[0, n), n at most 64 (bytes past n read as NULs: none). */
void pii_block_classes(const uint8_t *q, size_t n, struct pii_block_classes *c);
/* blocks.c: the first ':' or '=' in p[i, len) (a `key: value` or `key=value`), or len. */
size_t pii_find_pair_mark(const uint8_t *p, size_t i, size_t len);
/* blocks.c: makes the two above use "avx512bw", "avx2", "sse2" or "bytes" (one at a
 * time, for the tests); -1 when the CPU has not got it. */
int pii_block_classes_use(const char *isa);

/* field_dbs.c: compiles engine->field_by_first from the anchored field patterns
 * (exprs[k] is field id k's), deduplicated; on a Hyperscan error sets *bad to the field id
 * it names and *cerr, and returns -EINVAL (-ENOMEM when out of memory). */
int pii_field_dbs_compile(struct pii_engine *e, const char *const *exprs, uint32_t *bad,
			  hs_compile_error_t **cerr);
void pii_field_dbs_free(struct pii_engine *e);

/* numeric.c: starts cutting the windows of text. */
void pii_windows_begin(struct pii_windows *ws, const uint8_t *text, size_t len);
/* numeric.c: cuts the next batch into ws->v and ws->out (ws->n may be 0); false when the
 * text is done and there is no batch. */
bool pii_windows_next(struct pii_windows *ws);
/* numeric.c: scans the batch's windows, each with the databases of its kinds (and the one
 * of patterns with no kind); fn gets each match at its offsets in the text. A pattern
 * naming two kinds may be reported twice for a window holding both. Returns 0, or 1 when
 * fn stopped it. */
int pii_windows_scan(const struct pii_engine *e, hs_scratch_t *hs, struct pii_windows *ws,
		     match_event_handler fn, void *ctx);

/* Where pii_sql_param_keys() writes what it finds (keys point into the statement). */
struct pii_param_keys {
	const char **keys;
	uint32_t *lens;
	uint32_t max;
	uint32_t seen; /* '?' placeholders so far: the next one's index */
	bool dollar;   /* $1, $2 (PostgreSQL) rather than ? (MySQL) */
};

struct pii_scratch {
	const struct pii_engine *engine;
	hs_scratch_t *hs;
	struct pii_span spans[PII_SPANS_MAX]; /* in order of start once found */
	uint32_t spans_reach[PII_SPANS_MAX];  /* the furthest end of spans[0..i] */
	uint32_t nspans;
	struct pii_cand cands[PII_CANDS_MAX];
	uint32_t ncands;
	bool overflow;
	struct pii_finding found[PII_CANDS_MAX];
	uint32_t nfound;
	/* the column classification memory: a column seen once is one hash lookup after */
	struct pii_keycache_slot keycache[PII_KEYCACHE_SLOTS];
	struct pii_psl_memo psl; /* the engine's list and what it said of recent domains */
	uint64_t truncated;
	/* the text being scanned, for the Hyperscan callbacks */
	const uint8_t *text;
	size_t len;
	enum pii_context_kind kind;
	struct pii_param_keys *params; /* set only inside pii_sql_param_keys() */
	/* a percent-decoded query string and where its escapes were (decoded offsets) */
	uint8_t decoded[PII_DECODE_MAX];
	uint32_t escapes[PII_DECODE_MAX / 3 + 1];
	uint32_t nescapes;
	struct pii_windows windows; /* the numeric windows of the text being scanned */
};

/* keys.c: fills s->spans with the values of text and their keys, by kind. */
void pii_spans_find(struct pii_scratch *s, enum pii_context_kind kind, const char *key,
		    size_t key_len, const uint8_t *text, size_t len);

/* keys.c: lower-cases and splits a key (camelCase, snake_case, paths) into words joined by
 * '_'; returns the length written to out (at most cap - 1, NUL-terminated). */
size_t pii_key_normalize(const char *key, size_t len, char *out, size_t cap);

/* keys.c: does the normalised key contain phrase p (at word boundaries or squashed)? */
bool pii_phrase_match(const char *norm, size_t norm_len, const struct pii_phrase *p);

/* words.c: loads a word list (one per line); 0 or -errno. */
int pii_common_words_load(struct pii_common_words *cw, const char *path);
void pii_common_words_free(struct pii_common_words *cw);
/* words.c: how the list has w (ASCII letters): PII_WORD_LOWER, PII_WORD_CAPITAL, both or
 * neither (0). A common word is one it has only in lower case ("student", not "Young"). */
enum { PII_WORD_LOWER = 1, PII_WORD_CAPITAL = 2 };
unsigned pii_word_listed(const struct pii_common_words *cw, const uint8_t *w, size_t n);
static inline bool pii_common_word(const struct pii_common_words *cw, const uint8_t *w, size_t n)
{
	return pii_word_listed(cw, w, n) == PII_WORD_LOWER;
}

/* nearby.c: the nearby-word table from every rule's nearby and nearby_negative words. */
int pii_nearby_build(struct pii_engine *e);
void pii_nearby_free(struct pii_nearby_table *t);
/* nearby.c: the types the words of text[0..len) speak for (pos) and against (neg). */
struct pii_keyclass pii_nearby_classify(const struct pii_engine *e, const uint8_t *text,
					size_t len);

/* percent.c: decodes %XX (but not %26, %3D, %25) and '+' into out (len bytes at most);
 * escapes gets the decoded offset of each %XX. Returns the decoded length. */
size_t pii_percent_decode(const uint8_t *in, size_t len, uint8_t *out, uint32_t *escapes,
			  uint32_t *nescapes);
/* percent.c: the raw offset of decoded offset off. */
uint32_t pii_percent_raw_offset(const uint32_t *escapes, uint32_t n, uint32_t off);

/* rules.c: builds a phrase from a word in the rule file. */
int pii_phrase_init(struct pii_phrase *p, const char *word, size_t len);

#endif
