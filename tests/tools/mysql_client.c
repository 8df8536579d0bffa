/*
 * A MariaDB/MySQL client on the MariaDB C connector (libmariadb, the real client library)
 * for the tests: server-side prepared statements (COM_STMT_PREPARE / EXECUTE / CLOSE /
 * RESET) with int, string, double, NULL and date parameters, binary result rows, a
 * read-only cursor (COM_STMT_FETCH), one statement that fails at execution, a
 * multi-statement COM_QUERY (CLIENT_MULTI_STATEMENTS) with several results, and a ping.
 *   mysql_client HOST PORT USER PASSWORD DATABASE
 * Expects the table customers (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100)
 * UNIQUE, name VARCHAR(100), score DOUBLE, born DATE); prints what it did and exits non-zero
 * when the server did not answer as expected.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad;

static void expect(int cond, const char *what, MYSQL *m, MYSQL_STMT *s)
{
	if (cond)
		return;
	fprintf(stderr, "mysql_client: %s: %s\n", what,
		s ? mysql_stmt_error(s) : (m ? mysql_error(m) : "unexpected"));
	bad = 1;
}

static MYSQL_STMT *prepare(MYSQL *m, const char *sql)
{
	MYSQL_STMT *s = mysql_stmt_init(m);

	expect(s && mysql_stmt_prepare(s, sql, (unsigned long)strlen(sql)) == 0, sql, m, s);
	return s;
}

/* Executes s and counts the rows it returns (binary protocol), -1 on error. */
static long run(MYSQL_STMT *s)
{
	long rows = 0;

	if (mysql_stmt_execute(s))
		return -1;
	if (mysql_stmt_field_count(s) == 0)
		return (long)mysql_stmt_affected_rows(s);
	while (mysql_stmt_fetch(s) == 0)
		rows++;
	mysql_stmt_free_result(s);
	return rows;
}

int main(int argc, char **argv)
{
	MYSQL *m = mysql_init(NULL);
	MYSQL_STMT *ins, *sel, *cur, *fail;
	MYSQL_BIND b[5];
	int id = 2;
	double score = 97.5;
	char email[] = "carol@example.net", name[] = "Carol";
	unsigned long email_len = sizeof(email) - 1, name_len = sizeof(name) - 1;
	MYSQL_TIME born = {.year = 1990, .month = 7, .day = 14, .time_type = MYSQL_TIMESTAMP_DATE};
	my_bool is_null = 1;
	unsigned long cursor = CURSOR_TYPE_READ_ONLY, prefetch = 1;
	long n;

	if (argc < 6) {
		fprintf(stderr, "usage: mysql_client HOST PORT USER PASSWORD DATABASE\n");
		return 2;
	}
	mysql_optionsv(m, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "mysql_client");
	if (!mysql_real_connect(m, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]),
				NULL, CLIENT_MULTI_STATEMENTS)) {
		fprintf(stderr, "mysql_client: connect: %s\n", mysql_error(m));
		return 1;
	}

	/* INSERT with string, string, double, date and a NULL */
	ins = prepare(m, "INSERT INTO customers (email, name, score, born) VALUES (?, ?, ?, ?)");
	memset(b, 0, sizeof(b));
	b[0].buffer_type = MYSQL_TYPE_STRING;
	b[0].buffer = email;
	b[0].length = &email_len;
	b[1].buffer_type = MYSQL_TYPE_STRING;
	b[1].buffer = name;
	b[1].length = &name_len;
	b[2].buffer_type = MYSQL_TYPE_DOUBLE;
	b[2].buffer = &score;
	b[3].buffer_type = MYSQL_TYPE_DATE;
	b[3].buffer = &born;
	expect(mysql_stmt_bind_param(ins, b) == 0, "bind insert", m, ins);
	expect(run(ins) == 1, "insert carol", m, ins);
	/* the same statement again: the duplicate email fails at execution (1062) */
	expect(run(ins) == -1 && mysql_stmt_errno(ins) == 1062, "duplicate carol fails", m, ins);
	/* a NULL score, new values, types not sent again (new-params-bound 0) */
	strcpy(email, "dave@example.net");
	email_len = strlen(email);
	strcpy(name, "Dave");
	name_len = strlen(name);
	b[2].is_null = &is_null;
	expect(mysql_stmt_bind_param(ins, b) == 0, "bind insert null", m, ins);
	expect(run(ins) == 1, "insert dave with a NULL score", m, ins);
	mysql_stmt_close(ins);

	/* SELECT by an int parameter: binary rows */
	sel = prepare(m, "SELECT id, email, name, score, born FROM customers WHERE id >= ?");
	memset(b, 0, sizeof(b));
	b[0].buffer_type = MYSQL_TYPE_LONG;
	b[0].buffer = &id;
	expect(mysql_stmt_bind_param(sel, b) == 0, "bind select", m, sel);
	n = run(sel);
	expect(n == 3, "select id >= 2: 3 rows", m, sel);
	expect(mysql_stmt_reset(sel) == 0, "reset", m, sel);
	id = 3;
	expect(run(sel) == 2, "select id >= 3: 2 rows", m, sel);
	mysql_stmt_close(sel);

	/* a read-only cursor: rows come by COM_STMT_FETCH, one at a time */
	cur = prepare(m, "SELECT email FROM customers ORDER BY id");
	mysql_stmt_attr_set(cur, STMT_ATTR_CURSOR_TYPE, &cursor);
	mysql_stmt_attr_set(cur, STMT_ATTR_PREFETCH_ROWS, &prefetch);
	expect(run(cur) == 4, "cursor: 4 rows", m, cur);
	mysql_stmt_close(cur);

	/* prepares fine, fails when executed: the table is gone by then */
	expect(mysql_query(m, "CREATE TABLE scratch (x INT)") == 0, "create scratch", m, NULL);
	fail = prepare(m, "SELECT x FROM scratch WHERE x = ?");
	expect(mysql_query(m, "DROP TABLE scratch") == 0, "drop scratch", m, NULL);
	memset(b, 0, sizeof(b));
	b[0].buffer_type = MYSQL_TYPE_LONG;
	b[0].buffer = &id;
	mysql_stmt_bind_param(fail, b);
	expect(run(fail) == -1 && mysql_stmt_errno(fail) == 1146,
	       "execute on a dropped table: 1146", m, fail);
	mysql_stmt_close(fail);

	/* one COM_QUERY, three statements, three results */
	expect(mysql_query(m, "SELECT COUNT(*) AS n FROM customers; UPDATE customers SET score = "
			      "score + 1 WHERE score IS NOT NULL; SELECT 'done' AS status") == 0,
	       "multi-statement", m, NULL);
	n = 0;
	do {
		MYSQL_RES *r = mysql_store_result(m);

		if (r)
			mysql_free_result(r);
		n++;
	} while (mysql_next_result(m) == 0);
	expect(n == 3, "multi-statement: 3 results", m, NULL);
	expect(mysql_ping(m) == 0, "ping", m, NULL);
	mysql_close(m);
	printf("mysql_client: %s\n", bad ? "unexpected answers" : "ok");
	return bad;
}
