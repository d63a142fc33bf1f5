/*
 * shared_dict_ops.c — the dictionary's operations, each one C call.
 *
 * An entry lives in one heap block: its links (bucket chain, the stripe's
 * LRU list), hash, last access, expiry, the number (numbers and booleans)
 * and then the key and string value bytes.  Every write locks the one
 * stripe that owns the key's bucket and, only when it allocates or frees,
 * the heap after it.  A `get` takes no lock at all when it can: it checks
 * the stripe's sequence number around its reads (get_optimistic).
 *
 * LRU: each stripe keeps an exact LRU list; each list's tail access time is
 * published in stripe->oldest.  When the heap is full, a store evicts the
 * oldest tail of all stripes (its own, or another it can trylock: a store
 * never waits for a second stripe, so two stores cannot deadlock).
 *
 * Crash safety: a block's `valid` flag is set only once its entry is linked
 * and cleared before it is unlinked.  When a stripe's holder died
 * (EOWNERDEAD), repair_stripe() empties the stripe's buckets and list and
 * relinks every valid block the stripe owns, frees the others: an operation
 * that was under way when its process died either happened or did not.
 */
#include "shared_dict.h"
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#define LSTR_EXPORT __attribute__((visibility("default")))

typedef struct sd_entry {
  uint64_t hnext;             /* next entry (payload offset) in the bucket */
  uint64_t lprev, lnext;      /* the stripe's LRU list: prev = more recent */
  uint64_t hash;
  uint64_t atime;             /* access_tick() of the last use */
  int64_t expires;            /* ns, monotonic; 0 = never */
  double num;
  uint64_t vlen;
  uint16_t klen;
  uint8_t type;
  uint8_t pad[5];
  char data[];                /* key, then the string value */
} sd_entry;

static inline sd_entry *ent(lstr_sdict *d, uint64_t off) { return (sd_entry *)(d->base + off); }
static inline sd_block *hdr_of(lstr_sdict *d, uint64_t off) { return (sd_block *)(d->base + off - sizeof(sd_block)); }

/* ---- time ---- */
static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
/* Access order for the LRU: a fine, system-wide clock (the TSC is shared by
 * every core and process), so that an entry touched a microsecond ago is
 * never taken for the oldest even when the whole heap turns over in a
 * millisecond. */
static inline uint64_t access_tick(void) {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_ia32_rdtsc();
#else
  return (uint64_t)now_ns();
#endif
}
static int64_t expiry_of(double ttl) {
  if (!(ttl > 0)) return 0;
  double ns = ttl * 1e9;
  if (ns > 9e18) return 0;
  int64_t e = now_ns() + (int64_t)ns;
  return e ? e : 1;
}
static inline int expired(const sd_entry *e) { return e->expires && now_ns() >= e->expires; }

/* ---- hashing: 8 bytes at a time (keys are often short) ---- */
static uint64_t hash_key(const char *k, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, k, 8);
    h = (h ^ (w * 0xc2b2ae3d27d4eb4fULL)) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    k += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, k, n);
  h = (h ^ (w * 0xc2b2ae3d27d4eb4fULL)) * 0x9e3779b97f4a7c15ULL;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ULL;
  h ^= h >> 32;
  return h;
}

static inline uint64_t bucket_of(lstr_sdict *d, uint64_t h) { return h & (d->h->nbuckets - 1); }
static inline int stripe_of(uint64_t bucket) { return (int)(bucket % LSTR_SD_STRIPES); }

/* ---- the LRU list of a stripe ---- */
static void publish_oldest(lstr_sdict *d, sd_stripe *st) {
  uint64_t v = st->lru_tail ? ent(d, st->lru_tail)->atime : UINT64_MAX;
  __atomic_store_n(&st->oldest, v, __ATOMIC_RELAXED);
}

static void lru_unlink(lstr_sdict *d, sd_stripe *st, uint64_t off) {
  sd_entry *e = ent(d, off);
  if (e->lprev) ent(d, e->lprev)->lnext = e->lnext; else st->lru_head = e->lnext;
  if (e->lnext) ent(d, e->lnext)->lprev = e->lprev; else st->lru_tail = e->lprev;
  e->lprev = e->lnext = 0;
}

static void lru_push(lstr_sdict *d, sd_stripe *st, uint64_t off) {
  sd_entry *e = ent(d, off);
  e->lprev = 0;
  e->lnext = st->lru_head;
  if (st->lru_head) ent(d, st->lru_head)->lprev = off; else st->lru_tail = off;
  st->lru_head = off;
}

/* Mark an entry used.  As memcached does (it bumps an item at most once a
 * minute), an entry moves to the head of its list at most once per
 * PROMOTE_TICKS (about a millisecond): a read of a hot entry then writes
 * nothing, so its cache line stays shared between the cores of every
 * process reading it.  The list stays ordered by atime. */
#if defined(__x86_64__) || defined(__i386__)
#define PROMOTE_TICKS (1ULL << 21)
#else
#define PROMOTE_TICKS 1000000ULL
#endif
static void touch(lstr_sdict *d, sd_stripe *st, uint64_t off) {
  sd_entry *e = ent(d, off);
  uint64_t now = access_tick();
  if (now - e->atime < PROMOTE_TICKS) return;
  e->atime = now;
  if (st->lru_head != off) {
    int was_tail = st->lru_tail == off;
    lru_unlink(d, st, off);
    lru_push(d, st, off);
    if (was_tail) publish_oldest(d, st);
  } else if (st->lru_tail == off) {
    publish_oldest(d, st);
  }
}

/* ---- chains ---- */
static void link_entry(lstr_sdict *d, int s, uint64_t off) {
  sd_entry *e = ent(d, off);
  uint64_t b = bucket_of(d, e->hash);
  e->hnext = d->buckets[b];
  d->buckets[b] = off;
  sd_stripe *st = &d->stripes[s];
  lru_push(d, st, off);
  st->count++;
  publish_oldest(d, st);
}

/* Find key; *link = the word that points at it (for unlinking). */
static uint64_t find(lstr_sdict *d, uint64_t h, const char *k, size_t kl, uint64_t **link) {
  uint64_t *w = &d->buckets[bucket_of(d, h)];
  for (uint64_t off = *w; off; w = &ent(d, off)->hnext, off = *w) {
    sd_entry *e = ent(d, off);
    if (e->hash == h && e->klen == kl && memcmp(e->data, k, kl) == 0) {
      if (link) *link = w;
      return off;
    }
  }
  return 0;
}

/* Unlink and free the entry at off (its stripe held). */
static void remove_entry(lstr_sdict *d, int s, uint64_t off) {
  sd_entry *e = ent(d, off);
  uint64_t *w = &d->buckets[bucket_of(d, e->hash)];
  while (*w != off) w = &ent(d, *w)->hnext;
  hdr_of(d, off)->valid = 0;     /* before the unlink: a repair frees it */
  *w = e->hnext;
  sd_stripe *st = &d->stripes[s];
  lru_unlink(d, st, off);
  st->count--;
  publish_oldest(d, st);
  sd_heap_free(d, off);
}

/* ---- locks and repair ---- */
static void repair_stripe(lstr_sdict *d, int s) {
  sd_stripe *st = &d->stripes[s];
  for (uint64_t b = (uint64_t)s; b < d->h->nbuckets; b += LSTR_SD_STRIPES) d->buckets[b] = 0;
  st->lru_head = st->lru_tail = 0;
  st->count = 0;
  sd_heap_lock(d);
  int dropped = 0;
  for (uint64_t off = d->h->heap_off; off < d->h->heap_end;) {
    sd_block *b = (sd_block *)(d->base + off);
    uint64_t n = b->size & ~15ULL;
    if ((b->size & 1) && b->owner == (uint32_t)s) {
      if (b->valid) link_entry(d, s, off + sizeof(sd_block));
      else { sd_heap_drop(d, off + sizeof(sd_block)); dropped = 1; }
    }
    off += n;
  }
  if (dropped) sd_heap_rebuild(d);
  sd_heap_unlock(d);
  publish_oldest(d, st);
}

/* The seqlock half of a stripe lock: seq is odd from just after the mutex
 * is taken (before any repair) to just before it is released. */
static void seq_begin(sd_stripe *st) {
  uint64_t v = __atomic_load_n(&st->seq, __ATOMIC_RELAXED);
  __atomic_store_n(&st->seq, (v + 1) | 1, __ATOMIC_RELAXED); /* a dead holder may have left it odd */
  __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void locked(lstr_sdict *d, int s, int rc) {
  seq_begin(&d->stripes[s]);
  if (rc == EOWNERDEAD) {
    repair_stripe(d, s);
    pthread_mutex_consistent(&d->stripes[s].lock);
  }
}

/* Critical sections are tens of nanoseconds: spin a little before the
 * mutex puts us to sleep in the kernel (as nginx's shmtx does). */
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void stripe_lock(lstr_sdict *d, int s) {
  pthread_mutex_t *m = &d->stripes[s].lock;
  for (int spin = 0; spin < 100; spin++) {
    int rc = pthread_mutex_trylock(m);
    if (rc == 0 || rc == EOWNERDEAD) { locked(d, s, rc); return; }
    cpu_relax();
  }
  locked(d, s, pthread_mutex_lock(m));
}

static int stripe_trylock(lstr_sdict *d, int s) {
  int rc = pthread_mutex_trylock(&d->stripes[s].lock);
  if (rc != 0 && rc != EOWNERDEAD) return 0;
  locked(d, s, rc);
  return 1;
}

static void stripe_unlock(lstr_sdict *d, int s) {
  sd_stripe *st = &d->stripes[s];
  __atomic_store_n(&st->seq, __atomic_load_n(&st->seq, __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&st->lock);
}

/* ---- eviction ---- */
/* Evict one entry for a store holding stripe `own`: the least recently used
 * tail of any stripe it can lock without waiting.  0 when nothing could go. */
static int evict_one(lstr_sdict *d, int own, int *forcible) {
  unsigned char tried[LSTR_SD_STRIPES] = {0};
  for (int round = 0; round < 4 * LSTR_SD_STRIPES; round++) {
    int best = -1;
    uint64_t best_t = UINT64_MAX;
    for (int s = 0; s < LSTR_SD_STRIPES; s++) {
      uint64_t t = __atomic_load_n(&d->stripes[s].oldest, __ATOMIC_RELAXED);
      if (!tried[s] && t < best_t) { best = s; best_t = t; }
    }
    if (best < 0) return 0;
    tried[best] = 1;
    if (best != own && !stripe_trylock(d, best)) continue;
    sd_stripe *st = &d->stripes[best];
    uint64_t off = st->lru_tail;
    if (off && ent(d, off)->atime > best_t) {
      /* used since we looked (another store evicted what was older): this
       * is no longer the oldest, look again */
      if (best != own) stripe_unlock(d, best);
      tried[best] = 0;
      continue;
    }
    if (off) {
      if (!expired(ent(d, off))) *forcible = 1;
      remove_entry(d, best, off);
    }
    if (best != own) stripe_unlock(d, best);
    if (off) return 1;
  }
  return 0;
}

/* Allocate and link a new entry (stripe s held).  0 or LSTR_SD_ENOMEM. */
static int insert(lstr_sdict *d, int s, uint64_t h, const char *k, size_t kl, int type,
                  const char *sv, size_t sl, double num, int64_t expires, int *forcible) {
  size_t need = sizeof(sd_entry) + kl + (type == LSTR_SD_STRING ? sl : 0);
  if (need > d->h->heap_end - d->h->heap_off) return LSTR_SD_ENOMEM;
  uint64_t off;
  while (!(off = sd_heap_alloc(d, need, (uint32_t)s)))
    if (!evict_one(d, s, forcible)) return LSTR_SD_ENOMEM;
  sd_entry *e = ent(d, off);
  memset(e, 0, sizeof *e);
  e->hash = h;
  e->klen = (uint16_t)kl;
  e->type = (uint8_t)type;
  e->num = num;
  e->expires = expires;
  e->atime = access_tick();
  memcpy(e->data, k, kl);
  if (type == LSTR_SD_STRING) {
    e->vlen = sl;
    memcpy(e->data + kl, sv, sl);
  }
  link_entry(d, s, off);
  __atomic_store_n(&hdr_of(d, off)->valid, 1, __ATOMIC_RELEASE);
  return 0;
}

/* Lock the key's stripe; return its live entry (expired ones are freed). */
static uint64_t open_key(lstr_sdict *d, const char *k, size_t kl, uint64_t *h, int *s) {
  *h = hash_key(k, kl);
  *s = stripe_of(bucket_of(d, *h));
  stripe_lock(d, *s);
  uint64_t off = find(d, *h, k, kl, NULL);
  if (off && expired(ent(d, off))) {
    remove_entry(d, *s, off);
    off = 0;
  }
  return off;
}

static int is_scalar(int type) { return type == LSTR_SD_NUMBER || type == LSTR_SD_BOOLEAN; }

/* Store into a locked stripe whose live entry for the key is `off` (or 0). */
static int store_locked(lstr_sdict *d, int s, uint64_t h, uint64_t off, const char *k, size_t kl,
                        int type, const char *sv, size_t sl, double num, double ttl, int *forcible) {
  if (off && is_scalar(type) && is_scalar(ent(d, off)->type)) {
    /* numbers change in place: one aligned store each */
    sd_entry *e = ent(d, off);
    e->num = num;
    e->type = (uint8_t)type;
    e->expires = expiry_of(ttl);
    touch(d, &d->stripes[s], off);
    return 0;
  }
  if (off) remove_entry(d, s, off);
  return insert(d, s, h, k, kl, type, sv, sl, num, expiry_of(ttl), forcible);
}

/* ---- the operations ---- */

/* A get that takes no lock: read the stripe's seq, find and copy, and keep
 * the result only if seq was even and did not change.  Everything read may
 * be half-written, so every offset and length is checked against the heap
 * before it is followed.  SD_RETRY sends the caller to the locked get: the
 * stripe was being written, or the entry must be written (it expired, or
 * it is due to move up its LRU list).  Not under TSan, which cannot see
 * that the seq check discards racing reads. */
#define SD_RETRY (-100)
#if defined(__SANITIZE_THREAD__)
#define SD_OPTIMISTIC 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SD_OPTIMISTIC 0
#endif
#endif
#ifndef SD_OPTIMISTIC
#define SD_OPTIMISTIC 1
#endif

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static int get_optimistic(lstr_sdict *d, uint64_t h, const char *k, size_t kl, lstr_sdict_res *r,
                          char *buf, size_t cap) {
  uint64_t b = bucket_of(d, h);
  sd_stripe *st = &d->stripes[stripe_of(b)];
  uint64_t seq = __atomic_load_n(&st->seq, __ATOMIC_ACQUIRE);
  if (seq & 1) return SD_RETRY;
  const uint64_t lo = d->h->heap_off + sizeof(sd_block), hi = d->h->heap_end;
  uint64_t off = LOAD(d->buckets[b]);
  for (int steps = 0; off; steps++) {
    if (off < lo || off + sizeof(sd_entry) + kl > hi || (off & 7) || steps > 1024) return SD_RETRY;
    sd_entry *e = ent(d, off);
    if (LOAD(e->hash) == h && LOAD(e->klen) == kl && memcmp(e->data, k, kl) == 0) break;
    off = LOAD(e->hnext);
  }
  int rc = LSTR_SD_NIL;
  if (off) {
    sd_entry *e = ent(d, off);
    int64_t ex = LOAD(e->expires);
    if (ex && now_ns() >= ex) return SD_RETRY;
    if (access_tick() - LOAD(e->atime) >= PROMOTE_TICKS) return SD_RETRY;
    rc = LOAD(e->type);
    if (rc == LSTR_SD_STRING) {
      uint64_t vl = LOAD(e->vlen);
      if (vl > hi - off - sizeof(sd_entry) - kl) return SD_RETRY;
      r->len = vl;
      if (vl > cap) rc = LSTR_SD_ESMALL;
      else memcpy(buf, e->data + kl, vl);
    } else if (rc == LSTR_SD_NUMBER || rc == LSTR_SD_BOOLEAN) {
      r->num = *(volatile double *)&e->num;
    } else {
      return SD_RETRY;
    }
  }
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  return LOAD(st->seq) == seq ? rc : SD_RETRY;
}

LSTR_EXPORT int lstr_sdict_get(lstr_sdict *d, const char *k, size_t kl, lstr_sdict_res *r,
                               char *buf, size_t cap) {
  if (SD_OPTIMISTIC) {
    uint64_t hash = hash_key(k, kl);
    for (int attempt = 0; attempt < 3; attempt++) {
      int rc = get_optimistic(d, hash, k, kl, r, buf, cap);
      if (rc != SD_RETRY) return rc;
    }
  }
  uint64_t h;
  int s;
  uint64_t off = open_key(d, k, kl, &h, &s);
  int rc = LSTR_SD_NIL;
  if (off) {
    sd_entry *e = ent(d, off);
    rc = e->type;
    if (rc == LSTR_SD_STRING) {
      r->len = e->vlen;
      if (e->vlen > cap) rc = LSTR_SD_ESMALL;
      else memcpy(buf, e->data + e->klen, e->vlen);
    } else {
      r->num = e->num;
    }
    touch(d, &d->stripes[s], off);
  }
  stripe_unlock(d, s);
  return rc;
}

LSTR_EXPORT int lstr_sdict_store(lstr_sdict *d, int mode, const char *k, size_t kl, int type,
                                 const char *sv, size_t sl, double num, double ttl, lstr_sdict_res *r) {
  uint64_t h;
  int s;
  r->forcible = 0;
  uint64_t off = open_key(d, k, kl, &h, &s);
  int rc;
  if (mode == LSTR_SD_ADD && off) rc = LSTR_SD_EEXISTS;
  else if (mode == LSTR_SD_REPLACE && !off) rc = LSTR_SD_ENOTFOUND;
  else if (type == LSTR_SD_NIL) {
    if (off) remove_entry(d, s, off);
    rc = 0;
  } else {
    rc = store_locked(d, s, h, off, k, kl, type, sv, sl, num, ttl, &r->forcible);
  }
  stripe_unlock(d, s);
  return rc;
}

LSTR_EXPORT int lstr_sdict_incr(lstr_sdict *d, const char *k, size_t kl, double delta, int has_init,
                                double init, double ttl, lstr_sdict_res *r) {
  uint64_t h;
  int s;
  r->forcible = 0;
  uint64_t off = open_key(d, k, kl, &h, &s);
  int rc = 0;
  if (off) {
    sd_entry *e = ent(d, off);
    if (e->type != LSTR_SD_NUMBER) rc = LSTR_SD_ENOTNUM;
    else {
      e->num += delta;
      r->num = e->num;
      touch(d, &d->stripes[s], off);
    }
  } else if (!has_init) {
    rc = LSTR_SD_ENOTFOUND;
  } else {
    r->num = init + delta;
    rc = insert(d, s, h, k, kl, LSTR_SD_NUMBER, NULL, 0, r->num, expiry_of(ttl), &r->forcible);
  }
  stripe_unlock(d, s);
  return rc;
}

LSTR_EXPORT int lstr_sdict_cas(lstr_sdict *d, const char *k, size_t kl, int otype, const char *os,
                               size_t osl, double onum, int ntype, const char *ns, size_t nsl,
                               double nnum, double ttl, lstr_sdict_res *r) {
  uint64_t h;
  int s;
  r->forcible = 0;
  uint64_t off = open_key(d, k, kl, &h, &s);
  int match;
  if (!off) match = otype == LSTR_SD_NIL;
  else {
    sd_entry *e = ent(d, off);
    match = e->type == otype &&
            (otype == LSTR_SD_STRING ? e->vlen == osl && memcmp(e->data + e->klen, os, osl) == 0
                                     : e->num == onum);
  }
  int rc = 0;
  if (match) {
    if (ntype == LSTR_SD_NIL) {
      if (off) remove_entry(d, s, off);
      rc = 1;
    } else {
      rc = store_locked(d, s, h, off, k, kl, ntype, ns, nsl, nnum, ttl, &r->forcible);
      if (rc == 0) rc = 1;
    }
  }
  stripe_unlock(d, s);
  return rc;
}

LSTR_EXPORT int lstr_sdict_delete(lstr_sdict *d, const char *k, size_t kl) {
  uint64_t h;
  int s;
  uint64_t off = open_key(d, k, kl, &h, &s);
  if (off) remove_entry(d, s, off);
  stripe_unlock(d, s);
  return off ? 1 : 0;
}

LSTR_EXPORT int lstr_sdict_ttl(lstr_sdict *d, const char *k, size_t kl, lstr_sdict_res *r) {
  uint64_t h;
  int s;
  uint64_t off = open_key(d, k, kl, &h, &s);
  int rc = LSTR_SD_ENOTFOUND;
  if (off) {
    int64_t ex = ent(d, off)->expires;
    r->num = ex ? (double)(ex - now_ns()) / 1e9 : 0;
    if (r->num < 0) r->num = 0;
    rc = 0;
  }
  stripe_unlock(d, s);
  return rc;
}

LSTR_EXPORT int lstr_sdict_expire(lstr_sdict *d, const char *k, size_t kl, double ttl) {
  uint64_t h;
  int s;
  uint64_t off = open_key(d, k, kl, &h, &s);
  if (off) ent(d, off)->expires = expiry_of(ttl);
  stripe_unlock(d, s);
  return off ? 0 : LSTR_SD_ENOTFOUND;
}

LSTR_EXPORT int lstr_sdict_keys(lstr_sdict *d, int max, char *buf, size_t cap, lstr_sdict_res *r) {
  size_t used = 0;
  int n = 0, small = 0;
  for (int s = 0; s < LSTR_SD_STRIPES && (max <= 0 || n < max); s++) {
    stripe_lock(d, s);
    for (uint64_t off = d->stripes[s].lru_head; off && (max <= 0 || n < max); off = ent(d, off)->lnext) {
      sd_entry *e = ent(d, off);
      if (expired(e)) continue;
      if (used + 2 + e->klen <= cap) {
        buf[used] = (char)(e->klen & 0xff);
        buf[used + 1] = (char)(e->klen >> 8);
        memcpy(buf + used + 2, e->data, e->klen);
      } else {
        small = 1;
      }
      used += 2 + e->klen;
      n++;
    }
    stripe_unlock(d, s);
  }
  r->len = used;
  return small ? LSTR_SD_ESMALL : n;
}

LSTR_EXPORT void lstr_sdict_flush_all(lstr_sdict *d) {
  for (int s = 0; s < LSTR_SD_STRIPES; s++) {
    stripe_lock(d, s);
    while (d->stripes[s].lru_head) remove_entry(d, s, d->stripes[s].lru_head);
    stripe_unlock(d, s);
  }
}

LSTR_EXPORT double lstr_sdict_free_space(lstr_sdict *d) {
  return (double)__atomic_load_n(&d->h->free_bytes, __ATOMIC_RELAXED);
}

LSTR_EXPORT double lstr_sdict_capacity(lstr_sdict *d) { return (double)d->h->size; }

/* One stripe at a time (a thread may hold only so many locks, TSan says
 * 64): with stripe s held, the blocks it owns cannot change, so every used
 * block owned by s must be reachable from s's chains and list. */
LSTR_EXPORT int lstr_sdict_check(lstr_sdict *d) {
  uint64_t used = 0;
  sd_heap_lock(d);
  int rc = sd_heap_check(d, &used);
  sd_heap_unlock(d);
  for (int s = 0; s < LSTR_SD_STRIPES && rc == 0; s++) {
    stripe_lock(d, s);
    sd_heap_lock(d);
    sd_stripe *st = &d->stripes[s];
    uint64_t in_chains = 0, in_list = 0, owned = 0, prev = 0;
    for (uint64_t off = d->h->heap_off; off < d->h->heap_end; off += ((sd_block *)(d->base + off))->size & ~15ULL) {
      sd_block *bk = (sd_block *)(d->base + off);
      if ((bk->size & 1) && bk->owner == (uint32_t)s) owned++;
    }
    for (uint64_t b = (uint64_t)s; b < d->h->nbuckets && rc == 0; b += LSTR_SD_STRIPES)
      for (uint64_t off = d->buckets[b]; off; off = ent(d, off)->hnext) {
        sd_block *bk = hdr_of(d, off);
        if (!(bk->size & 1) || bk->owner != (uint32_t)s || !bk->valid) { rc = -20; break; }
        if (bucket_of(d, ent(d, off)->hash) != b) { rc = -21; break; }
        if (ent(d, off)->hash != hash_key(ent(d, off)->data, ent(d, off)->klen)) { rc = -22; break; }
        if (++in_chains > owned) { rc = -23; break; }
      }
    for (uint64_t off = st->lru_head; off && rc == 0; prev = off, off = ent(d, off)->lnext) {
      if (ent(d, off)->lprev != prev) rc = -24;
      if (++in_list > owned) rc = -25;
    }
    if (rc == 0 && (st->lru_tail != prev || in_list != in_chains || st->count != in_chains)) rc = -26;
    if (rc == 0 && owned != in_chains) rc = -27; /* a block the stripe owns that no chain reaches */
    sd_heap_unlock(d);
    stripe_unlock(d, s);
  }
  return rc;
}

/* Fault injection for the crash specs: do what a store does up to the
 * point where its entry is linked but not yet valid, then also take the
 * heap lock, and return holding both — the caller's process is then killed.
 * The next users of the stripe and the heap must find them EOWNERDEAD and
 * repair them (the half-made entry must not appear). */
LSTR_EXPORT int lstr_sdict_debug_die_holding(lstr_sdict *d, const char *k, size_t kl) {
  uint64_t h = hash_key(k, kl);
  int s = stripe_of(bucket_of(d, h));
  stripe_lock(d, s);
  uint64_t off = sd_heap_alloc(d, sizeof(sd_entry) + kl, (uint32_t)s);
  if (!off) return -1;
  sd_entry *e = ent(d, off);
  memset(e, 0, sizeof *e);
  e->hash = h;
  e->klen = (uint16_t)kl;
  e->type = LSTR_SD_NUMBER;
  e->num = 1;
  memcpy(e->data, k, kl);
  link_entry(d, s, off);
  sd_heap_lock(d);
  return 0;
}
