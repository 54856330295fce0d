/* install_pip.h: a [strategy.NAME] of format = pip, from its location into
 * a slot (docs/strategies.md, format = pip).
 *
 * The artifact is a tarball of Python distributions (wheels or sdists): the
 * agent's and every dependency.  It carries no signature, so it is
 * installed only for an authenticated request (checks->authenticated) that
 * names its SHA-256 and an instance_version; refused otherwise before a
 * byte is fetched.  Then, in order:
 *   1. download (the confined fetch process: the section's program, else
 *      the built-in http or file by the location) into an unlinked file in
 *      <root>/cache, hashed on the way, at most [updater] max_bytes;
 *   2. the SHA-256 compared with the request's: nothing is unpacked before;
 *   3. the inactive slot `installing`, cleared; the tarball (gzip, xz, zstd
 *      or plain tar, by its magic) unpacked into <slot>/wheels by the
 *      hardened extractor (updater/extract/extract.h), [updater] max_bytes
 *      and max_entries, set-id bits stripped;
 *   4. as [updater] fetch_user (when root), no_new_privs, Landlock (reads
 *      the system and <slot>/wheels, writes <slot>/venv and <slot>/.build
 *      only, no TCP), in a PID namespace of its own, within the section's
 *      build_timeout each: `python -m venv <slot>/venv`, then
 *      `<slot>/venv/bin/python -m pip install --no-index --find-links
 *      <slot>/wheels[/DIR] PACKAGE==VERSION`, then the installed version read
 *      back through importlib.metadata, which must equal instance_version
 *      (a leading 'v' aside);
 *   5. the venv handed back to root (pip_chown_tree), <slot>/.build removed,
 *      the agent's command written to the slot (include/slot_exec.h:
 *      "venv/" + the section's exec, which must be executable), syncfs, the
 *      slot `installed` with instance_version and the tarball's SHA-256 as
 *      its digest.
 * Any failure after 3 clears the slot and sets it back to `empty`; the
 * running slot is never touched.  A request whose SHA-256 is the running
 * slot's digest is the running slot's tarball: nothing fetched, nothing
 * written (INSTALL_STREAM_IDENTICAL).  Versions: anti-rollback as for
 * bundles. */
#ifndef SLOTD_INSTALL_PIP_H
#define SLOTD_INSTALL_PIP_H

#include "config.h"
#include "install/install.h"
#include "install/install_stream.h"
#include "slots.h"

/* result->manifest.version and .digest are set on success (the rest of the
 * manifest is not).  Returns 0 (see result->outcome) or -1 with err. */
int install_pip(const struct config *config, const char *strategy, const char *location,
		struct slots *slots, int slot, const struct install_stream_checks *checks,
		const struct install_progress *progress, struct install_stream_result *result,
		struct error *err);

#endif
