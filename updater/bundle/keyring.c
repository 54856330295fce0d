/* keyring.c: the trust store for bundle signatures (see bundle_keyring.h).
 *
 * A directory is what makes rotation possible without a flag day: a new CA
 * (or a CA's fresh CRL) is dropped in beside the old files, and the old CA is
 * removed later by deleting its file.  Only names ending in ".pem" and not
 * starting with "." are read, so editor backups and README files are
 * ignored.  Anything wrong with a file is an error naming it, never a file
 * skipped: a broken trust configuration refuses bundles rather than
 * trusting less, or more, than the administrator meant. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle_keyring.h"

enum keyring_kind { KEYRING_CERTS, KEYRING_CRLS };

static const char *keyring_what(enum keyring_kind kind)
{
	return kind == KEYRING_CERTS ? "certificate" : "CRL";
}

/* Adds what an X509_INFO holds of the wanted kind: 1 added, 0 nothing, -1 failed. */
static int keyring_add(X509_STORE *store, const X509_INFO *info, enum keyring_kind kind)
{
	if (kind == KEYRING_CERTS && info->x509)
		return X509_STORE_add_cert(store, info->x509) == 1 ? 1 : -1;
	if (kind == KEYRING_CRLS && info->crl)
		return X509_STORE_add_crl(store, info->crl) == 1 ? 1 : -1;
	return 0;
}

/* Opens a regular file of bounded size; O_NONBLOCK so a fifo cannot hang us. */
static FILE *keyring_open(const char *path, struct error *err)
{
	struct stat st;
	FILE *file = NULL;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		error_errno(err, "%s", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0)
		error_errno(err, "%s", path);
	else if (!S_ISREG(st.st_mode) || st.st_size > BUNDLE_KEYRING_FILE_MAX)
		error_set(err, "%s: not a regular file of at most %u bytes", path,
			  BUNDLE_KEYRING_FILE_MAX);
	else if (!(file = fdopen(fd, "r")))
		error_errno(err, "%s", path);
	if (!file)
		close(fd);
	return file;
}

static int keyring_load_file(X509_STORE *store, const char *path, enum keyring_kind kind,
			     struct error *err)
{
	STACK_OF(X509_INFO) *infos = NULL;
	FILE *file;
	BIO *bio = NULL;
	int i, added = 0, rc = -1, one;

	file = keyring_open(path, err);
	if (!file)
		return -1;
	bio = BIO_new_fp(file, BIO_NOCLOSE);
	infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
	if (!infos) {
		error_set(err, "%s: unreadable PEM", path);
		goto out;
	}
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		one = keyring_add(store, sk_X509_INFO_value(infos, i), kind);
		if (one < 0) {
			error_set(err, "%s: cannot add a %s to the store", path, keyring_what(kind));
			goto out;
		}
		added += one;
	}
	if (!added) {
		error_set(err, "%s: no PEM %s in it", path, keyring_what(kind));
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	fclose(file);
	return rc;
}

static int keyring_wanted(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 4 && !strcmp(name + len - 4, ".pem");
}

static int keyring_load_dir(X509_STORE *store, const char *path, enum keyring_kind kind,
			    struct error *err)
{
	char file[PATH_MAX];
	struct dirent *entry;
	unsigned loaded = 0;
	DIR *dir;
	int rc = -1;

	dir = opendir(path);
	if (!dir)
		return error_errno(err, "%s", path);
	for (errno = 0; (entry = readdir(dir)); errno = 0) {
		if (!keyring_wanted(entry->d_name))
			continue;
		if (++loaded > BUNDLE_KEYRING_DIR_MAX) {
			error_set(err, "%s: more than %u *.pem files", path, BUNDLE_KEYRING_DIR_MAX);
			goto out;
		}
		if (snprintf(file, sizeof file, "%s/%s", path, entry->d_name) >= (int)sizeof file) {
			error_set(err, "%s: path too long", path);
			goto out;
		}
		if (keyring_load_file(store, file, kind, err) < 0)
			goto out;
	}
	if (errno)
		error_errno(err, "%s", path);
	else if (!loaded)
		error_set(err, "%s: no *.pem file in the directory", path);
	else
		rc = 0;
out:
	closedir(dir);
	return rc;
}

static int keyring_load(X509_STORE *store, const char *path, enum keyring_kind kind,
			struct error *err)
{
	struct stat st;
	int rc;

	if (stat(path, &st) < 0)
		rc = error_errno(err, "%s", path);
	else if (S_ISDIR(st.st_mode))
		rc = keyring_load_dir(store, path, kind, err);
	else
		rc = keyring_load_file(store, path, kind, err);
	if (rc < 0)
		error_prefix(err, "%s: ", kind == KEYRING_CERTS ? "keyring" : "crl");
	return rc;
}

X509_STORE *bundle_keyring_store(const struct bundle_reader_options *trust, struct error *err)
{
	X509_STORE *store = X509_STORE_new();

	if (!store) {
		error_set(err, "keyring: out of memory");
		return NULL;
	}
	if (keyring_load(store, trust->keyring_path, KEYRING_CERTS, err) < 0)
		goto fail;
	if (trust->crl_path && trust->crl_path[0]) {
		if (keyring_load(store, trust->crl_path, KEYRING_CRLS, err) < 0)
			goto fail;
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	return store;
fail:
	X509_STORE_free(store);
	return NULL;
}
