/* db.c: the backend registry of store/db/db.h.  Each backend registers as
 * a struct db_driver in the table below (its open function behind a
 * pointer, as SQLite's VFS table does for its OS layers); db_open() gives a
 * spec to the first that claims it.  Calls go down only: a backend never
 * calls the registry, and what the backends share is in db/db_util.c. */
#include "store/db/db.h"

/* SQLite last: it claims every spec no other backend claimed. */
static const struct db_driver *const db_drivers[] = { &db_pg_driver, &db_sqlite_driver };

int db_open(struct db **db, const char *spec, struct error *err)
{
	size_t i;

	for (i = 0; i < sizeof db_drivers / sizeof db_drivers[0]; i++)
		if (db_drivers[i]->claims(spec))
			return db_drivers[i]->open(db, spec, err);
	return error_set(err, "store: no backend for this database");
}
