/* store_rows.c: a batch of reports and heartbeats as multi-row statements
 * (see store_internal.h, store_rows_tx).
 *
 * The report consumer's batches hold hundreds of reports, each for a
 * different upgrade but for a few; one statement per report was one
 * executor start, one lock and index setup and (on PostgreSQL) one
 * protocol exchange each.  Here up to STORE_ROWS of them share each
 * statement, with the same rules as store_batch.c's per-item ones:
 *
 * - Reports are put in layers: a report goes in the layer after the one of
 *   the same upgrade's report before it in the batch.  Within a layer every
 *   upgrade appears once, so one statement over the layer's rows does what
 *   the per-item statements did one by one (rows of different upgrades
 *   touch different records), and layers run in order, so an upgrade's
 *   reports still apply in batch order.
 * - Per chunk of a layer: the creates (ON CONFLICT DO NOTHING, RETURNING
 *   the ids created), the conditional UPDATE joined with the rows
 *   (RETURNING the ids applied).  The records' instances, which tell a
 *   refused report from a repeat, are read for the reports that changed
 *   nothing only, after round 1 (rows_unapplied; a report naming no
 *   instance has its read in round 1, right after its layer).
 * - Round 2, layer by layer: the events of applied reports (seq: the next
 *   after the upgrade's last, read in the same statement; an upgrade has
 *   one row per statement), and the instances of created records.
 * - Heartbeats: coalesced already (store_coalesce.c), so one per instance
 *   and one upsert for STORE_ROWS of them.
 *
 * Statements have a fixed number of rows (STORE_ROWS) so each text is
 * prepared once per connection; a chunk's unused rows have a NULL id and
 * are filtered out (WHERE v.column1 IS NOT NULL; UPDATE's join never
 * matches NULL).  VALUES columns are named column1.. on both backends.
 * Memory: the texts (~40 KiB) and the rows' values, both bounded by the
 * batch's count. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define STORE_ROWS 32		/* rows per statement */

enum { ROWS_CREATE, ROWS_UPDATE, ROWS_SELECT, ROWS_EVENT, ROWS_KNOWN, ROWS_BEAT, ROWS_KINDS };

/* Values per row of each statement. */
static const int rows_width[ROWS_KINDS] = { 7, 8, 1, 5, 1, 5 };

/* Text before the rows, the rows' SQL type per value (casts for the
 * first row: what PostgreSQL types a VALUES column by), text after. */
static const char *const rows_head[ROWS_KINDS] = {
	("INSERT INTO upgrades (" STORE_UPGRADE_COLS ") SELECT v.column1, '', 'upgrade',"
	" v.column2, v.column3, v.column4, '', '', '', '', v.column5, v.column6, v.column7,"
	" v.column7, '' FROM (VALUES "),
	("UPDATE upgrades SET state = v.column2, reason = v.column3, updated_us = v.column4,"
	" from_version = CASE WHEN v.column5 = '' THEN upgrades.from_version ELSE v.column5 END,"
	" to_version = CASE WHEN v.column6 = '' THEN upgrades.to_version ELSE v.column6 END"
	" FROM (VALUES "),
	"SELECT id, instance_id FROM upgrades WHERE id IN (SELECT v.column1 FROM (VALUES ",
	("INSERT INTO upgrade_events (upgrade_id, seq, state, reason, at_us, source)"
	" SELECT v.column1, COALESCE((SELECT MAX(e.seq) FROM upgrade_events e"
	" WHERE e.upgrade_id = v.column1), 0) + 1, v.column2, v.column3, v.column4, v.column5"
	" FROM (VALUES "),
	"INSERT INTO instances (id) SELECT v.column1 FROM (VALUES ",
	("INSERT INTO instances (id, agent_version, agent_slot, last_seen_us, rpc_api_version)"
	" SELECT v.column1, v.column2, v.column3, v.column4, v.column5 FROM (VALUES "),
};
static const char *const rows_types[ROWS_KINDS] = {
	"TTTTBTB", "TBTBTTTB", "T", "TBTBT", "T", "TTTBT",
};
/* The ordering rules of fleet_store.h, as store_batch.c's UPDATE has them:
 * FAILED is final, SUCCESS too but for the guest's later FAILED (column8
 * 1), no repeat, forward only but around DEFERRED, the record's instance. */
#define ROWS_UPDATE_TAIL_FMT                                                                  \
	") AS v WHERE upgrades.id = v.column1 AND upgrades.state <> %d"                       \
	" AND (upgrades.state <> %d OR (v.column8 = 1 AND v.column4 > upgrades.updated_us))" \
	" AND (upgrades.state <> v.column2 OR upgrades.reason <> v.column3)"                  \
	" AND (v.column2 >= upgrades.state OR v.column2 = %d OR upgrades.state = %d)"        \
	" AND (v.column7 = '' OR upgrades.instance_id = v.column7) RETURNING id"
static const char *const rows_tail[ROWS_KINDS] = {
	") AS v WHERE v.column1 IS NOT NULL ON CONFLICT (id) DO NOTHING RETURNING id",
	NULL,	/* ROWS_UPDATE_TAIL_FMT */
	") AS v WHERE v.column1 IS NOT NULL)",
	") AS v WHERE v.column1 IS NOT NULL",
	") AS v WHERE v.column1 IS NOT NULL ON CONFLICT (id) DO NOTHING",
	") AS v WHERE v.column1 IS NOT NULL ON CONFLICT (id) DO UPDATE SET"
	" agent_version = excluded.agent_version, agent_slot = excluded.agent_slot,"
	" rpc_api_version = excluded.rpc_api_version, last_seen_us = excluded.last_seen_us"
	" WHERE instances.last_seen_us <= excluded.last_seen_us RETURNING id",
};

struct store_rows_sql {
	char text[ROWS_KINDS][8192];
};

/* One statement's rows: which runs they are (NULL: an unused row). */
struct rows_chunk {
	struct store_run *run[STORE_ROWS];
	int kind;
};

struct rows_ctx {
	struct store_rows_sql *sql;
	struct store_run *runs;
	size_t count;
	size_t *order;			/* report runs by layer, then batch order */
	size_t nreports, nlayers;
	size_t *layer_end;		/* order[layer_end[l-1] .. layer_end[l]) */
	struct db_stmt *stmts;
	struct rows_chunk *chunks;
	struct db_value *values;
	size_t nstmts, nvalues;
};

static int rows_build_sql(struct store_rows_sql *sql)
{
	int k, r, c, p, len, at;
	char *t;

	for (k = 0; k < ROWS_KINDS; k++) {
		t = sql->text[k];
		at = snprintf(t, sizeof sql->text[k], "%s", rows_head[k]);
		for (r = 0, p = 1; r < STORE_ROWS; r++) {
			at += snprintf(t + at, sizeof sql->text[k] - (size_t)at, "%s(", r ? ", " : "");
			for (c = 0; c < rows_width[k]; c++, p++) {
				if (r)
					at += snprintf(t + at, sizeof sql->text[k] - (size_t)at,
						       "%s$%d", c ? ", " : "", p);
				else
					at += snprintf(t + at, sizeof sql->text[k] - (size_t)at,
						       "%sCAST($%d AS %s)", c ? ", " : "", p,
						       rows_types[k][c] == 'B' ? "BIGINT" : "TEXT");
			}
			at += snprintf(t + at, sizeof sql->text[k] - (size_t)at, ")");
		}
		len = k == ROWS_UPDATE ?
		      snprintf(t + at, sizeof sql->text[k] - (size_t)at, ROWS_UPDATE_TAIL_FMT,
			       FLEET_FAILED, FLEET_SUCCESS, FLEET_DEFERRED, FLEET_DEFERRED) :
		      snprintf(t + at, sizeof sql->text[k] - (size_t)at, "%s", rows_tail[k]);
		if (at + len >= (int)sizeof sql->text[k])
			return -1;	/* cannot happen with these texts: sized for them */
	}
	return 0;
}

/* The run in chunk whose key (upgrade id, or a heartbeat's instance) is id. */
static struct store_run *rows_find(const struct rows_chunk *chunk, const char *id)
{
	const char *key;
	int i;

	for (i = 0; i < STORE_ROWS && chunk->run[i]; i++) {
		key = chunk->kind == ROWS_BEAT ? chunk->run[i]->item->heartbeat->instance_id :
		      chunk->run[i]->item->report->upgrade_id;
		if (!strcmp(key, id))
			return chunk->run[i];
	}
	return NULL;
}

/* A row RETURNING an id (or, for ROWS_SELECT, an id and its instance). */
static int rows_returned(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct rows_chunk *chunk = ctx;
	struct store_run *run = ncols >= 1 && cols[0] ? rows_find(chunk, cols[0]) : NULL;

	if (!run || ncols != (chunk->kind == ROWS_SELECT ? 2 : 1))
		return error_set(err, "store: a row no statement of the batch asked for");
	if (chunk->kind == ROWS_CREATE)
		run->created = 1;
	else if (chunk->kind == ROWS_UPDATE)
		run->updated = 1;
	else if (chunk->kind == ROWS_SELECT)
		db_copy_text(run->stored, sizeof run->stored, cols[1] ? cols[1] : "");
	else
		run->item->result = 1;	/* ROWS_BEAT: the heartbeat was the newest */
	return 0;
}

/* One row's values of kind for run (NULL: an unused row). */
static void rows_values(int kind, const struct store_run *run, struct db_value *v)
{
	const struct fleet_report *r = run ? run->item->report : NULL;
	const struct fleet_heartbeat *h = run ? run->item->heartbeat : NULL;
	int i;

	for (i = 0; i < rows_width[kind]; i++)	/* typed as the statement is prepared */
		v[i] = rows_types[kind][i] == 'B' ? DB_I(0) : DB_T(NULL);
	if (!run)
		return;
	if (kind == ROWS_CREATE) {
		if (!run->instance_id[0])
			return;		/* a record is created only for a named instance */
		v[0] = DB_T(r->upgrade_id), v[1] = DB_T(run->instance_id);
		v[2] = DB_T(run->from_version), v[3] = DB_T(run->to_version);
		v[4] = DB_I(r->state), v[5] = DB_T(run->reason), v[6] = DB_I(r->at_us);
	} else if (kind == ROWS_UPDATE) {
		v[0] = DB_T(r->upgrade_id), v[1] = DB_I(r->state), v[2] = DB_T(run->reason);
		v[3] = DB_I(r->at_us), v[4] = DB_T(run->from_version), v[5] = DB_T(run->to_version);
		v[6] = DB_T(run->instance_id);
		v[7] = DB_I(r->state == FLEET_FAILED && !strcmp(r->source, "guest"));
	} else if (kind == ROWS_SELECT) {
		v[0] = DB_T(r->upgrade_id);	/* the caller picks whose instance to read */
	} else if (kind == ROWS_EVENT) {
		v[0] = DB_T(r->upgrade_id), v[1] = DB_I(r->state), v[2] = DB_T(run->reason);
		v[3] = DB_I(r->at_us), v[4] = DB_T(r->source);
	} else if (kind == ROWS_KNOWN) {
		v[0] = DB_T(run->instance_id);
	} else {
		v[0] = DB_T(h->instance_id), v[1] = DB_T(h->agent_version ? h->agent_version : "");
		v[2] = DB_T(h->agent_slot ? h->agent_slot : ""), v[3] = DB_I(h->sent_us);
		v[4] = DB_T(h->rpc_api_version ? h->rpc_api_version : "");
	}
}

/* Appends one statement of kind over runs[0..n) (n <= STORE_ROWS). */
static void rows_stmt(struct rows_ctx *x, int kind, struct store_run *const *runs, size_t n)
{
	struct rows_chunk *chunk = &x->chunks[x->nstmts];
	struct db_stmt *s = &x->stmts[x->nstmts++];
	struct db_value *v = &x->values[x->nvalues];
	size_t i;

	memset(chunk, 0, sizeof *chunk);
	chunk->kind = kind;
	for (i = 0; i < STORE_ROWS; i++) {
		chunk->run[i] = i < n ? runs[i] : NULL;
		rows_values(kind, chunk->run[i], v + i * (size_t)rows_width[kind]);
	}
	x->nvalues += STORE_ROWS * (size_t)rows_width[kind];
	*s = (struct db_stmt){ .sql = x->sql->text[kind], .params = v,
			       .nparams = STORE_ROWS * rows_width[kind], .ctx = chunk };
	if (kind != ROWS_EVENT && kind != ROWS_KNOWN)
		s->fn = rows_returned;
	/* Joins and lookups over the rows: a generic plan made while the
	 * tables were small scanned them whole (94 us a row instead of 55). */
	s->replan = kind == ROWS_UPDATE || kind == ROWS_SELECT || kind == ROWS_EVENT;
}

/* Statements of kind over the runs picked from runs[0..n), STORE_ROWS a
 * statement. */
static void rows_stmts(struct rows_ctx *x, int kind, struct store_run **runs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += STORE_ROWS)
		rows_stmt(x, kind, runs + i, n - i < STORE_ROWS ? n - i : STORE_ROWS);
}

/* A report that changed nothing: a repeat or a late one (0), or one the
 * store refuses (-1, item's err set): for an unknown id without an
 * instance, or from an instance the upgrade is not for. */
int store_report_unapplied(struct store_run *run)
{
	const struct fleet_report *r = run->item->report;
	struct error *err = &run->item->err;

	if (!run->stored[0])
		return store_invalid(err, "store: report for unknown upgrade %s names no instance",
				     r->upgrade_id);
	if (run->instance_id[0] && strcmp(run->stored, run->instance_id))
		return store_invalid(err, "store: report from instance %s for upgrade %s, which is"
					  " for instance %s", run->instance_id, r->upgrade_id,
				     run->stored);
	return 0;
}

#define ROWS_LAYERS_MAX 8	/* more: the per-item statements (a flood of one upgrade's
				 * reports would pad a statement per report) */

static uint64_t rows_hash(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * UINT64_C(1099511628211);
	return h;
}

/* Puts the batch's report runs in layers (x->order, x->layer_end): a
 * report one layer after its upgrade's report before it.  0, 1 when there
 * are too many layers, -1 out of memory. */
static int rows_layers(struct rows_ctx *x)
{
	size_t size = 16, i, j, *last, *layer, at[ROWS_LAYERS_MAX + 1] = { 0 };
	const char *id;
	int rc = 0;

	while (size < 2 * x->count)
		size *= 2;
	last = calloc(size, sizeof *last);		/* run index + 1 of an id's last report */
	layer = calloc(x->count ? x->count : 1, sizeof *layer);
	for (i = 0; last && layer && i < x->count; i++) {
		if (!x->runs[i].item->report || x->runs[i].item->result < 0)
			continue;
		id = x->runs[i].item->report->upgrade_id;
		j = (size_t)(rows_hash(id) & (size - 1));
		while (last[j] && strcmp(x->runs[last[j] - 1].item->report->upgrade_id, id))
			j = (j + 1) & (size - 1);
		layer[i] = last[j] ? layer[last[j] - 1] + 1 : 0;
		last[j] = i + 1;
		if (layer[i] >= ROWS_LAYERS_MAX) {
			rc = 1;
			break;
		}
		at[layer[i] + 1]++;
		x->nreports++;
		x->nlayers = layer[i] + 1 > x->nlayers ? layer[i] + 1 : x->nlayers;
	}
	if (!last || !layer) {
		rc = -1;
	} else if (!rc) {
		for (i = 1; i <= ROWS_LAYERS_MAX; i++)
			at[i] += at[i - 1];	/* where each layer starts */
		for (i = 0; i < ROWS_LAYERS_MAX; i++)
			x->layer_end[i] = at[i + 1];
		for (i = 0; i < x->count; i++)
			if (x->runs[i].item->report && x->runs[i].item->result >= 0)
				x->order[at[layer[i]]++] = i;
	}
	free(last);
	free(layer);
	return rc;
}

/* The runs of layer l that pass keep (NULL: all) into pick; their count. */
static size_t rows_pick(struct rows_ctx *x, size_t l, int (*keep)(const struct store_run *),
			struct store_run **pick)
{
	size_t i, n = 0;

	for (i = l ? x->layer_end[l - 1] : 0; i < x->layer_end[l]; i++) {
		struct store_run *run = &x->runs[x->order[i]];

		if (!keep || keep(run))
			pick[n++] = run;
	}
	return n;
}

static int rows_applied(const struct store_run *run)
{
	return run->item->result == 1;
}

static int rows_created(const struct store_run *run)
{
	return run->created;
}

static int rows_nameless(const struct store_run *run)
{
	return !run->instance_id[0];
}

static int rows_unchanged(const struct store_run *run)
{
	return run->instance_id[0] && !run->created && !run->updated;
}

/* The instances of the records of reports that named one and changed
 * nothing (a repeat, a late report, another instance's), to tell a
 * refusal from a no-op: a third round trip, only when there are some. */
static int rows_unapplied(struct db *db, struct rows_ctx *x, struct store_run **pick,
			  struct error *err)
{
	size_t l;

	x->nstmts = x->nvalues = 0;
	for (l = 0; l < x->nlayers; l++)
		rows_stmts(x, ROWS_SELECT, pick, rows_pick(x, l, rows_unchanged, pick));
	return x->nstmts ? db_exec_batch(db, x->stmts, x->nstmts, err) : 0;
}

/* Round 1: each layer's creates and UPDATEs (and SELECTs for reports
 * without an instance); the heartbeats. */
static int rows_decide(struct db *db, struct rows_ctx *x, struct store_run **pick,
		       struct error *err)
{
	size_t l, i, n;

	x->nstmts = x->nvalues = 0;
	for (l = 0; l < x->nlayers; l++) {
		n = rows_pick(x, l, NULL, pick);
		for (i = 0; i < n; i += STORE_ROWS) {
			size_t k = n - i < STORE_ROWS ? n - i : STORE_ROWS;

			rows_stmt(x, ROWS_CREATE, pick + i, k);
			rows_stmt(x, ROWS_UPDATE, pick + i, k);
		}
		/* A record's instance is read here only for reports that name
		 * none (they create nothing: a later report of the batch may
		 * create the record, and they must not see it); for the others
		 * their own create made the record, whose instance never
		 * changes, so it is read after round 1, and only if they
		 * changed nothing (rows_unapplied). */
		rows_stmts(x, ROWS_SELECT, pick, rows_pick(x, l, rows_nameless, pick));
	}
	for (i = 0, n = 0; i < x->count; i++) {
		if (x->runs[i].item->heartbeat && x->runs[i].item->result == 0 &&
		    !x->runs[i].superseded)
			pick[n++] = &x->runs[i];
	}
	rows_stmts(x, ROWS_BEAT, pick, n);
	return db_exec_batch(db, x->stmts, x->nstmts, err);
}

/* Round 2: each layer's events, in layer order, and the created records'
 * instances. */
static int rows_follow(struct db *db, struct rows_ctx *x, struct store_run **pick,
		       struct error *err)
{
	size_t l;

	x->nstmts = x->nvalues = 0;
	for (l = 0; l < x->nlayers; l++) {
		rows_stmts(x, ROWS_EVENT, pick, rows_pick(x, l, rows_applied, pick));
		rows_stmts(x, ROWS_KNOWN, pick, rows_pick(x, l, rows_created, pick));
	}
	return db_exec_batch(db, x->stmts, x->nstmts, err);
}

/* Sizes the statements and values for round 1 (round 2 needs fewer). */
static int rows_alloc(struct rows_ctx *x)
{
	size_t chunks = x->count / STORE_ROWS + x->nlayers + 2;

	x->sql = malloc(sizeof *x->sql);
	x->stmts = calloc(4 * chunks, sizeof *x->stmts);
	x->chunks = calloc(4 * chunks, sizeof *x->chunks);
	x->values = calloc(chunks * STORE_ROWS * 16, sizeof *x->values);
	if (!x->sql || !x->stmts || !x->chunks || !x->values)
		return -1;
	return rows_build_sql(x->sql);
}

static void rows_free(struct rows_ctx *x)
{
	free(x->sql);
	free(x->stmts);
	free(x->chunks);
	free(x->values);
	free(x->order);
	free(x->layer_end);
}

int store_rows_tx(struct db *db, struct store_run *runs, size_t count, struct error *err)
{
	struct rows_ctx x = { .runs = runs, .count = count };
	struct store_run **pick = calloc(count ? count : 1, sizeof *pick);
	size_t i;
	int rc;

	x.order = calloc(count ? count : 1, sizeof *x.order);
	x.layer_end = calloc(ROWS_LAYERS_MAX, sizeof *x.layer_end);
	rc = !pick || !x.order || !x.layer_end ? -1 : rows_layers(&x);
	if (!rc && rows_alloc(&x) < 0)
		rc = -1;
	if (rc < 0) {
		errno = ENOMEM;
		error_set(err, "store: out of memory for a batch of %zu", count);
	}
	if (!rc)
		rc = rows_decide(db, &x, pick, err);
	if (!rc)
		rc = rows_unapplied(db, &x, pick, err);
	for (i = 0; !rc && i < count; i++) {
		struct store_run *run = &runs[i];

		if (!run->item->report || run->item->result < 0)
			continue;
		run->item->result = run->created || run->updated;
		if (!run->item->result && store_report_unapplied(run) < 0)
			run->item->result = -1;
	}
	if (!rc)
		rc = rows_follow(db, &x, pick, err);
	rows_free(&x);
	free(pick);
	return rc;
}
