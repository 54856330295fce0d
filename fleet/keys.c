/* keys.c: the instances' RPC keys (see include/fleet_keys.h).  Sorted by
 * instance id once at load; looked up by binary search. */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "fleet_keys.h"
#include "request_check.h"

struct fleet_key_entry {
	char instance[REQUEST_INSTANCE_MAX + 1];
	char key[FLEET_KEY_MAX + 1];
};

struct fleet_keys {
	struct fleet_key_entry *entries;
	size_t count, capacity;
};

static int keys_compare(const void *a, const void *b)
{
	return strcmp(((const struct fleet_key_entry *)a)->instance,
		      ((const struct fleet_key_entry *)b)->instance);
}

static int keys_key_ok(const char *key)
{
	size_t len = strlen(key), i;

	if (len == 0 || len > FLEET_KEY_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f)
			return 0;
	return 1;
}

static int keys_add(struct fleet_keys *keys, char *line, struct error *err)
{
	char *save = NULL, *id = strtok_r(line, " \t", &save), *key = strtok_r(NULL, " \t", &save);
	struct fleet_key_entry *grown;

	if (!id || !key || strtok_r(NULL, " \t", &save))
		return error_set(err, "want two fields: INSTANCE_ID KEY");
	if (request_check_id("instance id", id, REQUEST_INSTANCE_MAX, err) < 0)
		return -1;
	if (!keys_key_ok(key))
		return error_set(err, "key: want 1 to %d printable bytes without blanks",
				 FLEET_KEY_MAX);
	if (keys->count == FLEET_KEYS_MAX)
		return error_set(err, "more than %d keys", FLEET_KEYS_MAX);
	if (keys->count == keys->capacity) {
		keys->capacity = keys->capacity ? keys->capacity * 2 : 16;
		grown = realloc(keys->entries, keys->capacity * sizeof *grown);
		if (!grown)
			return error_set(err, "out of memory");
		keys->entries = grown;
	}
	memcpy(keys->entries[keys->count].instance, id, strlen(id) + 1);
	memcpy(keys->entries[keys->count].key, key, strlen(key) + 1);
	keys->count++;
	return 0;
}

/* Sorts, then refuses a repeated id (naming it: ids are not secret). */
static int keys_finish(struct fleet_keys *keys, const char *name, struct error *err)
{
	size_t i;

	if (keys->count)
		qsort(keys->entries, keys->count, sizeof *keys->entries, keys_compare);
	for (i = 1; i < keys->count; i++)
		if (!strcmp(keys->entries[i - 1].instance, keys->entries[i].instance))
			return error_set(err, "%s: instance %s has two keys", name,
					 keys->entries[i].instance);
	return 0;
}

int fleet_keys_load_string(struct fleet_keys **out, const char *text, const char *name,
			   struct error *err)
{
	struct fleet_keys *keys = calloc(1, sizeof *keys);
	char *copy = strdup(text), *line, *next;
	unsigned number = 0;
	int rc = -1;

	*out = NULL;
	if (!keys || !copy) {
		error_set(err, "out of memory");
		goto out;
	}
	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		number++;
		line[strcspn(line, "#\r")] = '\0';
		if (strspn(line, " \t") == strlen(line))
			continue;
		if (keys_add(keys, line, err) < 0) {
			error_prefix(err, "%s:%u: ", name, number);
			goto out;
		}
	}
	if (keys_finish(keys, name, err) < 0)
		goto out;
	rc = 0;
	*out = keys;
	keys = NULL;
out:
	if (copy)
		OPENSSL_cleanse(copy, strlen(text));
	free(copy);
	fleet_keys_free(keys);
	return rc;
}

int fleet_keys_load(struct fleet_keys **keys, const char *path, struct error *err)
{
	char *text = NULL;
	size_t len;
	int rc;

	if (!path || !path[0])
		return fleet_keys_load_string(keys, "", "rpc_keys", err);
	*keys = NULL;
	if (atomic_read_file(AT_FDCWD, path, 256u << 20, &text, &len, err) < 0)
		return -1;
	if (strlen(text) != len)
		rc = error_set(err, "%s: NUL byte in the key file", path);
	else
		rc = fleet_keys_load_string(keys, text, path, err);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

void fleet_keys_free(struct fleet_keys *keys)
{
	if (!keys)
		return;
	if (keys->entries)
		OPENSSL_cleanse(keys->entries, keys->capacity * sizeof *keys->entries);
	free(keys->entries);
	free(keys);
}

const char *fleet_keys_find(const struct fleet_keys *keys, const char *instance_id)
{
	struct fleet_key_entry probe, *found;

	if (!keys->count || strlen(instance_id) > REQUEST_INSTANCE_MAX)
		return NULL;
	strcpy(probe.instance, instance_id);
	found = bsearch(&probe, keys->entries, keys->count, sizeof *keys->entries, keys_compare);
	return found ? found->key : NULL;
}
