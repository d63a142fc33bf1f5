/*
 * shared_dict_heap.c — the allocator inside a dictionary's arena.
 *
 * Boundary-tag blocks laid end to end from heap_off to heap_end, sizes in
 * multiples of 16.  A block's header is {size | USED | PREV_FREE, owner,
 * valid}; a free block also holds its free-list links and ends with a copy
 * of its size (the footer), so freeing merges with both neighbours.  Free
 * blocks sit in size-class lists (first fit in the smallest class that can
 * hold the request).  Everything here runs under the arena's heap_lock,
 * taken after any stripe lock.
 *
 * Why a crash cannot break it: every change that a walk of the heap can see
 * is one aligned 8-byte store of a header's size word (a split writes the
 * remainder's header inside the block first; a merge grows the surviving
 * block in one store), so the chain of sizes is whole after each store.
 * When a holder of heap_lock dies, sd_heap_rebuild() walks that chain and
 * rebuilds footers, PREV_FREE bits, the lists and free_bytes from it.
 */
#include "shared_dict.h"
#include <errno.h>
#include <string.h>

#define USED 1ULL
#define PREV_FREE 2ULL
#define FLAGS 15ULL
#define MIN_BLOCK 48
#define HDR sizeof(sd_block)
#define NCLASSES 40

typedef struct sd_free {
  sd_block b;
  uint64_t next, prev;  /* block offsets in the same class list, 0 = none */
} sd_free;

/* the size-class list heads: SD_HEAP_RESERVED bytes just before the heap */
static uint64_t *class_heads(lstr_sdict *d) { return (uint64_t *)(d->base + d->h->heap_off) - NCLASSES; }

static inline sd_block *blk(lstr_sdict *d, uint64_t off) { return (sd_block *)(d->base + off); }
static inline uint64_t bsize(const sd_block *b) { return b->size & ~FLAGS; }

static int class_of(uint64_t n) {
  int c = 63 - __builtin_clzll(n);
  return c < NCLASSES ? c : NCLASSES - 1;
}

static void list_push(lstr_sdict *d, uint64_t off) {
  uint64_t *heads = class_heads(d);
  sd_free *f = (sd_free *)blk(d, off);
  int c = class_of(bsize(&f->b));
  f->prev = 0;
  f->next = heads[c];
  if (heads[c]) ((sd_free *)blk(d, heads[c]))->prev = off;
  heads[c] = off;
}

static void list_remove(lstr_sdict *d, uint64_t off) {
  uint64_t *heads = class_heads(d);
  sd_free *f = (sd_free *)blk(d, off);
  if (f->prev) ((sd_free *)blk(d, f->prev))->next = f->next;
  else heads[class_of(bsize(&f->b))] = f->next;
  if (f->next) ((sd_free *)blk(d, f->next))->prev = f->prev;
}

static void write_footer(lstr_sdict *d, uint64_t off, uint64_t n) {
  *(uint64_t *)(d->base + off + n - 8) = n;
}

static void set_prev_free(lstr_sdict *d, uint64_t next, int on) {
  if (next >= d->h->heap_end) return;
  sd_block *b = blk(d, next);
  b->size = on ? (b->size | PREV_FREE) : (b->size & ~PREV_FREE);
}

static void add_free_bytes(lstr_sdict *d, int64_t n) {
  __atomic_fetch_add(&d->h->free_bytes, (uint64_t)n, __ATOMIC_RELAXED);
}

int sd_mutex_init(pthread_mutex_t *m) {
  pthread_mutexattr_t a;
  if (pthread_mutexattr_init(&a)) return -1;
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  int rc = pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
  return rc ? -1 : 0;
}

void sd_heap_init(lstr_sdict *d) {
  memset(class_heads(d), 0, NCLASSES * sizeof(uint64_t));
  uint64_t off = d->h->heap_off, n = d->h->heap_end - off;
  sd_block *b = blk(d, off);
  b->size = n;
  b->owner = b->valid = 0;
  write_footer(d, off, n);
  list_push(d, off);
  d->h->free_bytes = n;
}

void sd_heap_lock(lstr_sdict *d) {
  int rc = pthread_mutex_lock(&d->h->heap_lock);
  if (rc == EOWNERDEAD) {
    sd_heap_rebuild(d);
    pthread_mutex_consistent(&d->h->heap_lock);
  }
}

void sd_heap_unlock(lstr_sdict *d) { pthread_mutex_unlock(&d->h->heap_lock); }

/* Under heap_lock. */
static uint64_t alloc_locked(lstr_sdict *d, size_t bytes, uint32_t owner) {
  uint64_t need = (bytes + HDR + 15) & ~15ULL;
  if (need < MIN_BLOCK) need = MIN_BLOCK;
  if (need > d->h->heap_end - d->h->heap_off) return 0;
  uint64_t *heads = class_heads(d);
  uint64_t off = 0;
  for (int c = class_of(need); c < NCLASSES && !off; c++)
    for (uint64_t o = heads[c]; o; o = ((sd_free *)blk(d, o))->next)
      if (bsize(blk(d, o)) >= need) { off = o; break; }
  if (!off) return 0;
  sd_block *b = blk(d, off);
  uint64_t n = bsize(b);
  list_remove(d, off);
  b->owner = owner;          /* before the size store makes it a used block */
  b->valid = 0;
  uint64_t keep = b->size & PREV_FREE;
  if (n - need >= MIN_BLOCK) {
    uint64_t rest = off + need;
    blk(d, rest)->size = n - need;  /* invisible until the store below */
    blk(d, rest)->owner = blk(d, rest)->valid = 0;
    write_footer(d, rest, n - need);
    list_push(d, rest);
    __atomic_store_n(&b->size, need | USED | keep, __ATOMIC_RELEASE);
  } else {
    need = n;
    __atomic_store_n(&b->size, need | USED | keep, __ATOMIC_RELEASE);
    set_prev_free(d, off + n, 0);
  }
  add_free_bytes(d, -(int64_t)need);
  return off + HDR;
}

uint64_t sd_heap_alloc(lstr_sdict *d, size_t bytes, uint32_t owner) {
  sd_heap_lock(d);
  uint64_t p = alloc_locked(d, bytes, owner);
  sd_heap_unlock(d);
  return p;
}

static void free_locked(lstr_sdict *d, uint64_t payload) {
  uint64_t off = payload - HDR;
  sd_block *b = blk(d, off);
  uint64_t n = bsize(b), end = d->h->heap_end;
  add_free_bytes(d, (int64_t)n);
  uint64_t next = off + n;
  if (next < end && !(blk(d, next)->size & USED)) {
    list_remove(d, next);
    n += bsize(blk(d, next));
  }
  if (b->size & PREV_FREE) {
    uint64_t pn = *(uint64_t *)(d->base + off - 8);
    uint64_t prev = off - pn;
    list_remove(d, prev);
    n += pn;
    off = prev;
    b = blk(d, off);
  }
  __atomic_store_n(&b->size, n | (b->size & PREV_FREE), __ATOMIC_RELEASE);
  b->owner = b->valid = 0;
  write_footer(d, off, n);
  set_prev_free(d, off + n, 1);
  list_push(d, off);
}

void sd_heap_free(lstr_sdict *d, uint64_t payload) {
  sd_heap_lock(d);
  free_locked(d, payload);
  sd_heap_unlock(d);
}

/* Under heap_lock (or with no other user): everything but the size chain
 * is derived again from the size chain. */
void sd_heap_rebuild(lstr_sdict *d) {
  memset(class_heads(d), 0, NCLASSES * sizeof(uint64_t));
  uint64_t off = d->h->heap_off, end = d->h->heap_end, total = 0;
  int prev_free = 0;
  while (off < end) {
    sd_block *b = blk(d, off);
    uint64_t n = bsize(b);
    if (!(b->size & USED)) {
      /* swallow the free blocks that follow */
      while (off + n < end && !(blk(d, off + n)->size & USED)) n += bsize(blk(d, off + n));
      b->size = n | (prev_free ? PREV_FREE : 0);
      b->owner = b->valid = 0;
      write_footer(d, off, n);
      list_push(d, off);
      total += n;
      prev_free = 1;
    } else {
      b->size = (b->size & ~PREV_FREE) | (prev_free ? PREV_FREE : 0);
      prev_free = 0;
    }
    off += n;
  }
  __atomic_store_n(&d->h->free_bytes, total, __ATOMIC_RELAXED);
}

/* Mark a used block free without touching the lists (repair only; a
 * rebuild follows). */
void sd_heap_drop(lstr_sdict *d, uint64_t payload) {
  sd_block *b = blk(d, payload - HDR);
  b->size &= ~USED;
}

/* 0 when the heap is whole; counts used blocks. */
int sd_heap_check(lstr_sdict *d, uint64_t *used_blocks) {
  uint64_t off = d->h->heap_off, end = d->h->heap_end, free_total = 0, nfree = 0;
  int prev_free = 0;
  *used_blocks = 0;
  while (off < end) {
    sd_block *b = blk(d, off);
    uint64_t n = bsize(b);
    if (n < MIN_BLOCK || (n & 15) || off + n > end) return -1;
    if (!!(b->size & PREV_FREE) != prev_free) return -2;
    if (!(b->size & USED)) {
      if (prev_free) return -3; /* two free neighbours were not merged */
      if (*(uint64_t *)(d->base + off + n - 8) != n) return -4;
      free_total += n;
      nfree++;
      prev_free = 1;
    } else {
      (*used_blocks)++;
      prev_free = 0;
    }
    off += n;
  }
  if (off != end) return -5;
  if (free_total != __atomic_load_n(&d->h->free_bytes, __ATOMIC_RELAXED)) return -6;
  uint64_t *heads = class_heads(d), listed = 0;
  for (int c = 0; c < NCLASSES; c++) {
    uint64_t prev = 0;
    for (uint64_t o = heads[c]; o; o = ((sd_free *)blk(d, o))->next) {
      sd_free *f = (sd_free *)blk(d, o);
      if ((f->b.size & USED) || class_of(bsize(&f->b)) != c || f->prev != prev) return -7;
      prev = o;
      if (++listed > nfree) return -8;
    }
  }
  return listed == nfree ? 0 : -9;
}
