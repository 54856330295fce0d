/* pool.c: see updater/extract/extract_pool.h.
 *
 * One mutex and one condition variable for everything: at most six threads
 * wait on it, and every change (a slot filled, decoded, released; the end;
 * a cancel) may concern any of them, so each change is a broadcast.  The
 * work itself (copying a member in, decoding it, extracting a chunk) runs
 * outside the lock. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extract/extract_internal.h"
#include "extract/extract_pool.h"

enum pool_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_DECODING, SLOT_DONE, SLOT_FAILED };

struct pool_slot {
	enum pool_state state;
	uint64_t seq;			/* the member's index in the payload */
	unsigned char *in, *out;	/* the member; its chunk (chunk_size + 1) */
	size_t in_len, in_cap, out_len;
	int plain;			/* in is the chunk itself: copied, not decoded */
	struct error err;		/* SLOT_FAILED */
};

struct pool_thread {
	struct extract_pool *pool;
	struct extract_member decoder;
	pthread_t id;
	int running;
};

struct extract_pool {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	uint32_t chunk_size;
	unsigned nthreads, nslots;
	struct pool_thread threads[EXTRACT_POOL_THREADS_MAX];
	struct pool_slot slots[EXTRACT_POOL_THREADS_MAX + 1];
	uint64_t submitted, consumed;	/* the next member in, the next out */
	int closed, cancelled, failed, stopping;
	struct pool_slot *held;		/* the chunk the consumer reads */
	size_t last_len;		/* decoded length of the last chunk consumed */
	int short_ok;			/* format 3: any member may decode short */
};

/* The queued member with the lowest index: decoding in payload order keeps
 * the consumer from waiting on a member queued later. */
static struct pool_slot *pool_oldest_queued(struct extract_pool *p)
{
	struct pool_slot *best = NULL;

	for (unsigned i = 0; i < p->nslots; i++)
		if (p->slots[i].state == SLOT_QUEUED && (!best || p->slots[i].seq < best->seq))
			best = &p->slots[i];
	return best;
}

static void *pool_decoder_main(void *arg)
{
	struct pool_thread *t = arg;
	struct extract_pool *p = t->pool;
	struct pool_slot *s;
	int rc;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stopping && !(s = pool_oldest_queued(p)))
			pthread_cond_wait(&p->changed, &p->lock);
		if (p->stopping)
			break;
		s->state = SLOT_DECODING;
		pthread_mutex_unlock(&p->lock);
		if (s->plain) {
			memcpy(s->out, s->in, s->in_len);
			s->out_len = s->in_len;
			rc = 0;
		} else {
			rc = extract_member_decode(&t->decoder, s->in, s->in_len, s->out,
						   p->chunk_size, &s->out_len, &s->err);
		}
		pthread_mutex_lock(&p->lock);
		s->state = rc < 0 ? SLOT_FAILED : SLOT_DONE;
		if (rc < 0)
			p->failed = 1;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* One decoder per online CPU this process may run on: more would only
 * take turns, each holding a chunk. */
static unsigned pool_thread_count(unsigned threads)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t mine;

	if (threads == 0) {
		threads = cpus > 0 ? (unsigned)cpus : 1;
		if (sched_getaffinity(0, sizeof mine, &mine) == 0 && CPU_COUNT(&mine) > 0 &&
		    (unsigned)CPU_COUNT(&mine) < threads)
			threads = (unsigned)CPU_COUNT(&mine);
	}
	return threads > EXTRACT_POOL_THREADS_MAX ? EXTRACT_POOL_THREADS_MAX : threads;
}

static int pool_start(struct extract_pool *p, const char *compression, unsigned threads,
		      struct error *err)
{
	p->nthreads = pool_thread_count(threads);
	/* one per decoder and the one the consumer reads: the producer waits
	 * for a free one while it reads and hashes the next block */
	p->nslots = p->nthreads + 1;
	for (unsigned i = 0; i < p->nslots; i++) {
		p->slots[i].out = malloc((size_t)p->chunk_size + 1);
		if (!p->slots[i].out)
			return error_errno(err, "payload: decoder buffers");
	}
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct pool_thread *t = &p->threads[i];

		t->pool = p;
		if (extract_member_init(&t->decoder, compression, err) < 0)
			return -1;
		errno = pthread_create(&t->id, NULL, pool_decoder_main, t);
		if (errno)
			return error_errno(err, "payload: decoder thread");
		t->running = 1;
	}
	return 0;
}

struct extract_pool *extract_pool_new(const char *compression, uint32_t chunk_size,
				      unsigned threads, struct error *err)
{
	struct extract_pool *p = calloc(1, sizeof *p);

	if (!p) {
		error_errno(err, "payload: decoder pool");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	p->chunk_size = chunk_size;
	if (pool_start(p, compression, threads, err) < 0) {
		extract_pool_free(p);
		return NULL;
	}
	return p;
}

static struct pool_slot *pool_free_slot(struct extract_pool *p)
{
	for (unsigned i = 0; i < p->nslots; i++)
		if (p->slots[i].state == SLOT_FREE)
			return &p->slots[i];
	return NULL;
}

void extract_pool_allow_short(struct extract_pool *p)
{
	p->short_ok = 1;
}

static int pool_submit(struct extract_pool *p, const void *member, size_t len, int plain,
		       struct error *err);

int extract_pool_submit(struct extract_pool *p, const void *member, size_t len,
			struct error *err)
{
	return pool_submit(p, member, len, 0, err);
}

int extract_pool_submit_plain(struct extract_pool *p, const void *chunk, size_t len,
			      struct error *err)
{
	if (len == 0 || len > p->chunk_size)
		return error_set(err, "payload: a plain chunk of %zu bytes", len);
	return pool_submit(p, chunk, len, 1, err);
}

static int pool_submit(struct extract_pool *p, const void *member, size_t len, int plain,
		       struct error *err)
{
	struct pool_slot *s;

	pthread_mutex_lock(&p->lock);
	while (!p->cancelled && !p->failed && !(s = pool_free_slot(p)))
		pthread_cond_wait(&p->changed, &p->lock);
	if (p->cancelled || p->failed) {
		pthread_mutex_unlock(&p->lock);
		return error_set(err, "extraction stopped");
	}
	s->state = SLOT_FILLING;	/* the producer's until queued */
	pthread_mutex_unlock(&p->lock);
	if (len > s->in_cap) {
		unsigned char *grown = realloc(s->in, len);

		if (!grown) {
			pthread_mutex_lock(&p->lock);
			s->state = SLOT_FREE;
			pthread_mutex_unlock(&p->lock);
			return error_errno(err, "payload: member %llu",
					   (unsigned long long)p->submitted);
		}
		s->in = grown;
		s->in_cap = len;
	}
	memcpy(s->in, member, len);
	s->in_len = len;
	s->plain = plain;
	pthread_mutex_lock(&p->lock);
	s->seq = p->submitted++;
	s->state = SLOT_QUEUED;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void pool_set(struct extract_pool *p, int *flag)
{
	pthread_mutex_lock(&p->lock);
	*flag = 1;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

void extract_pool_close(struct extract_pool *p)
{
	pool_set(p, &p->closed);
}

void extract_pool_cancel(struct extract_pool *p)
{
	pool_set(p, &p->cancelled);
}

/* The slot holding member `seq` once it is decoded (or failed), else NULL. */
static struct pool_slot *pool_ready(struct extract_pool *p, uint64_t seq)
{
	for (unsigned i = 0; i < p->nslots; i++) {
		struct pool_slot *s = &p->slots[i];

		if (s->seq == seq && (s->state == SLOT_DONE || s->state == SLOT_FAILED))
			return s;
	}
	return NULL;
}

/* Called with the lock held, on the next member in order. */
static long pool_take(struct extract_pool *p, struct pool_slot *s, const void **data,
		      struct error *err)
{
	if (s->state == SLOT_FAILED) {
		*err = s->err;
		error_prefix(err, "payload member %llu: ", (unsigned long long)s->seq);
		return -1;
	}
	/* only the last member may decode short: this one is not the last */
	if (s->seq > 0 && p->last_len < p->chunk_size && !p->short_ok) {
		p->failed = 1;
		return error_set(err, "payload member %llu: decodes to %zu bytes, fewer than the "
				 "chunk size (%u), and is not the last",
				 (unsigned long long)s->seq - 1, p->last_len, p->chunk_size);
	}
	p->held = s;
	p->consumed++;
	p->last_len = s->out_len;
	*data = s->out;
	return (long)s->out_len;
}

long extract_pool_next(void *pool, const void **data, struct error *err)
{
	struct extract_pool *p = pool;
	struct pool_slot *s;
	long n;

	pthread_mutex_lock(&p->lock);
	if (p->held) {
		p->held->state = SLOT_FREE;
		p->held = NULL;
		pthread_cond_broadcast(&p->changed);
	}
	while (!(s = pool_ready(p, p->consumed)) && !(p->closed && p->consumed == p->submitted))
		pthread_cond_wait(&p->changed, &p->lock);
	n = s ? pool_take(p, s, data, err) : 0;
	if (n < 0)
		pthread_cond_broadcast(&p->changed);	/* a waiting producer stops */
	pthread_mutex_unlock(&p->lock);
	return n;
}

unsigned extract_pool_threads(const struct extract_pool *p)
{
	return p->nthreads;
}

void extract_pool_free(struct extract_pool *p)
{
	if (!p)
		return;
	pool_set(p, &p->stopping);
	for (unsigned i = 0; i < EXTRACT_POOL_THREADS_MAX; i++) {
		if (p->threads[i].running)
			pthread_join(p->threads[i].id, NULL);
		extract_member_end(&p->threads[i].decoder);
	}
	for (unsigned i = 0; i < EXTRACT_POOL_THREADS_MAX + 1; i++) {
		free(p->slots[i].in);
		free(p->slots[i].out);
	}
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
