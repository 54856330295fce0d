/* plan.c: which blocks of a format 3 bundle a tree rebuilds, and the byte
 * ranges of the bundle to fetch for the others (see
 * updater/bundle/bundle_delta.h).  One pass over the index; memory: one
 * block (two with a second tree), two bits per block and one range per run
 * of blocks to fetch; the second tree's blocks go to a file. */
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "bundle/bundle_delta.h"

int bundle_plan_reused(const struct bundle_plan *plan, uint32_t block)
{
	return block < plan->blocks && (plan->reuse[block / 8] >> (block % 8) & 1);
}

int bundle_plan_stashed(const struct bundle_plan *plan, uint32_t block)
{
	return block < plan->blocks && (plan->stash[block / 8] >> (block % 8) & 1);
}

void bundle_plan_free(struct bundle_plan *plan)
{
	free(plan->reuse);
	free(plan->stash);
	free(plan->ranges);
	memset(plan, 0, sizeof *plan);
}

/* Adds [offset, offset+len) to the ranges, merged with the last if adjacent. */
static void plan_add_range(struct bundle_plan *plan, uint64_t offset, uint64_t len)
{
	struct bundle_range *last = plan->range_count ? &plan->ranges[plan->range_count - 1] :
				    NULL;

	if (last && last->offset + last->len == offset) {
		last->len += len;
		return;
	}
	plan->ranges[plan->range_count].offset = offset;
	plan->ranges[plan->range_count].len = len;
	plan->range_count++;
}

/* Block i's verdict: from the tree, from the other tree (stashed), or to fetch. */
static int plan_block(struct bundle_plan *plan, uint32_t i, const int *match, unsigned trees,
		      const unsigned char *other, uint32_t plain_len, int stash_fd,
		      struct error *err)
{
	unsigned char bit = (unsigned char)(1u << (i % 8));

	if (match[0]) {
		plan->reuse[i / 8] |= bit;
		plan->reused++;
		return 1;
	}
	if (trees < 2 || !match[1])
		return 0;
	if (atomic_write_all(stash_fd, other, plain_len) < 0)
		return error_errno(err, "delta: stash: write");
	plan->stash[i / 8] |= bit;
	plan->stashed++;
	return 1;
}

int bundle_plan_make(const struct bundle_head *head, int index_fd, int tree_fd, int other_fd,
		     int stash_fd, struct bundle_plan *plan, struct error *err)
{
	const struct bundle_manifest *m = &head->manifest;
	struct bundle_index_reader *r = malloc(sizeof *r);
	struct bundle_rebuild *rbs[2] = { malloc(sizeof *rbs[0]), malloc(sizeof *rbs[1]) };
	unsigned char *blocks[2] = { malloc(m->chunk_size), malloc(m->chunk_size) };
	unsigned trees = other_fd >= 0 ? 2 : 1;
	struct bundle_index_block b;
	uint64_t offset = head->payload_offset;
	int match[2], rc = -1, got;

	memset(plan, 0, sizeof *plan);
	plan->blocks = m->block_count;
	plan->reuse = calloc(((size_t)m->block_count + 7) / 8, 1);
	plan->stash = calloc(((size_t)m->block_count + 7) / 8, 1);
	plan->ranges = calloc(m->block_count, sizeof *plan->ranges);
	if (!r || !rbs[0] || !rbs[1] || !blocks[0] || !blocks[1] || !plan->reuse ||
	    !plan->stash || !plan->ranges) {
		error_set(err, "delta: out of memory");
		goto out;
	}
	bundle_rebuild_init(rbs[0], tree_fd, m->created);
	bundle_rebuild_init(rbs[1], other_fd, m->created);
	if (bundle_index_open(r, index_fd, m->index_size, m->block_count, m->chunk_size, err) < 0)
		goto out;
	for (uint32_t i = 0; i < m->block_count; i++) {
		uint32_t len = bundle_head_block_len(head, i);

		if (bundle_index_block(r, &b, err) < 0 ||
		    bundle_rebuild_trees(rbs, trees, r, &b, blocks, match, err) < 0)
			goto out;
		got = plan_block(plan, i, match, trees, blocks[1], b.plain_len, stash_fd, err);
		if (got < 0)
			goto out;
		if (got) {
			plan->reused_bytes += len;
		} else {
			plan->fetch_bytes += len;
			plan_add_range(plan, offset, len);
		}
		offset += len;
	}
	if (bundle_index_end(r, err) < 0)
		goto out;
	rc = 0;
out:
	for (unsigned t = 0; t < 2; t++) {
		if (rbs[t])
			bundle_rebuild_end(rbs[t]);
		free(rbs[t]);
		free(blocks[t]);
	}
	if (rc < 0)
		bundle_plan_free(plan);
	free(r);
	return rc;
}
