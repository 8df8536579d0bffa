/*
 * The PII engine end to end with config/pii.yaml: each context kind finds its keys (INSERT
 * column lists, `col = 'x'`, JSON members, query parameters, headers, Redis keys), negative
 * context suppresses checksum-valid values in ID columns, overlapping candidates resolve to
 * one finding, masking hides values, and rule-file errors name FILE:LINE:COL. A CSV export's
 * header is recognised (pii_csv_header) and its rows keyed by it when it is given apart.
 * Run from the repository root (tests/run.sh does).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pii/pii.h"
#include "tests/lib/pii_rules_text.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
	struct pii_engine *e;
	struct pii_scratch *s;
};

struct found {
	struct pii_finding f[32];
	int n;
};

static int collect(const struct pii_finding *f, void *arg)
{
	struct found *out = arg;

	if (out->n < (int)ARRAY_SIZE(out->f))
		out->f[out->n++] = *f;
	return 0;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx || pii_engine_load_shipped(&fx->e))
		return -1;
	fx->s = pii_scratch_new(fx->e);
	*state = fx;
	return fx->s ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	pii_scratch_free(fx->s);
	pii_engine_free(fx->e);
	free(fx);
	return 0;
}

struct scan_vec {
	enum pii_context_kind kind;
	const char *column;
	const char *text;
	const char *want_type; /* NULL: no finding at all */
	const char *want_value;
};

static const struct scan_vec scan_vecs[] = {
	/* INSERT column lists name VALUES by position, across rows */
	{PII_CTX_SQL_INSERT, NULL,
	 "INSERT INTO u (id, email, note) VALUES (1, 'a.b@example.com', 'x'), (2, 'c@d.org', 'y')",
	 "email", "a.b@example.com"},
	{PII_CTX_SQL_INSERT, NULL,
	 "INSERT INTO u (id, password, status) VALUES (7, 'S3cr3t!pw', 'active')", "password",
	 "S3cr3t!pw"},
	{PII_CTX_SQL_INSERT, NULL,
	 "INSERT INTO orders (order_id, qty) VALUES ('4111111111111111', 2)", NULL, NULL},
	{PII_CTX_SQL_INSERT, NULL, "INSERT INTO users (dob) VALUES ('1985-03-02')", "date_of_birth",
	 "1985-03-02"},
	{PII_CTX_SQL_INSERT, NULL, "INSERT INTO users (created_at) VALUES ('1985-03-02')", NULL,
	 NULL},
	/* WHERE / SET / IN */
	{PII_CTX_SQL_WHERE, NULL, "SELECT * FROM u WHERE u.\"ssn\" = '536228726' LIMIT 1", "us_ssn",
	 "536228726"},
	{PII_CTX_SQL_WHERE, NULL, "UPDATE u SET passwd = 'hunter2', updated = now() WHERE id = 3",
	 "password", "hunter2"},
	{PII_CTX_SQL_WHERE, NULL, "SELECT 1 FROM t WHERE phone IN ('4155552671', '2125550123')",
	 "phone", "4155552671"},
	{PII_CTX_SQL_WHERE, NULL, "SELECT 1 FROM t WHERE order_ref = '4155552671'", NULL, NULL},
	/* one value under its column */
	{PII_CTX_RESULT_ROW, "card_number", "4111111111111111", "credit_card", "4111111111111111"},
	{PII_CTX_RESULT_ROW, "order_id", "4111111111111111", NULL, NULL},
	{PII_CTX_RESULT_ROW, "tracking_number", "5555555555554444", NULL, NULL},
	{PII_CTX_RESULT_ROW, "customerEmail", "j@example.com", "email", "j@example.com"},
	{PII_CTX_RESULT_ROW, "firstName", "Jane", "person_name", "Jane"},
	{PII_CTX_RESULT_ROW, "product_name", "Ergonomic Granite Chair", NULL, NULL},
	{PII_CTX_RESULT_ROW, "password_hash",
	 "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO", NULL, NULL},
	{PII_CTX_RESULT_ROW, "notes", "call me on (415) 555-2671 after 5", "phone",
	 "(415) 555-2671"},
	{PII_CTX_RESULT_ROW, "version", "10.2.3.4", NULL, NULL},
	{PII_CTX_RESULT_ROW, "ssn", "000-12-3456", NULL, NULL},
	{PII_CTX_RESULT_ROW, "iban", "DE89370400440532013001", NULL, NULL},
	{PII_CTX_RESULT_ROW, "shipping_address", "7462 Jeffery Valley Apt. 339", "address",
	 "7462 Jeffery Valley Apt. 339"},
	{PII_CTX_RESULT_ROW, "email_address", "7462 Jeffery Valley", NULL, NULL},
	/* JSON members and arrays */
	{PII_CTX_HTTP_JSON, NULL, "{\"user\":{\"emails\":[\"x@example.org\"],\"id\":42}}", "email",
	 "x@example.org"},
	{PII_CTX_HTTP_JSON, NULL,
	 "{\"aws_secret_access_key\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"}",
	 "aws_secret_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	{PII_CTX_HTTP_JSON, NULL, "{\"etag\": \"da39a3ee5e6b4b0d3255bfef95601890afd80709\"}", NULL,
	 NULL},
	{PII_CTX_HTTP_JSON, "$.customer.ssn", "536-22-8726", "us_ssn", "536-22-8726"},
	/* query strings, headers, Redis */
	{PII_CTX_HTTP_QUERY, NULL, "/login?user=john%40example.com&page=2", "email",
	 "john%40example.com"},
	{PII_CTX_HTTP_HEADER, "Authorization",
	 "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "jwt",
	 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"},
	{PII_CTX_HTTP_HEADER, "User-Agent", "Mozilla/5.0 Chrome/120.0.6099.71 Safari/537.36", NULL,
	 NULL},
	{PII_CTX_REDIS_VALUE, "user:42:phone", "+44 20 7946 0958", "phone", "+44 20 7946 0958"},
	/* free text: nearby words, key: value pairs, negative words */
	{PII_CTX_FREE_TEXT, NULL, "login from 203.0.113.7 failed", "ip_address", "203.0.113.7"},
	{PII_CTX_FREE_TEXT, NULL, "upgraded to version 1.2.3.4 today", NULL, NULL},
	{PII_CTX_FREE_TEXT, NULL, "Order 4111111111111111 shipped", NULL, NULL},
	{PII_CTX_FREE_TEXT, NULL, "paid with card 4111 1111 1111 1111 ok", "credit_card",
	 "4111 1111 1111 1111"},
	{PII_CTX_FREE_TEXT, NULL, "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "aws_access_key",
	 "AKIAIOSFODNN7EXAMPLE"},
	{PII_CTX_FREE_TEXT, NULL, "db password: hunter2 (rotate)", "password", "hunter2"},
	{PII_CTX_FREE_TEXT, NULL, "request 123e4567-e89b-12d3-a456-426614174000 took 12ms", NULL,
	 NULL},
	{PII_CTX_FREE_TEXT, NULL, "mail icon@2x.png from build@ci.local", NULL, NULL},
};

static void test_scan_contexts(void **state)
{
	struct fixture *fx = *state;

	for (size_t i = 0; i < ARRAY_SIZE(scan_vecs); i++) {
		const struct scan_vec *v = &scan_vecs[i];
		struct found out = {0};
		int n = pii_scan(fx->e, fx->s, v->kind, v->column,
				 v->column ? strlen(v->column) : 0, (const uint8_t *)v->text,
				 strlen(v->text), collect, &out);
		bool ok = false;

		assert_int_equal(n, out.n);
		if (!v->want_type) {
			if (out.n)
				fail_msg("'%s' [%s]: want nothing, got %s '%.*s'", v->text,
					 pii_context_kind_name(v->kind),
					 pii_type_name(out.f[0].type),
					 (int)(out.f[0].end - out.f[0].start),
					 v->text + out.f[0].start);
			continue;
		}
		for (int k = 0; k < out.n; k++) {
			const struct pii_finding *f = &out.f[k];

			ok = ok || (!strcmp(pii_type_name(f->type), v->want_type) &&
				    f->end - f->start == strlen(v->want_value) &&
				    !memcmp(v->text + f->start, v->want_value, f->end - f->start) &&
				    f->confidence >= 0.5f && f->confidence <= 1.0f);
		}
		if (!ok)
			fail_msg("'%s' [%s]: want %s '%s', got %d findings%s%s", v->text,
				 pii_context_kind_name(v->kind), v->want_type, v->want_value, out.n,
				 out.n ? ", first " : "",
				 out.n ? pii_type_name(out.f[0].type) : "");
	}
}

static void test_scan_order_and_overlap(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = "to a@example.com, card 4111111111111111, ssn 536-22-8726";
	struct found out = {0};

	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)text, strlen(text),
		 collect, &out);
	assert_int_equal(out.n, 3);
	assert_int_equal(out.f[0].type, PII_EMAIL);
	assert_int_equal(out.f[1].type, PII_CREDIT_CARD); /* not also a phone number */
	assert_int_equal(out.f[2].type, PII_US_SSN);
	for (int i = 1; i < out.n; i++)
		assert_true(out.f[i - 1].end <= out.f[i].start);
}

static int stop_after_one(const struct pii_finding *f, void *arg)
{
	(void)f;
	++*(int *)arg;
	return 1;
}

static void test_scan_edges(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = "a@example.com b@example.com";
	int calls = 0;
	char *big;

	assert_int_equal(
		pii_scan(fx->e, fx->s, PII_CTX_COUNT, NULL, 0, (const uint8_t *)"x", 1, NULL, NULL),
		-EINVAL);
	assert_int_equal(pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, NULL, 0, NULL, NULL),
			 0);
	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)text, strlen(text),
		 stop_after_one, &calls);
	assert_int_equal(calls, 1);
	/* a long run of digits and separators: bounded patterns keep it linear and it ends */
	big = malloc(1 << 20);
	assert_non_null(big);
	for (size_t i = 0; i < (1 << 20); i++)
		big[i] = "4111 1111-"[i % 10];
	assert_true(pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)big,
			     1 << 20, NULL, NULL) >= 0);
	free(big);
}

static void test_column_memory(void **state)
{
	struct fixture *fx = *state;

	/* the same column many times, interleaved with others: always the same answer */
	for (int i = 0; i < 2000; i++) {
		char col[32];
		struct found out = {0};

		snprintf(col, sizeof(col), i % 2 ? "card_number" : "order_id_%d", i);
		pii_scan(fx->e, fx->s, PII_CTX_RESULT_ROW, col, strlen(col),
			 (const uint8_t *)"4111111111111111", 16, collect, &out);
		assert_int_equal(out.n, i % 2 ? 1 : 0);
	}
}

static bool key_is(const struct pii_finding *f, const char *key)
{
	if (!key)
		return f->key == NULL && f->key_len == 0;
	return f->key && f->key_len == strlen(key) && !memcmp(f->key, key, f->key_len);
}

/* A finding names the key it is the whole value of, and only that one. */
static void test_finding_keys(void **state)
{
	struct fixture *fx = *state;
	const char *ins = "INSERT INTO users (name, \"contactEmail\", phone) VALUES "
			  "('x', 'jane.doe@example.com', '+1 415 555 2671')";
	const char *json = "{\"user\": {\"email\": \"jane.doe@example.com\"}, \"note\": "
			   "\"write to bob@example.com soon\"}";
	const char *text = "auth: failed login for jane.doe@example.com from 203.0.113.7";
	struct found out = {0};

	pii_scan(fx->e, fx->s, PII_CTX_SQL_INSERT, NULL, 0, (const uint8_t *)ins, strlen(ins),
		 collect, &out);
	assert_int_equal(out.n, 2);
	assert_true(key_is(&out.f[0], "contactEmail"));
	assert_true(key_is(&out.f[1], "phone"));
	out.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_HTTP_JSON, NULL, 0, (const uint8_t *)json, strlen(json),
		 collect, &out);
	assert_int_equal(out.n, 2);
	assert_true(key_is(&out.f[0], "email"));
	assert_true(key_is(&out.f[1], NULL)); /* inside a longer note: not the note's value */
	out.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)text, strlen(text),
		 collect, &out);
	assert_int_equal(out.n, 2);
	assert_true(key_is(&out.f[0], NULL));
	out.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_RESULT_ROW, "email", 5,
		 (const uint8_t *)"jane.doe@example.com", 20, collect, &out);
	assert_int_equal(out.n, 1);
	assert_true(key_is(&out.f[0], "email"));
}

/* Placeholders take the column they are compared with or inserted into. */
static void test_param_keys(void **state)
{
	struct fixture *fx = *state;
	const char *pg = "SELECT id FROM t WHERE a.email = $2 AND id > $1 AND name ILIKE $3 "
			 "AND data ? 'k' AND tag IN ($4, $5)";
	const char *my = "INSERT INTO customers (email, `name`, score) VALUES (?, ?, 42) "
			 "ON DUPLICATE KEY UPDATE phone = ?";
	const char *keys[8];
	uint32_t lens[8];

	pii_sql_param_keys(fx->s, (const uint8_t *)pg, strlen(pg), true, keys, lens, 8);
	assert_true(keys[0] && lens[0] == 2 && !memcmp(keys[0], "id", 2));
	assert_true(keys[1] && lens[1] == 5 && !memcmp(keys[1], "email", 5));
	assert_true(keys[2] && lens[2] == 4 && !memcmp(keys[2], "name", 4));
	assert_true(keys[3] && lens[3] == 3 && !memcmp(keys[3], "tag", 3));
	assert_true(keys[4] && lens[4] == 3 && !memcmp(keys[4], "tag", 3));
	assert_null(keys[5]);
	pii_sql_param_keys(fx->s, (const uint8_t *)my, strlen(my), false, keys, lens, 8);
	assert_true(keys[0] && lens[0] == 5 && !memcmp(keys[0], "email", 5));
	assert_true(keys[1] && lens[1] == 4 && !memcmp(keys[1], "name", 4));
	assert_true(keys[2] && lens[2] == 5 && !memcmp(keys[2], "phone", 5));
	assert_null(keys[3]);
	/* only max parameters are named */
	pii_sql_param_keys(fx->s, (const uint8_t *)my, strlen(my), false, keys, lens, 1);
	assert_true(keys[0] && lens[0] == 5);
}

/* In SQL a keyed prompt takes quoted literals only: a column on the right is no value. */
static void test_sql_keyed(void **state)
{
	struct fixture *fx = *state;
	const char *upsert = "INSERT INTO u (id, password) VALUES (1, 'x8#kP2mQ') ON CONFLICT "
			     "(id) DO UPDATE SET password = EXCLUDED.password";
	const char *fr = "UPDATE users SET mot_de_passe = 'Falcon4056#' WHERE id = 3";
	const char *lowered = "SELECT id FROM kyc WHERE lower(\"street\") = lower('Slavica-Hornig-"
			      "Ring 42\n03126 Hildburghausen') AND deleted_at IS NULL";
	struct found out = {0};

	pii_scan(fx->e, fx->s, PII_CTX_SQL_INSERT, NULL, 0, (const uint8_t *)upsert, strlen(upsert),
		 collect, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.f[0].type, PII_PASSWORD);
	assert_true(key_is(&out.f[0], "password"));
	out.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_SQL_WHERE, NULL, 0, (const uint8_t *)fr, strlen(fr), collect,
		 &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.f[0].type, PII_PASSWORD);
	/* functions around the column and the value: still the street column's value */
	out.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_SQL_WHERE, NULL, 0, (const uint8_t *)lowered,
		 strlen(lowered), collect, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.f[0].type, PII_ADDRESS);
	assert_true(key_is(&out.f[0], "street"));
}

/* Under an address key, addresses in any country's format, and streets named by their
 * kind without a number; a town alone, or words, are not one, nor is a MAC address under
 * a hardware-address key. */
static void test_address_keyed(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *column, *value;
		int want;
	} t[] = {
		{"shipping_address", "Gutestr. 219, 45245 Regensburg", 1},
		{"adresse", "45, avenue de Bernier", 1},
		{"home_address", "Flat 7\nBibi island\nOwenhaven\nDT0E 7TA", 1},
		{"street", "Jaydahof 9", 1},
		/* a street without its number, named by its kind */
		{"address", "avenue Chevallier", 1},
		{"direccion", "Calle de Alcalá", 1},
		{"mailing_address", "Hans-Rainer-Gotthard-Straße", 1},
		{"address", "Berlin", 0},
		{"address", "same place as billing", 0},
		{"address", "Main Street, Springfield", 1},
		{"address", "Stanford University", 0},
		{"address", "see ticket", 0},
		{"address", "2024-05-01", 0},
		{"hw_addr", "5a:d3:f9:fa:36:b1", 0},
		{"email_address", "jane@example.com", 0}, /* an email, not an address */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct found out = {0};
		int n = 0;

		pii_scan(fx->e, fx->s, PII_CTX_RESULT_ROW, t[i].column, strlen(t[i].column),
			 (const uint8_t *)t[i].value, strlen(t[i].value), collect, &out);
		for (int k = 0; k < out.n; k++)
			n += out.f[k].type == PII_ADDRESS;
		if (n != t[i].want)
			fail_msg("%s = '%s': %d addresses, want %d", t[i].column, t[i].value, n,
				 t[i].want);
	}
}

/* A bare "name" names a person weakly: two words or more, none of them an ordinary word
 * ("Carol Brown", not a product, a plan or a metric); a stronger key decides alone. */
static void test_weak_name_key(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		enum pii_context_kind kind;
		const char *column, *value;
		int want;
	} t[] = {
		{PII_CTX_RESULT_ROW, "name", "Carol Brown", 1},
		{PII_CTX_RESULT_ROW, "nombre", "Loredana Mancini", 1},
		{PII_CTX_HTTP_JSON, NULL, "{\"id\": 7, \"name\": \"Wayne Barker\"}", 1},
		{PII_CTX_RESULT_ROW, "name", "Carol", 0},
		{PII_CTX_RESULT_ROW, "name", "Premium Plan", 0},
		{PII_CTX_RESULT_ROW, "name", "Ergonomic Granite Hat", 0},
		{PII_CTX_RESULT_ROW, "name", "db.latency", 0},
		{PII_CTX_RESULT_ROW, "city_name", "San Francisco", 0}, /* "city" rules it out */
		{PII_CTX_HTTP_JSON, NULL, "{\"name\": \"Unbranded Ceramic Towels\"}", 0},
		{PII_CTX_RESULT_ROW, "first_name", "Grace", 1}, /* a strong key: one word will do */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct found out = {0};
		int n = 0;

		pii_scan(fx->e, fx->s, t[i].kind, t[i].column,
			 t[i].column ? strlen(t[i].column) : 0, (const uint8_t *)t[i].value,
			 strlen(t[i].value), collect, &out);
		for (int k = 0; k < out.n; k++)
			n += out.f[k].type == PII_PERSON_NAME;
		if (n != t[i].want)
			fail_msg("%s = '%s': %d names, want %d", t[i].column ? t[i].column : "-",
				 t[i].value, n, t[i].want);
	}
}

/* A CSV export: each field is judged, whole, under its header's name. */
static void test_csv(void **state)
{
	struct fixture *fx = *state;
	const char *csv = "id,contact_name,login_password,order_ref\n"
			  "7,Levi van Dijk,Falcon4056#,4111111111111111\n"
			  "8,\"Doe, Jane\",\"hunter2, really\",5\n";
	const char *prose = "id,name is what we call it, said nobody\nsee you";
	const char *street = "id,address,tenant_id\n6835959,Filiz-Huhn-Platz 62,136\n";
	struct found out = {0};
	int names = 0, passwords = 0;

	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)csv, strlen(csv),
		 collect, &out);
	for (int i = 0; i < out.n; i++) {
		assert_int_not_equal(out.f[i].type, PII_CREDIT_CARD); /* an order_ref */
		names += out.f[i].type == PII_PERSON_NAME && key_is(&out.f[i], "contact_name");
		passwords += out.f[i].type == PII_PASSWORD && key_is(&out.f[i], "login_password");
	}
	assert_int_equal(names, 1); /* "Doe, Jane" is not a name's shape */
	assert_int_equal(passwords, 2);
	/* a field is the whole value under its column, as a quoted string is: an address in
	 * any country's format, not only the number-first one a pattern finds in prose */
	out.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)street, strlen(street),
		 collect, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.f[0].type, PII_ADDRESS);
	assert_true(key_is(&out.f[0], "address"));
	assert_int_equal(out.f[0].start, strlen("id,address,tenant_id\n6835959,"));
	assert_int_equal(out.f[0].end, out.f[0].start + strlen("Filiz-Huhn-Platz 62"));
	out.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)prose, strlen(prose),
		 collect, &out);
	assert_int_equal(out.n, 0);
}

/* What pii_csv_header takes for a CSV export, and what not. */
static void test_csv_header(void **state)
{
	static const struct {
		const char *text;
		size_t header;
	} cases[] = {
		{"id,contact_name,order_ref\n7,Levi van Dijk,4111111111111111\n", 26},
		{"a,b\r\n1,2\r\n", 5},		     /* RFC 4180 line ends */
		{"a\tb\tc\n1\t2\t3\n", 6},	     /* tab-separated */
		{"a;b\n\"x;y\";2\n", 4},	     /* a quoted field holds the separator */
		{"a,b\n\"two\nlines\",2\n3,4\n", 4}, /* and line ends */
		{"a,b,c\n1,2,3\n4,", 6},	     /* the last row cut short (a window's end) */
		{"a,b\n", 4},			     /* a header flushed alone */
		{"a,b", 0},			     /* no line end: perhaps not all of it */
		{"id\n1\n2\n", 0},		     /* one column */
		{"a,b\n1,2,3\n4,5\n", 0},	     /* a row that does not fit */
		{"a,b;c\n1,2;3\n", 0},		     /* two separators */
		{"1a,b\n1,2\n", 0},		     /* a name starts with no digit */
		{"id,name is what we call it, said nobody\nsee you", 0},
		{"{\"a\":1,\"b\":2}\n", 0},
		{"", 0},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		/* a buffer of exactly the text: the sanitizer build sees any over-read */
		size_t len = strlen(cases[i].text);
		uint8_t *exact = malloc(len ? len : 1);
		size_t n;

		assert_non_null(exact);
		memcpy(exact, cases[i].text, len);
		n = pii_csv_header(exact, len);
		free(exact);
		if (n != cases[i].header)
			fail_msg("'%s': header of %zu bytes, expected %zu", cases[i].text, n,
				 cases[i].header);
	}
	assert_int_equal(pii_csv_header(NULL, 0), 0);
}

/*
 * Rows whose header line is given as the key (a later window of a CSV body): the same
 * findings, keyed by the same names, as the rows have in the whole CSV, the keys pointing
 * into the caller's header; a window that starts inside a row keys its first row from the
 * end; a row that does not fit is not keyed.
 */
static void test_csv_rows(void **state)
{
	struct fixture *fx = *state;
	const char *csv =
		"id,contact_name,login_password,order_ref,email\r\n"
		"7,Levi van Dijk,Falcon4056#,4111111111111111,levi@example.com\r\n"
		"8,Anna de Vries,\"hunter2, really\",5500005555555559,anna@example.org\r\n";
	char header[64];
	size_t hl = pii_csv_header((const uint8_t *)csv, strlen(csv));
	const char *rows = csv + hl;
	struct found whole = {0}, part = {0};
	int names = 0;

	assert_int_equal(hl, 48);
	memcpy(header, csv, hl);
	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)csv, strlen(csv),
		 collect, &whole);
	pii_scan(fx->e, fx->s, PII_CTX_CSV_ROWS, header, hl, (const uint8_t *)rows, strlen(rows),
		 collect, &part);
	assert_true(part.n >= 6);
	assert_int_equal(part.n, whole.n);
	for (int i = 0; i < part.n; i++) {
		const struct pii_finding *p = &part.f[i], *w = &whole.f[i];

		assert_int_equal(p->type, w->type);
		assert_int_equal(p->start + hl, w->start);
		assert_int_equal(p->end + hl, w->end);
		assert_true(p->confidence == w->confidence);
		assert_int_equal(p->key_len, w->key_len);
		if (p->key) {
			assert_true(p->key >= header && p->key + p->key_len <= header + hl);
			assert_memory_equal(p->key, w->key, p->key_len);
		}
		assert_int_not_equal(p->type, PII_CREDIT_CARD); /* order_ref */
		names += p->type == PII_PERSON_NAME && key_is(p, "contact_name");
	}
	assert_int_equal(names, 2);

	/* without its header the same rows are text: an order_ref passes for a card */
	part.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)rows, strlen(rows),
		 collect, &part);
	names = 0;
	for (int i = 0; i < part.n; i++)
		names += part.f[i].type == PII_CREDIT_CARD;
	assert_true(names > 0);

	/* a window cut inside a row (a chunk's end): its first fields are the row's last
	 * columns, a row that does not fit has no keys, the last row keys what it has */
	{
		const char *cut = "n Dijk,Falcon4056#,4111111111111111,levi@example.com\n"
				  "9,Levi van Dijk,oops,4111111111111111,x,levi@example.net\n"
				  "10,Anna de Vries,Tulip77!x,5500005555555559";
		const char *misfit = strstr(cut, "4111111111111111,x");
		int passwords = 0, emails = 0, keyed_names = 0, cards = 0;

		part.n = 0;
		pii_scan(fx->e, fx->s, PII_CTX_CSV_ROWS, header, hl, (const uint8_t *)cut,
			 strlen(cut), collect, &part);
		for (int i = 0; i < part.n; i++) {
			const struct pii_finding *f = &part.f[i];

			/* only the misfit row's order_ref is a card: nothing names its column */
			if (f->type == PII_CREDIT_CARD) {
				assert_int_equal(f->start, misfit - cut);
				cards++;
			}
			passwords += f->type == PII_PASSWORD && key_is(f, "login_password");
			emails += f->type == PII_EMAIL;
			keyed_names += f->type == PII_PERSON_NAME && key_is(f, "contact_name");
		}
		assert_int_equal(passwords, 2); /* of rows 7 and 10: not "oops" of the misfit */
		assert_int_equal(emails, 2);	/* keyed or not, the emails are there */
		assert_int_equal(keyed_names, 1);
		assert_int_equal(cards, 1);
	}

	/* a key that is no header line: the text is scanned as free text */
	part.n = 0;
	assert_true(pii_scan(fx->e, fx->s, PII_CTX_CSV_ROWS, "not a header", 12,
			     (const uint8_t *)"mail a@example.com", 18, collect, &part) == 1);
	assert_int_equal(part.f[0].type, PII_EMAIL);
}

/* A query string is scanned decoded and reported at its raw offsets. */
static void test_percent_encoded(void **state)
{
	struct fixture *fx = *state;
	const char *q = "/signup?customer_name=Cornelia%20de%20Haas&tel=%2B34%20482%2052%2043"
			"%2080&next=%2Fhome%3Fa%3Db";
	struct found out = {0};

	pii_scan(fx->e, fx->s, PII_CTX_HTTP_QUERY, NULL, 0, (const uint8_t *)q, strlen(q), collect,
		 &out);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.f[0].type, PII_PERSON_NAME);
	assert_int_equal(out.f[0].end - out.f[0].start, strlen("Cornelia%20de%20Haas"));
	assert_memory_equal(q + out.f[0].start, "Cornelia%20de%20Haas",
			    out.f[0].end - out.f[0].start);
	assert_int_equal(out.f[1].type, PII_PHONE);
	assert_memory_equal(q + out.f[1].start, "%2B34%20482%2052%2043%2080",
			    out.f[1].end - out.f[1].start);
	assert_true(key_is(&out.f[1], "tel"));
}

/* Words just before a value: for ("call") and against ("order") its type. */
static void test_nearby_words(void **state)
{
	struct fixture *fx = *state;
	const char *call = "please call 0171 5551234 tomorrow";
	const char *order = "your order 0171 5551234 shipped";
	struct found out = {0};

	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)call, strlen(call),
		 collect, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.f[0].type, PII_PHONE);
	out.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)order, strlen(order),
		 collect, &out);
	assert_int_equal(out.n, 0);
}

/* Scans text as free text and checks its findings of type t: exactly want (the text found),
 * or none when want is NULL. */
static void assert_text_finds(void **state, enum pii_type t, const char *text, const char *want)
{
	struct fixture *fx = *state;
	struct found out = {0};
	int n = 0;

	pii_scan(fx->e, fx->s, PII_CTX_FREE_TEXT, NULL, 0, (const uint8_t *)text, strlen(text),
		 collect, &out);
	for (int k = 0; k < out.n; k++) {
		if (out.f[k].type != t)
			continue;
		n++;
		if (!want || out.f[k].end - out.f[k].start != strlen(want) ||
		    memcmp(text + out.f[k].start, want, strlen(want)))
			fail_msg("'%s': found '%.*s', want '%s'", text,
				 (int)(out.f[k].end - out.f[k].start), text + out.f[k].start,
				 want ? want : "(none)");
	}
	if (n != (want ? 1 : 0))
		fail_msg("'%s': %d findings of %s, want %d", text, n, pii_type_name(t),
			 want ? 1 : 0);
}

/* After a title or greeting, words the dictionary has only in lower case are no name;
 * surnames it lists capitalised, and names it does not know, still are. A mail header's
 * display name is a name when the address follows it. */
static void test_common_words(void **state)
{
	static const struct {
		const char *text;
		const char *name; /* NULL: no person */
	} t[] = {
		{"remember quickly Mr. Foreign provide your industry", NULL},
		{"Remain follow those Mr. Student lose that matter", NULL},
		{"Dear Valued Customer, your order shipped", NULL},
		{"the file was sent to Mr. Young yesterday", "Young"},
		{"the file was sent to Mrs. Rose Baker yesterday", "Rose Baker"},
		{"Dear Jessica, your order shipped", "Jessica"},
		{"ask Dr. Dietrich about it", "Dietrich"},
		/* an address header's display name, only with the address after it */
		{"To: Jessica Wood <mireia@yahoo.com>\nSubject: invoice", "Jessica Wood"},
		{"Reply-To: \"Lotte Bos\" <michael@paffrath.de>", "Lotte Bos"},
		{"forwarded to: Production Support, ticket 42", NULL},
		/* a sign-off names its writer */
		{"thanks again.\nKind regards,\nÉdith Tanguy", "Édith Tanguy"},
		{"Regards, the support team", NULL},
		{"INFO billing: Signed by Adella Ebert yesterday", "Adella Ebert"},
		{"Fix the parser.\n\nSigned-off-by: Jane Doe <jane@example.com>", "Jane Doe"},
		{"Signed by System Administrator", NULL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		assert_text_finds(state, PII_PERSON_NAME, t[i].text, t[i].name);
}

/* PHP sessions in Redis: each value judged under its own name, in PHP's serialized form
 * and in the bare name|value; form. */
static void test_php_session(void **state)
{
	struct fixture *fx = *state;
	static const char serialized[] =
		"login_ok|b:1;user|a:2:{s:2:\"id\";i:7;s:4:\"role\";s:5:\"admin\";}"
		"contact_email|s:17:\"jane@example.com;\";pwd|s:8:\"hunter22\";";
	static const char bare[] = "plan|team;PASSWORD|_wRq@zT_yeIjPhcba03;street|Gutestr. 219\n"
				   "45245 Regensburg;count|i:3;";
	struct found out = {0};

	/* the email's value holds a ';': only its length says where it ends */
	pii_scan(fx->e, fx->s, PII_CTX_REDIS_VALUE, "PHPREDIS_SESSION:abc", 20,
		 (const uint8_t *)serialized, strlen(serialized), collect, &out);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.f[0].type, PII_EMAIL);
	assert_int_equal(out.f[0].key_len, strlen("contact_email"));
	assert_int_equal(out.f[1].type, PII_PASSWORD);
	assert_memory_equal(serialized + out.f[1].start, "hunter22", 8);
	out.n = 0;
	pii_scan(fx->e, fx->s, PII_CTX_REDIS_VALUE, "PHPSESSID:1e60", 14, (const uint8_t *)bare,
		 strlen(bare), collect, &out);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.f[0].type, PII_PASSWORD);
	assert_memory_equal(bare + out.f[0].start, "_wRq@zT_yeIjPhcba03", 19);
	assert_int_equal(out.f[1].type, PII_ADDRESS);
	assert_int_equal(out.f[1].end - out.f[1].start, strlen("Gutestr. 219\n45245 Regensburg"));
}

/* A NANP number in parentheses is matched from its '(' in text; the country code before
 * and the extension after are still its, and a longer run of digits is no such number. */
static void test_nanp_parentheses(void **state)
{
	static const struct {
		const char *text, *phone;
	} t[] = {
		{"call +1 (415) 555-2671 x12 today", "+1 (415) 555-2671 x12"},
		{"call 1-(415) 555-2671 ext. 9 today", "1-(415) 555-2671 ext. 9"},
		{"call (415)555-2671, thanks", "(415)555-2671"},
		{"ref (415) 555-26710 today", NULL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		assert_text_finds(state, PII_PHONE, t[i].text, t[i].phone);
}

/* The anchored database leaves the email pattern out for cells without '@' or '%' (its
 * `needs`): cells that are wholly an email are still found, '@' or "%40" alike, and the
 * others find none. */
static void test_field_needs(void **state)
{
	static const struct {
		const char *value;
		int emails;
	} t[] = {
		{"jane.doe@example.com", 1},
		{"jane.doe%40example.com", 1},
		{"3f1c2a9e-8d7b-4c1e-9a2f-0b6d5e4c3a21", 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct fixture *fx = *state;
		struct found out = {0};
		int emails = 0;

		pii_scan(fx->e, fx->s, PII_CTX_RESULT_ROW, "contact_email", 13,
			 (const uint8_t *)t[i].value, strlen(t[i].value), collect, &out);
		for (int k = 0; k < out.n; k++)
			emails += out.f[k].type == PII_EMAIL;
		if (emails != t[i].emails)
			fail_msg("'%s': %d emails", t[i].value, emails);
	}
}

/* Inside a short value, the text database without the patterns that need '@', '%', '+' or
 * '(' serves a value without any of them; one with them gets the whole database. Both
 * find what is inside. */
static void test_field_inside(void **state)
{
	static const struct {
		const char *value;
		enum pii_type type;
	} t[] = {
		{"password=hunter2x! for the staging box", PII_PASSWORD}, /* none: plain */
		{"call 415-555-2671 after lunch", PII_PHONE},		  /* none: windows */
		{"call (415) 555-2671 after lunch", PII_PHONE},		  /* '(' */
		{"call +44 20 7946 0958 after lunch", PII_PHONE},	  /* '+' */
		{"write to jane.doe@example.com today", PII_EMAIL},	  /* '@' */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct fixture *fx = *state;
		struct found out = {0};
		int hits = 0;

		pii_scan(fx->e, fx->s, PII_CTX_RESULT_ROW, "notes", 5, (const uint8_t *)t[i].value,
			 strlen(t[i].value), collect, &out);
		for (int k = 0; k < out.n; k++)
			hits += out.f[k].type == t[i].type;
		if (hits != 1)
			fail_msg("'%s': %d findings of type %s", t[i].value, hits,
				 pii_type_name(t[i].type));
	}
}

/* A Luhn-valid number in no issuer's range is a card only where a key or word says so. */
static void test_card_unknown_issuer(void **state)
{
	static const struct {
		enum pii_context_kind kind;
		const char *column, *text;
		int cards;
	} t[] = {
		{PII_CTX_RESULT_ROW, "card_number", "3505366133682475", 1},
		{PII_CTX_FREE_TEXT, NULL, "declined: card 3505 3661 3368 2475 exp 09/27", 1},
		{PII_CTX_FREE_TEXT, NULL, "batch 3505366133682475 processed", 0},
		{PII_CTX_RESULT_ROW, "order_id", "3505366133682475", 0},
		{PII_CTX_RESULT_ROW, "order_id", "4111111111111111", 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct fixture *fx = *state;
		struct found out = {0};
		int cards = 0;

		pii_scan(fx->e, fx->s, t[i].kind, t[i].column,
			 t[i].column ? strlen(t[i].column) : 0, (const uint8_t *)t[i].text,
			 strlen(t[i].text), collect, &out);
		for (int k = 0; k < out.n; k++)
			cards += out.f[k].type == PII_CREDIT_CARD;
		if (cards != t[i].cards)
			fail_msg("'%s': %d cards, want %d", t[i].text, cards, t[i].cards);
	}
}

/* In a log line, the rest of the line after an address prompt is an address when it ends
 * with a number (a house number, a postcode and town); when prose goes on after it, the
 * address is the street and the town parts before the prose; a sentence is none. */
static void test_address_prompt_in_text(void **state)
{
	static const struct {
		const char *text, *address;
	} t[] = {
		{"May 22 16:35:57 worker3 billing[22158]: Address: Piazza Giuliani 886",
		 "Piazza Giuliani 886"},
		{"INFO [main] Ship to: Camino Natalia Benavente 26\nnext line",
		 "Camino Natalia Benavente 26"},
		{"msg=\"Lieferadresse: Fliegnerstr. 1, 16790 Marktheidenfeld\"",
		 "Fliegnerstr. 1, 16790 Marktheidenfeld"},
		{"Address: see the attached form for the details", NULL},
		{"Address: The customer asked, again, for a refund", NULL},
		/* a line that goes on after the address: the address, not the sentence */
		{"Address: Rotonda Domiziano 8 Left several church how.", "Rotonda Domiziano 8"},
		{"indirizzo: Viale Elio 11, San Cassiopea veneto, 20246 Trieste (TN) Weight civil "
		 "dog.",
		 "Viale Elio 11, San Cassiopea veneto, 20246 Trieste (TN)"},
		{"INFO Address: 2 Davies drives, Leonburgh, ML0M 5NA Condition inside treatment "
		 "couple.",
		 "2 Davies drives, Leonburgh, ML0M 5NA"},
		{"adresse de livraison : 1, avenue de Mary", "1, avenue de Mary"},
		{"Address: 220 Walker branch is where it went", "220 Walker branch"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		assert_text_finds(state, PII_ADDRESS, t[i].text, t[i].address);
}

/* Other countries' street lines in prose, after a word that says address: from the
 * street's start to where prose goes on; without such a word, none. */
static void test_address_streets_in_prose(void **state)
{
	static const struct {
		const char *text, *address;
	} t[] = {
		{"INFO deliver to 73, rue Alphonse Hamel, 65233 Caron (leave at door) Culture "
		 "blood",
		 "73, rue Alphonse Hamel, 65233 Caron"},
		{"moved to Gutestr. 219, 45245 Regensburg last spring",
		 "Gutestr. 219, 45245 Regensburg"},
		{"deliver to Dexstraat 306 (leave at door)", "Dexstraat 306"},
		{"msg=\"moved to Rotonda Joey 4, Settimo Italo ligure, 69653 Rimini (VA) last "
		 "spring\"",
		 "Rotonda Joey 4, Settimo Italo ligure, 69653 Rimini (VA)"},
		{"moved to Avenida Mónica Viñas 743 Apt. 76 last spring",
		 "Avenida Mónica Viñas 743 Apt. 76"},
		{"Via Roma 12 is where the old office was", NULL},  /* no word says address */
		{"deliver the Spring 2 release to QA", NULL},	    /* no street */
		{"shipped via Plaza 3 and the rest by road", NULL}, /* "Plaza 3": no street */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		assert_text_finds(state, PII_ADDRESS, t[i].text, t[i].address);
}

static void test_mask(void **state)
{
	static const struct {
		enum pii_type t;
		const char *v, *want;
	} t[] = {
		{PII_EMAIL, "john@example.com", "j***@e***.com"},
		{PII_CREDIT_CARD, "4111 1111 1111 1111", "****-****-****-1111"},
		{PII_CREDIT_CARD, "378282246310005", "****-****-****-0005"},
		{PII_US_SSN, "536-22-8726", "***-**-8726"},
		{PII_PHONE, "(415) 555-2671", "(***) ***-**71"},
		{PII_IBAN, "DE89370400440532013000", "DE****************3000"},
		{PII_IP_ADDRESS, "203.0.113.7", "203.0.*.*"},
		{PII_AWS_ACCESS_KEY, "AKIAIOSFODNN7EXAMPLE", "AKIA****"},
		{PII_PASSWORD, "hunter2", "********"},
		{PII_PASSWORD, "a much longer passphrase", "********"},
		{PII_PERSON_NAME, "Jane Doe", "J*** D***"},
		{PII_DATE_OF_BIRTH, "1985-03-02", "****-**-**"},
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		size_t n =
			pii_mask(t[i].t, (const uint8_t *)t[i].v, strlen(t[i].v), out, sizeof(out));

		assert_int_equal(n, strlen(out));
		if (strcmp(out, t[i].want))
			fail_msg("mask %s '%s': got '%s', want '%s'", pii_type_name(t[i].t), t[i].v,
				 out, t[i].want);
	}
	/* a small buffer truncates and stays terminated */
	assert_int_equal(pii_mask(PII_EMAIL, (const uint8_t *)"john@example.com", 16, out, 4), 3);
	assert_string_equal(out, "j**");
}

/* Loads rule text that must fail; returns the error line after the file's name. */
static const char *load_error(const char *yaml, char *err, size_t err_len)
{
	struct pii_engine *e = NULL;

	assert_true(pii_engine_load_text(&e, yaml, err, err_len) < 0);
	assert_null(e);
	return strchr(err, ':') ? strchr(err, ':') + 1 : err; /* after the temp path */
}

static void test_rule_errors(void **state)
{
	static const struct {
		const char *yaml, *want;
	} t[] = {
		{"types:\n  email:\n    patterns: ['a+@b']\n",
		 "3:16: key 'types.email.patterns': expected only bounded repetition"},
		{"types:\n  email:\n    patterns: ['[a-z]{2,}@x']\n",
		 "3:16: key 'types.email.patterns': expected only bounded repetition"},
		{"types:\n  mail:\n    patterns: ['x']\n",
		 "2:3: key 'types': expected a type name"},
		{"types:\n  email:\n    confidence: 1.5\n    patterns: ['x']\n",
		 "3:17: key 'types.email.confidence': expected a number from 0.0 to 1.0, got "
		 "'1.5'"},
		{"types:\n  email:\n    validator: luhn\n",
		 "3:16: key 'types.email.validator': expected a validator name"},
		{"types:\n  email:\n    patterns: ['(unclosed']\n",
		 "3:16: key 'types.email.patterns': expected a pattern Hyperscan compiles"},
		{"types:\n  email:\n    patterns: [{regex: 'x', keyd: true}]\n",
		 "3:29: key 'types.email.patterns.keyd': expected regex, keyed"},
		{"types: [\n", "2:1: key '(document)': expected valid YAML"},
		{"min_confidence: high\n", "1:17: key 'min_confidence': expected a number"},
		{"types:\n  email:\n    patterns: [{regex: 'x', needs: '123456789'}]\n",
		 "3:36: key 'types.email.patterns.needs': expected from 1 to 8 bytes"},
		{"types:\n  email:\n    patterns: [{regex: '\\d{9}', numeric: [run, digits]}]\n",
		 "3:48: key 'types.email.patterns.numeric': expected a kind of numeric window: "
		 "run, card_groups"},
		{"types:\n  email:\n    patterns: [{regex: '\\d{9}', numeric: []}]\n",
		 "3:42: key 'types.email.patterns.numeric': expected at least one kind"},
		{"common_words: /nonexistent/words\n",
		 "1:15: key 'common_words': expected a readable word list (No such file"},
		{"", "1:1: key '(document)': expected a mapping with types:"},
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		const char *got = load_error(t[i].yaml, err, sizeof(err));

		if (strncmp(got, t[i].want, strlen(t[i].want)))
			fail_msg("rule file %zu: got '%s', want '%s...'", i, got, t[i].want);
	}
	assert_int_equal(pii_engine_load(&(struct pii_engine *){NULL}, "/nonexistent/pii.yaml", err,
					 sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/pii.yaml"));
}

static void test_names(void **state)
{
	(void)state;
	for (int t = 0; t < PII_TYPE_COUNT; t++)
		assert_int_equal(pii_type_parse(pii_type_name(t), strlen(pii_type_name(t))), t);
	for (int k = 0; k < PII_CTX_COUNT; k++)
		assert_int_equal(pii_context_kind_parse(pii_context_kind_name(k),
							strlen(pii_context_kind_name(k))),
				 k);
	assert_int_equal(pii_type_parse("mail", 4), -EINVAL);
	assert_null(pii_type_name(PII_TYPE_COUNT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_contexts),
		cmocka_unit_test(test_scan_order_and_overlap),
		cmocka_unit_test(test_scan_edges),
		cmocka_unit_test(test_column_memory),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_finding_keys),
		cmocka_unit_test(test_param_keys),
		cmocka_unit_test(test_nearby_words),
		cmocka_unit_test(test_common_words),
		cmocka_unit_test(test_php_session),
		cmocka_unit_test(test_nanp_parentheses),
		cmocka_unit_test(test_card_unknown_issuer),
		cmocka_unit_test(test_field_needs),
		cmocka_unit_test(test_field_inside),
		cmocka_unit_test(test_address_prompt_in_text),
		cmocka_unit_test(test_address_streets_in_prose),
		cmocka_unit_test(test_sql_keyed),
		cmocka_unit_test(test_address_keyed),
		cmocka_unit_test(test_weak_name_key),
		cmocka_unit_test(test_percent_encoded),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_csv_header),
		cmocka_unit_test(test_csv_rows),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
