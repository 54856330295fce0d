/* rpc_keys.c: the per-instance RPC key file (see include/rpc_keys.h). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "rpc_keys.h"

#define RPC_KEYS_ID_MAX 127
#define RPC_KEYS_KEY_MAX 255

struct rpc_key_entry {
	const char *instance_id, *key;	/* point into text */
};

struct rpc_keys {
	char *text;			/* the file, NUL-separated in place */
	struct rpc_key_entry *entries;
	size_t count;
};

static const char rpc_keys_id_chars[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";

static int rpc_keys_compare(const void *a, const void *b)
{
	return strcmp(((const struct rpc_key_entry *)a)->instance_id,
		      ((const struct rpc_key_entry *)b)->instance_id);
}

static int rpc_keys_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* Splits one line (already NUL-terminated, no newline) into an entry. */
static int rpc_keys_line(char *line, struct rpc_key_entry *entry, struct error *err)
{
	char *id, *key, *rest, *comment;

	/* "id key # note": a comment starts at a '#' after a blank (a key may hold '#'). */
	for (comment = line; (comment = strchr(comment, '#')); comment++)
		if (comment > line && (comment[-1] == ' ' || comment[-1] == '\t')) {
			*comment = '\0';
			break;
		}
	id = line + strspn(line, " \t");
	key = id + strcspn(id, " \t");
	if (!*key)
		return error_set(err, "want \"INSTANCE_ID KEY\"");
	*key++ = '\0';
	key += strspn(key, " \t");
	rest = key + strcspn(key, " \t");
	if (*rest) {
		*rest++ = '\0';
		if (rest[strspn(rest, " \t")])
			return error_set(err, "more than two words");
	}
	if (strlen(id) > RPC_KEYS_ID_MAX || strspn(id, rpc_keys_id_chars) != strlen(id))
		return error_set(err, "instance id: want 1 to %d of [0-9A-Za-z_-]", RPC_KEYS_ID_MAX);
	if (!*key || strlen(key) > RPC_KEYS_KEY_MAX || !rpc_keys_printable(key))
		return error_set(err, "key: want 1 to %d printable bytes", RPC_KEYS_KEY_MAX);
	entry->instance_id = id;
	entry->key = key;
	return 0;
}

static int rpc_keys_fill(struct rpc_keys *k, size_t len, const char *name, struct error *err)
{
	size_t capacity = 0, number = 0, i;
	char *line = k->text, *end, *text_end = k->text + len;
	struct rpc_key_entry *grown;

	for (; line < text_end; line = end + 1) {
		end = memchr(line, '\n', (size_t)(text_end - line));
		end = end ? end : text_end;
		*end = '\0';
		number++;
		if (end > line && end[-1] == '\r')
			end[-1] = '\0';
		if (!line[strspn(line, " \t")] || line[strspn(line, " \t")] == '#')
			continue;
		if (k->count == RPC_KEYS_MAX)
			return error_set(err, "%s:%zu: more than %u keys", name, number, RPC_KEYS_MAX);
		if (k->count == capacity) {
			capacity = capacity ? capacity * 2 : 64;
			grown = realloc(k->entries, capacity * sizeof *grown);
			if (!grown)
				return error_set(err, "%s: out of memory", name);
			k->entries = grown;
		}
		if (rpc_keys_line(line, &k->entries[k->count], err) < 0)
			return error_prefix(err, "%s:%zu: ", name, number);
		k->count++;
	}
	if (k->count)
		qsort(k->entries, k->count, sizeof *k->entries, rpc_keys_compare);
	for (i = 1; i < k->count; i++)
		if (!strcmp(k->entries[i - 1].instance_id, k->entries[i].instance_id))
			return error_set(err, "%s: instance %s has two keys", name,
					 k->entries[i].instance_id);
	return 0;
}

int rpc_keys_parse(struct rpc_keys **keys, const char *text, size_t len, const char *name,
		   struct error *err)
{
	struct rpc_keys *k;

	*keys = NULL;
	if (memchr(text, '\0', len))
		return error_set(err, "%s: has a NUL byte", name);
	k = calloc(1, sizeof *k);
	if (!k || !(k->text = malloc(len + 1))) {
		free(k);
		return error_set(err, "%s: out of memory", name);
	}
	memcpy(k->text, text, len);
	k->text[len] = '\0';
	if (rpc_keys_fill(k, len, name, err) < 0) {
		rpc_keys_free(k);
		return -1;
	}
	*keys = k;
	return 0;
}

int rpc_keys_load(struct rpc_keys **keys, const char *path, struct error *err)
{
	char *text = NULL;
	size_t len;
	int rc;

	*keys = NULL;
	if (atomic_read_file(AT_FDCWD, path, RPC_KEYS_FILE_MAX, &text, &len, err) < 0)
		return -1;
	rc = rpc_keys_parse(keys, text, len, path, err);
	free(text);
	return rc;
}

const char *rpc_keys_find(const struct rpc_keys *keys, const char *instance_id)
{
	struct rpc_key_entry probe = { instance_id, NULL }, *hit;

	if (!keys || !keys->count)
		return NULL;
	hit = bsearch(&probe, keys->entries, keys->count, sizeof probe, rpc_keys_compare);
	return hit ? hit->key : NULL;
}

size_t rpc_keys_count(const struct rpc_keys *keys)
{
	return keys ? keys->count : 0;
}

void rpc_keys_free(struct rpc_keys *keys)
{
	if (!keys)
		return;
	free(keys->entries);
	free(keys->text);
	free(keys);
}
