/* diff.c: `slotpack diff OLD NEW`: what a guest running OLD would fetch of
 * NEW, worked out the way the guest does it (bundle_plan_make against OLD's
 * tree, unpacked into a temporary directory by the guest's extractor):
 * blocks and bytes rebuilt, blocks, ranges and bytes fetched, and the share
 * of NEW's size that is. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle_delta.h"
#include "extract/extract.h"
#include "slotpack.h"

static int diff_temp_dir(char *path, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(path, len, "%s/slotpack-diff.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(path)) {
		fprintf(stderr, "slotpack: diff: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void diff_print(const char *new_path, uint64_t size, const struct bundle_head *head,
		       const struct bundle_plan *plan)
{
	/* the head as a guest fetches it (BUNDLE_DELTA_HEAD_GUESS) */
	uint64_t head_bytes = head->payload_offset > BUNDLE_DELTA_HEAD_GUESS ? head->payload_offset :
			      size < BUNDLE_DELTA_HEAD_GUESS ? size : BUNDLE_DELTA_HEAD_GUESS;
	uint64_t fetched = head_bytes + plan->fetch_bytes;

	printf("bundle:   %s, %" PRIu64 " bytes, %u blocks\n", new_path, size, plan->blocks);
	printf("reused:   %u blocks, %" PRIu64 " bytes\n", plan->reused, plan->reused_bytes);
	printf("fetched:  %u blocks in %zu ranges, %" PRIu64 " bytes, and %" PRIu64
	       " bytes of head and index\n", plan->blocks - plan->reused, plan->range_count,
	       plan->fetch_bytes, head_bytes);
	printf("total:    %" PRIu64 " of %" PRIu64 " bytes (%.1f%%)\n", fetched, size,
	       size ? 100.0 * (double)fetched / (double)size : 0.0);
}

static int diff_plan(const char *new_path, int new_fd, const struct bundle_reader_options *o,
		     int tree_fd)
{
	struct bundle_head head;
	struct bundle_plan plan;
	struct error err = { "" };
	struct stat st;
	int index_fd, rc = 1;

	index_fd = open(getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
			O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (index_fd < 0 || fstat(new_fd, &st) < 0) {
		fprintf(stderr, "slotpack: diff: %s\n", strerror(errno));
		goto out;
	}
	if (bundle_read_head(new_fd, o, index_fd, &head, &err) < 0) {
		fprintf(stderr, "slotpack: %s: %s\n", new_path, err.text);
		goto out;
	}
	if (head.manifest.format != BUNDLE_FORMAT_DELTA) {
		printf("bundle:   %s, %" PRIu64 " bytes, format %u: fetched whole (100%%)\n",
		       new_path, (uint64_t)st.st_size, head.manifest.format);
		rc = 0;
	} else if (bundle_plan_make(&head, index_fd, tree_fd, -1, -1, &plan, &err) < 0) {
		fprintf(stderr, "slotpack: %s: %s\n", new_path, err.text);
	} else {
		diff_print(new_path, (uint64_t)st.st_size, &head, &plan);
		bundle_plan_free(&plan);
		rc = 0;
	}
	bundle_head_free(&head);
out:
	if (index_fd >= 0)
		close(index_fd);
	return rc;
}

int slotpack_diff(const char *old_path, const char *new_path,
		  const struct bundle_reader_options *o)
{
	char dir[PATH_MAX];
	struct error err = { "" };
	int new_fd, tree_fd, rc = 1;

	new_fd = open(new_path, O_RDONLY | O_CLOEXEC);
	if (new_fd < 0) {
		fprintf(stderr, "slotpack: %s: %s\n", new_path, strerror(errno));
		return 1;
	}
	tree_fd = diff_temp_dir(dir, sizeof dir);
	if (tree_fd < 0)
		goto out;
	if (slotpack_extract_into(old_path, o, tree_fd) == 0)
		rc = diff_plan(new_path, new_fd, o, tree_fd);
	if (extract_clear(tree_fd, &err) < 0)
		fprintf(stderr, "slotpack: diff: %s: %s\n", dir, err.text);
	close(tree_fd);
	rmdir(dir);
out:
	close(new_fd);
	return rc;
}
