/* db_pg_stmt.c: statements prepared once per PostgreSQL connection (see
 * db_pg.h).  PQexecParams parses and plans its statement at every call;
 * the store runs a few dozen statements over and over (a report is three
 * to five), so each is prepared once, by SQL text and parameter types, and
 * run by name after.  A session's prepared statements die with it: after a
 * reset the list is emptied and they are prepared again on first use.
 * Names are the list's slots, so within a session one is never reused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgresql/db_pg.h"

static struct pg_stmt *pg_stmt_find(struct db_pg *pg, const char *sql,
				    const struct pg_params *pp)
{
	int i;

	for (i = 0; i < pg->nstmts; i++) {
		struct pg_stmt *s = &pg->stmts[i];

		if (!strcmp(s->sql, sql) && s->nparams == pp->n &&
		    !memcmp(s->types, pp->types, (size_t)pp->n * sizeof pp->types[0]))
			return s;
	}
	return NULL;
}

int pg_stmt_prepare(struct db_pg *pg, const char *sql, const struct pg_params *pp,
		    const char **name, PGresult **failed)
{
	struct pg_stmt *s = pg_stmt_find(pg, sql, pp);
	PGresult *res;

	*name = NULL;
	*failed = NULL;
	if (s) {
		*name = s->name;
		return 0;
	}
	if (pp->n == 0 || pg->nstmts == PG_STMT_MAX)
		return 0;
	s = &pg->stmts[pg->nstmts];
	if (!(s->sql = strdup(sql)))
		return 0;	/* run it unnamed: slower, not wrong */
	s->nparams = pp->n;
	memcpy(s->types, pp->types, (size_t)pp->n * sizeof pp->types[0]);
	snprintf(s->name, sizeof s->name, "slotfleet_%d", pg->nstmts);
	res = PQprepare(pg->conn, s->name, sql, pp->n, pp->types);
	if (!pg_result_ok(res)) {
		free(s->sql);
		*failed = res;
		return -1;
	}
	PQclear(res);
	pg->nstmts++;
	*name = s->name;
	return 0;
}

void pg_stmt_forget(struct db_pg *pg)
{
	int i;

	for (i = 0; i < pg->nstmts; i++)
		free(pg->stmts[i].sql);
	pg->nstmts = 0;
}

void pg_reset(struct db_pg *pg)
{
	PQreset(pg->conn);
	pg_stmt_forget(pg);
	pg->listening = 0;
}
