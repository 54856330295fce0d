/* plan.c: which blocks of a format 3 bundle a tree rebuilds, and the byte
 * ranges of the bundle to fetch for the others (see
 * updater/bundle/bundle_delta.h).  One pass over the index; memory: one
 * block, one bit per block and one range per run of blocks to fetch. */
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle_delta.h"

int bundle_plan_reused(const struct bundle_plan *plan, uint32_t block)
{
	return block < plan->blocks && (plan->reuse[block / 8] >> (block % 8) & 1);
}

void bundle_plan_free(struct bundle_plan *plan)
{
	free(plan->reuse);
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

int bundle_plan_make(const struct bundle_head *head, int index_fd, int tree_fd,
		     struct bundle_plan *plan, struct error *err)
{
	const struct bundle_manifest *m = &head->manifest;
	struct bundle_index_reader *r = malloc(sizeof *r);
	struct bundle_rebuild *rb = malloc(sizeof *rb);
	unsigned char *block = malloc(m->chunk_size);
	struct bundle_index_block b;
	uint64_t offset = head->payload_offset;
	int match, rc = -1;

	memset(plan, 0, sizeof *plan);
	plan->blocks = m->block_count;
	plan->reuse = calloc(((size_t)m->block_count + 7) / 8, 1);
	plan->ranges = calloc(m->block_count, sizeof *plan->ranges);
	if (!r || !rb || !block || !plan->reuse || !plan->ranges) {
		error_set(err, "delta: out of memory");
		goto out;
	}
	bundle_rebuild_init(rb, tree_fd, m->created);
	if (bundle_index_open(r, index_fd, m->index_size, m->block_count, m->chunk_size, err) < 0)
		goto out;
	for (uint32_t i = 0; i < m->block_count; i++) {
		uint32_t len = bundle_head_block_len(head, i);

		if (bundle_index_block(r, &b, err) < 0 ||
		    bundle_rebuild_block(rb, r, &b, block, &match, err) < 0)
			goto out;
		if (match) {
			plan->reuse[i / 8] |= (unsigned char)(1u << (i % 8));
			plan->reused++;
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
	if (rb)
		bundle_rebuild_end(rb);
	if (rc < 0)
		bundle_plan_free(plan);
	free(r);
	free(rb);
	free(block);
	return rc;
}
