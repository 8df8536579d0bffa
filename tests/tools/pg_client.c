/*
 * A PostgreSQL client on libpq (the real client library) for the tests: the extended
 * protocol with a named prepared statement, text and binary parameters, an error inside
 * a pipeline, and several Execute messages pipelined before one Sync.
 *   pg_client "host=127.0.0.1 port=N user=app password=... dbname=shop"
 * Prints what it did; exits non-zero when the server did not answer as expected.
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(PGconn *c, const char *what)
{
	fprintf(stderr, "pg_client: %s: %s\n", what, PQerrorMessage(c));
	PQfinish(c);
	return 1;
}

static int expect(PGconn *c, PGresult *r, ExecStatusType want, const char *what)
{
	ExecStatusType got = PQresultStatus(r);

	PQclear(r);
	if (got != want) {
		fprintf(stderr, "pg_client: %s: %s\n", what, PQresStatus(got));
		return -1;
	}
	(void)c;
	return 0;
}

int main(int argc, char **argv)
{
	PGconn *c = PQconnectdb(argc > 1 ? argv[1] : "");
	const char *text_params[2] = {"1", "jane.doe@example.org"};
	uint32_t id_be = htonl(2);
	const char *bin_params[1] = {(const char *)&id_be};
	int bin_lengths[1] = {4}, bin_formats[1] = {1};
	Oid types[2] = {23, 25};
	PGresult *r;
	int bad = 0;

	if (PQstatus(c) != CONNECTION_OK)
		return fail(c, "connect");
	r = PQprepare(c, "by_id", "SELECT id, email, name FROM customers WHERE id = $1", 1, types);
	bad |= expect(c, r, PGRES_COMMAND_OK, "prepare");
	r = PQexecPrepared(c, "by_id", 1, text_params, NULL, NULL, 0);
	bad |= expect(c, r, PGRES_TUPLES_OK, "execute text");
	r = PQexecPrepared(c, "by_id", 1, bin_params, bin_lengths, bin_formats, 0);
	bad |= expect(c, r, PGRES_TUPLES_OK, "execute binary");
	r = PQexecParams(c, "SELECT count(*) FROM customers WHERE id = $1 AND email = $2", 2, types,
			 text_params, NULL, NULL, 0);
	bad |= expect(c, r, PGRES_TUPLES_OK, "exec params");
	r = PQexecParams(c, "SELECT * FROM missing_table WHERE id = $1", 1, types, text_params,
			 NULL, NULL, 0);
	bad |= expect(c, r, PGRES_FATAL_ERROR, "error");

	/* pipeline: three Executes, then one Sync */
	if (!PQenterPipelineMode(c))
		return fail(c, "pipeline");
	for (int i = 0; i < 3; i++) {
		char v[8];
		const char *p[1] = {v};

		snprintf(v, sizeof(v), "%d", i + 1);
		if (!PQsendQueryPrepared(c, "by_id", 1, p, NULL, NULL, 0))
			return fail(c, "send");
	}
	PQpipelineSync(c);
	for (int i = 0; i < 3; i++) {
		while ((r = PQgetResult(c)) != NULL)
			PQclear(r);
	}
	r = PQgetResult(c);
	bad |= expect(c, r, PGRES_PIPELINE_SYNC, "sync");
	PQexitPipelineMode(c);
	PQfinish(c);
	printf("pg_client: %s\n", bad ? "unexpected answers" : "ok");
	return bad ? 1 : 0;
}
