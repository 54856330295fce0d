/* pip.c: format = pip, download to build (see updater/install/install_pip.h).
 * The confined commands are install_pip_run.h's; this file decides what
 * runs when, and what the slot holds at each step. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "extract/extract.h"
#include "fetch/fetch_child.h"
#include "install/install_pip.h"
#include "install/install_pip_run.h"
#include "log.h"
#include "slot_exec.h"
#include "text.h"
#include "version.h"

#define PIP_DOWNLOAD "pip-download.tmp"	/* in <root>/cache, unlinked once open */

struct pip {
	const struct config *config;
	const struct config_strategy *section;
	const char *strategy, *location;
	struct slots *slots;
	int slot;
	const struct install_stream_checks *checks;
	const struct install_progress *progress;
	struct install_stream_result *result;
	EVP_MD_CTX *sha256;
	unsigned long long bytes;
	int file_fd, slot_fd, began;
	char slot_path[PATH_MAX];
};

static void pip_step(struct pip *p, enum history_state state, const char *detail)
{
	if (p->progress && p->progress->step)
		p->progress->step(p->progress->context, state, detail);
}

/* "v1.0.1" and "1.0.1" name the same distribution version. */
static const char *pip_bare_version(const char *version)
{
	return version[0] == 'v' || version[0] == 'V' ? version + 1 : version;
}

/* Everything that refuses the request before a byte is fetched; 1: it is
 * the running slot's tarball. */
static int pip_refuse(const struct pip *p, struct error *err)
{
	const struct install_stream_checks *c = p->checks;
	const char *sha = c->expected_sha256;
	int order;

	if (!c->authenticated)
		return error_set(err, "strategy %s: refused: the request is not authenticated "
				 "(a pip tarball is unsigned: only a sealed cast on a keyed guest "
				 "or root's slotupd install may name one)", p->strategy);
	if (!sha || !sha[0])
		return error_set(err, "strategy %s: refused: the request carries no "
				 "metadata.sha256 (a pip tarball is installed only against its "
				 "digest)", p->strategy);
	if (strlen(sha) != 64 || strspn(sha, "0123456789abcdefABCDEF") != 64)
		return error_set(err, "strategy %s: metadata.sha256: want 64 hex digits",
				 p->strategy);
	if (!c->expected_version || !c->expected_version[0])
		return error_set(err, "strategy %s: refused: the request names no "
				 "instance_version (the installed distribution must match it)",
				 p->strategy);
	if (version_compare_text(c->expected_version, c->expected_version, &order, err) < 0)
		return error_prefix(err, "instance_version: ");
	if (c->running_digest[0] && !strcasecmp(c->running_digest, sha))
		return 1;
	if (c->running_version[0]) {
		if (version_compare_text(c->expected_version, c->running_version, &order, err) < 0)
			return -1;
		if (order < 0 && !c->allow_downgrade)
			return error_set(err, "downgrade from %s to %s refused (anti-rollback; "
					 "an admin rollback may allow it)", c->running_version,
					 c->expected_version);
	}
	return 0;
}

static int pip_sink(const void *data, size_t len, void *context, struct error *err)
{
	struct pip *p = context;
	const char *at = data;
	ssize_t n;

	if (p->bytes + len > p->config->updater.max_bytes)
		return error_set(err, "tarball larger than [updater] max_bytes (%llu bytes)",
				 (unsigned long long)p->config->updater.max_bytes);
	if (EVP_DigestUpdate(p->sha256, data, len) != 1)
		return error_set(err, "sha256 update failed");
	while (len > 0) {
		n = write(p->file_fd, at, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, "%s/cache/%s", p->slots->layout.root, PIP_DOWNLOAD);
		at += n;
		len -= (size_t)n;
		p->bytes += (size_t)n;
	}
	return 0;
}

static void pip_bytes(void *context, unsigned long long done, unsigned long long total)
{
	struct pip *p = context;

	if (p->progress && p->progress->bytes)
		p->progress->bytes(p->progress->context, done, total);
}

/* An unlinked file in <root>/cache: nothing to clean up after a crash. */
static int pip_download_file(struct pip *p, struct error *err)
{
	int cache = openat(p->slots->layout.root_fd, "cache",
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (cache < 0)
		return error_errno(err, "%s/cache", p->slots->layout.root);
	p->file_fd = openat(cache, PIP_DOWNLOAD, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
	if (p->file_fd < 0 || unlinkat(cache, PIP_DOWNLOAD, 0) < 0) {
		error_errno(err, "%s/cache/%s", p->slots->layout.root, PIP_DOWNLOAD);
		close(cache);
		return -1;
	}
	close(cache);
	return 0;
}

/* Steps 1 and 2: the whole tarball, then its digest against the request's. */
static int pip_fetch(struct pip *p, struct error *err)
{
	struct fetch_job job = {
		.config = p->config, .location = p->location,
		.file_beneath = p->checks->file_beneath, .sink = pip_sink, .ctx = p,
		.progress = pip_bytes, .instance_version = p->checks->expected_version,
		.sha256 = p->checks->expected_sha256, .metadata = p->checks->metadata,
	};
	const char *transport = fetch_transport(p->config, p->strategy, p->location);
	unsigned char digest[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1], shown[HISTORY_LOCATION_MAX];
	unsigned len;

	snprintf(shown, sizeof shown, "%s", p->location);
	history_redact_location(shown, sizeof shown);
	pip_step(p, HISTORY_DOWNLOADING, shown);
	if (pip_download_file(p, err) < 0 || fetch_child_run(transport, &job, err) < 0)
		return -1;
	if (EVP_DigestFinal_ex(p->sha256, digest, &len) != 1)
		return error_set(err, "sha256 final failed");
	bundle_hex(digest, len, hex);
	if (strcasecmp(hex, p->checks->expected_sha256) != 0)
		return error_set(err, "tarball sha256 %s does not match the request's %s", hex,
				 p->checks->expected_sha256);
	snprintf(p->result->manifest.digest, sizeof p->result->manifest.digest, "%.64s", hex);
	return 0;
}

/* The tarball's filter, by its first bytes. */
static const char *pip_compression(int fd)
{
	unsigned char m[6] = { 0 };

	if (pread(fd, m, sizeof m, 0) != (ssize_t)sizeof m)
		return "none";
	if (m[0] == 0x1f && m[1] == 0x8b)
		return "gzip";
	if (!memcmp(m, "\xfd" "7zXZ\0", 6))
		return "xz";
	if (!memcmp(m, "\x28\xb5\x2f\xfd", 4))
		return "zstd";
	return "none";
}

/* Step 3: the slot is touched only now, with a tarball of the right digest. */
static int pip_unpack(struct pip *p, struct error *err)
{
	struct extract_limits limits = {
		.max_bytes = p->config->updater.max_bytes,
		.max_entries = p->config->updater.max_entries,
		.compression = pip_compression(p->file_fd),
	};
	int wheels, rc;

	pip_step(p, HISTORY_VERIFYING, "tarball sha256 matches the request");
	if (slots_begin_install(p->slots, p->slot, err) < 0)
		return -1;
	p->began = 1;
	p->slot_fd = layout_open_slot_dir(&p->slots->layout, p->slot, err);
	if (p->slot_fd < 0 || extract_clear(p->slot_fd, err) < 0)
		return -1;
	if (mkdirat(p->slot_fd, "wheels", 0755) < 0)
		return error_errno(err, "%s/wheels", p->slot_path);
	wheels = openat(p->slot_fd, "wheels", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (wheels < 0)
		return error_errno(err, "%s/wheels", p->slot_path);
	if (lseek(p->file_fd, 0, SEEK_SET) < 0) {
		close(wheels);
		return error_errno(err, "tarball: seek");
	}
	pip_step(p, HISTORY_INSTALLING, "unpacking the tarball");
	rc = extract_stream(p->file_fd, wheels, &limits, &p->result->stats, err);
	close(wheels);
	return rc < 0 ? error_prefix(err, "unpack: ") : 0;
}

#define PIP_ETC_PYTHON_MAX 4	/* /etc/python3, /etc/python3.X */
#define PIP_FIND_LINKS_MAX 16	/* <slot>/wheels and this many of its directories, less one */

/* What every command of the build shares (on the heap: about 80 KiB). */
struct pip_build {
	struct privsep_identity id;
	struct privsep_sandbox box;
	const char *read[32], *exec[16], *build[4], *write[2];
	char etc_python[PIP_ETC_PYTHON_MAX][NAME_MAX + 8];
	char venv[PATH_MAX + 32], tmp[PATH_MAX + 32], wheels[PATH_MAX + 32],
	     python[PATH_MAX + 32];
	char env_home[PATH_MAX + 48], env_tmp[PATH_MAX + 48];
	char *env[16];
	char links[PIP_FIND_LINKS_MAX][PATH_MAX + 320];
	struct pip_run run;
};

/* /etc/python3* (Debian's sitecustomize.py lives there): their names are
 * the installed Pythons', known only by looking. */
static void pip_etc_python(struct pip_build *b, size_t *n)
{
	DIR *d = opendir("/etc");
	struct dirent *e;
	int found = 0;

	while (d && (e = readdir(d)) != NULL && found < PIP_ETC_PYTHON_MAX) {
		if (strncmp(e->d_name, "python3", 7) || strlen(e->d_name) > NAME_MAX)
			continue;
		snprintf(b->etc_python[found], sizeof b->etc_python[found], "/etc/%s", e->d_name);
		b->read[(*n)++] = b->etc_python[found++];
	}
	if (d)
		closedir(d);
}

static void pip_build_setup(struct pip_build *b, const struct pip *p)
{
	/* What python, venv and pip read: the loader, users, locale and TLS
	 * settings, the distribution's name (pip's user agent: an unreadable
	 * /etc/debian_version is fatal to it), the MIME types (unreadable: fatal
	 * to pip install), /etc/python3.X (found below). */
	static const char *const reads[] = {
		"/etc/passwd", "/etc/group", "/etc/ld.so.cache", "/etc/ld.so.conf",
		"/etc/ld.so.conf.d", "/etc/localtime", "/etc/locale.alias", "/etc/ssl",
		"/etc/os-release", "/etc/debian_version", "/etc/lsb-release", "/etc/mime.types",
		"/dev/urandom",
		"/dev/random",
	};
	static const char *const execs[] = { PRIVSEP_RUN_EXEC };
	size_t i, n = 0;

	snprintf(b->venv, sizeof b->venv, "%s/venv", p->slot_path);
	snprintf(b->tmp, sizeof b->tmp, "%s/.build", p->slot_path);
	snprintf(b->wheels, sizeof b->wheels, "%s/wheels", p->slot_path);
	snprintf(b->python, sizeof b->python, "%s/venv/bin/python", p->slot_path);
	for (i = 0; i < sizeof reads / sizeof reads[0]; i++)
		b->read[n++] = reads[i];
	b->read[n++] = b->wheels;
	pip_etc_python(b, &n);
	b->read[n] = NULL;
	for (i = 0; i < sizeof execs / sizeof execs[0]; i++)
		b->exec[i] = execs[i];
	b->exec[i] = NULL;
	b->build[0] = b->venv;
	b->build[1] = b->tmp;
	b->build[2] = NULL;
	b->write[0] = "/dev/null";
	b->write[1] = NULL;
	b->box = (struct privsep_sandbox){ .read_paths = b->read, .exec_paths = b->exec,
					   .write_paths = b->write, .build_paths = b->build };
	snprintf(b->env_home, sizeof b->env_home, "HOME=%s", b->tmp);
	snprintf(b->env_tmp, sizeof b->env_tmp, "TMPDIR=%s", b->tmp);
	n = 0;
	b->env[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	b->env[n++] = "LC_ALL=C.UTF-8";
	b->env[n++] = b->env_home;
	b->env[n++] = b->env_tmp;
	b->env[n++] = "PIP_NO_INDEX=1";
	b->env[n++] = "PIP_CONFIG_FILE=/dev/null";
	b->env[n++] = "PIP_NO_CACHE_DIR=1";
	b->env[n++] = "PIP_DISABLE_PIP_VERSION_CHECK=1";
	b->env[n++] = "PIP_NO_INPUT=1";
	b->env[n++] = "PYTHONNOUSERSITE=1";
	b->env[n] = NULL;
	b->run = (struct pip_run){ .env = b->env, .cwd = b->tmp, .id = &b->id, .box = &b->box,
				   .timeout_ms = p->section->build_timeout_ms };
}

/* <slot>/venv and <slot>/.build, the build user's for the build. */
static int pip_build_dirs(const struct pip *p, const struct pip_build *b, struct error *err)
{
	static const char *const dirs[] = { "venv", ".build" };
	size_t i;

	for (i = 0; i < 2; i++) {
		if (mkdirat(p->slot_fd, dirs[i], i ? 0700 : 0755) < 0)
			return error_errno(err, "%s/%s", p->slot_path, dirs[i]);
		if (b->id.drop &&
		    fchownat(p->slot_fd, dirs[i], b->id.uid, b->id.gid, AT_SYMLINK_NOFOLLOW) < 0)
			return error_errno(err, "%s/%s: chown", p->slot_path, dirs[i]);
	}
	return 0;
}

/* The kept end of a failed command's output, to the journal (50 lines). */
static void pip_log_output(const char *what, const char *out)
{
	char line[512], shown[4 * 512];
	const char *end;
	size_t n;
	int lines = 0;

	for (; *out && lines < 50; out += n + (end != NULL), lines++) {
		end = strchr(out, '\n');
		n = end ? (size_t)(end - out) : strlen(out);
		snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line - 1 ? n : sizeof line - 1),
			 out);
		text_sanitize(line, shown, sizeof shown);
		log_warn("%s: %s", what, shown);
	}
}

/* Runs argv; a failure is "WHAT failed (exit 1): ERROR: ...". */
static int pip_build_run(struct pip_build *b, char **argv, const char *what, struct error *err)
{
	char reason[512];

	b->run.argv = argv;
	if (pip_run(&b->run, err) < 0)
		return -1;
	if (!b->run.timed_out && WIFEXITED(b->run.status) && WEXITSTATUS(b->run.status) == 0)
		return 0;
	pip_log_output(what, b->run.out);
	pip_run_reason(&b->run, reason, sizeof reason);
	return error_set(err, "%s failed (%s)", what, reason);
}

/* `--find-links` for <slot>/wheels and each directory in it (a tarball
 * may hold its files in one top directory). */
static int pip_find_links(struct pip_build *b, char **argv, int argc, struct error *err)
{
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(b->wheels);
	int n = 0;

	if (!d)
		return error_errno(err, "%s", b->wheels);
	argv[argc++] = "--find-links";
	argv[argc++] = (char *)b->wheels;
	while ((e = readdir(d)) != NULL && n < PIP_FIND_LINKS_MAX - 1) {
		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		snprintf(b->links[n], sizeof b->links[n], "%s/%s", b->wheels, e->d_name);
		argv[argc++] = "--find-links";
		argv[argc++] = b->links[n++];
	}
	closedir(d);
	return argc;
}

/* pip install PACKAGE==VERSION, offline. */
static int pip_build_install(struct pip *p, struct pip_build *b, struct error *err)
{
	char spec[CONFIG_STRATEGY_PACKAGE_MAX + HISTORY_FIELD_MAX + 4];
	char *argv[16 + 2 * PIP_FIND_LINKS_MAX] = {
		b->python, "-m", "pip", "install", "--no-index", "--no-cache-dir",
		"--progress-bar", "off", "--no-warn-script-location",
	};
	int argc = pip_find_links(b, argv, 9, err);

	if (argc < 0)
		return -1;
	snprintf(spec, sizeof spec, "%s==%s", p->section->package,
		 pip_bare_version(p->checks->expected_version));
	argv[argc++] = spec;
	argv[argc] = NULL;
	pip_step(p, HISTORY_INSTALLING, spec);
	return pip_build_run(b, argv, "pip install", err);
}

/* The installed distribution's version, read back by the venv's python,
 * must be the request's. */
static int pip_build_check(struct pip *p, struct pip_build *b, struct error *err)
{
	char *argv[] = {
		b->python, "-I", "-c",
		"import importlib.metadata as m, sys; print(m.version(sys.argv[1]))",
		(char *)(uintptr_t)p->section->package, NULL,
	};
	char shown[4 * 64];
	size_t len;

	if (pip_build_run(b, argv, "version check", err) < 0)
		return -1;
	len = strcspn(b->run.out, "\n");
	b->run.out[len] = '\0';
	if (!strcmp(b->run.out, pip_bare_version(p->checks->expected_version)))
		return 0;
	text_sanitize(b->run.out, shown, sizeof shown);
	return error_set(err, "%s %.64s installed, the request asked for version %s",
			 p->section->package, shown, p->checks->expected_version);
}

/* Step 4. */
static int pip_build(struct pip *p, struct pip_build *b, struct error *err)
{
	char *venv_argv[] = { (char *)(uintptr_t)p->section->python, "-m", "venv", b->venv, NULL };

	if (privsep_identity_resolve(p->config->updater.fetch_user, &b->id, err) < 0 ||
	    pip_build_dirs(p, b, err) < 0)
		return -1;
	pip_step(p, HISTORY_INSTALLING, "creating the virtualenv");
	if (pip_build_run(b, venv_argv, "python -m venv", err) < 0 ||
	    pip_build_install(p, b, err) < 0 || pip_build_check(p, b, err) < 0)
		return -1;
	return 0;
}

/* Removes <slot>/.build, the build's scratch directory. */
static int pip_drop_scratch(struct pip *p, struct error *err)
{
	int fd = openat(p->slot_fd, ".build", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return error_errno(err, "%s/.build", p->slot_path);
	rc = extract_clear(fd, err);
	close(fd);
	if (rc == 0 && unlinkat(p->slot_fd, ".build", AT_REMOVEDIR) < 0)
		rc = error_errno(err, "%s/.build", p->slot_path);
	return rc;
}

/* Step 5: root's tree, the agent's command, durable, `installed`. */
static int pip_finish(struct pip *p, const struct pip_build *b, struct error *err)
{
	char command[CONFIG_STRING_MAX], program[CONFIG_STRING_MAX];
	int venv, rc = 0;

	if (b->id.drop) {
		venv = openat(p->slot_fd, "venv", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (venv < 0)
			return error_errno(err, "%s/venv", p->slot_path);
		rc = pip_chown_tree(venv, getuid(), getgid(), err);
		close(venv);
	}
	if (rc < 0 || pip_drop_scratch(p, err) < 0)
		return -1;
	if (snprintf(command, sizeof command, "venv/%s", p->section->exec) >= (int)sizeof command)
		return error_set(err, "strategy %s: exec: too long with venv/", p->strategy);
	snprintf(program, sizeof program, "%.*s", (int)strcspn(command, " \t"), command);
	if (faccessat(p->slot_fd, program, X_OK, 0) < 0)
		return error_errno(err, "strategy %s: exec: %s is not an executable of the venv",
				   p->strategy, program);
	if (slot_exec_write(p->slot_fd, command, err) < 0 || extract_sync(p->slot_fd, err) < 0)
		return -1;
	snprintf(p->result->manifest.version, sizeof p->result->manifest.version, "%s",
		 p->checks->expected_version);
	return slots_finish_install(p->slots, p->slot, p->result->manifest.version,
				    p->result->manifest.digest, err);
}

/* Leaves no half-built tree marked as anything but empty (as install_stream). */
static void pip_discard(struct pip *p, struct error *err)
{
	struct error cleanup_err = { "" };
	size_t used;

	if ((p->slot_fd >= 0 && extract_clear(p->slot_fd, &cleanup_err) < 0) ||
	    slots_abort_install(p->slots, p->slot, &cleanup_err) < 0) {
		used = strlen(err->text);
		snprintf(err->text + used, sizeof err->text - used, "; cleanup failed: %s",
			 cleanup_err.text);
	}
}

static int pip_run_steps(struct pip *p, struct error *err)
{
	struct pip_build *b;
	int rc = pip_refuse(p, err);

	if (rc != 0) {
		if (rc > 0)
			p->result->outcome = INSTALL_STREAM_IDENTICAL;
		return rc < 0 ? -1 : 0;
	}
	if (pip_fetch(p, err) < 0 || pip_unpack(p, err) < 0)
		return -1;
	b = calloc(1, sizeof *b);
	if (!b)
		return error_errno(err, "build");
	pip_build_setup(b, p);
	rc = pip_build(p, b, err) < 0 || pip_finish(p, b, err) < 0 ? -1 : 0;
	free(b);
	return rc;
}

int install_pip(const struct config *config, const char *strategy, const char *location,
		struct slots *slots, int slot, const struct install_stream_checks *checks,
		const struct install_progress *progress, struct install_stream_result *result,
		struct error *err)
{
	struct pip p = {
		.config = config, .section = config_strategy_find(config, strategy),
		.strategy = strategy, .location = location, .slots = slots, .slot = slot,
		.checks = checks, .progress = progress, .result = result, .file_fd = -1,
		.slot_fd = -1,
	};
	int rc = -1;

	memset(result, 0, sizeof *result);
	result->outcome = INSTALL_STREAM_INSTALLED;
	if (!p.section || p.section->format != STRATEGY_FORMAT_PIP)
		return error_set(err, "strategy %s: not of format pip", strategy);
	layout_slot_path(&slots->layout, slot, p.slot_path, sizeof p.slot_path);
	p.sha256 = EVP_MD_CTX_new();
	if (!p.sha256 || EVP_DigestInit_ex(p.sha256, EVP_sha256(), NULL) != 1)
		error_set(err, "sha256 init failed");
	else
		rc = pip_run_steps(&p, err);
	if (rc < 0 && p.began)
		pip_discard(&p, err);
	if (rc == 0 && result->outcome == INSTALL_STREAM_INSTALLED) {
		result->manifest_ok = 1;
		result->bundle_bytes = p.bytes;
	}
	if (p.slot_fd >= 0)
		close(p.slot_fd);
	if (p.file_fd >= 0)
		close(p.file_fd);
	EVP_MD_CTX_free(p.sha256);
	return rc;
}
