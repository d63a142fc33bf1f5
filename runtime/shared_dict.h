/*
 * shared_dict.h — require('shared').dict(): one dictionary in one shared
 * memory arena, the same for every thread and process of one scope.
 *
 * The arena (docs/shared.md has the picture):
 *   header | stripes[LSTR_SD_STRIPES] | buckets[nbuckets] | heap
 * Offsets, never pointers, link everything: each process maps the arena at
 * its own address.  A key's hash picks its bucket; a bucket belongs to the
 * stripe (bucket % LSTR_SD_STRIPES) whose robust mutex guards that stripe's
 * chains and its LRU list.  The heap (boundary-tag blocks, first fit, one
 * free list) has its own robust mutex, always taken last.  No operation
 * takes a lock that covers the whole dictionary, and reads take none: they
 * check the stripe's sequence number (odd while it is locked) instead.
 *
 * Every operation is one C call (Lua reaches these through LuaJIT's FFI,
 * lua/shared.lua): its result is the return value plus a lstr_sdict_res the
 * caller owns.
 *
 * Crash safety: a process killed while holding a lock leaves the robust
 * mutex EOWNERDEAD; the next holder rebuilds what that lock guards from the
 * heap, which is walkable after every single store (see shared_dict_heap.c).
 */
#ifndef LSTR_SHARED_DICT_H
#define LSTR_SHARED_DICT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LSTR_SD_STRIPES 128
#define LSTR_SD_MAGIC 0x4c53445431ULL /* "LSDT1" */
#define LSTR_SD_MAX_KEY 65535

/* value types (lstr_sdict_res.type, get's return value) */
enum { LSTR_SD_NIL = 0, LSTR_SD_NUMBER = 1, LSTR_SD_BOOLEAN = 2, LSTR_SD_STRING = 3 };

/* errors (negative return values) */
enum {
  LSTR_SD_ENOTFOUND = -1,  /* 'not found' */
  LSTR_SD_EEXISTS = -2,    /* 'exists' */
  LSTR_SD_ENOTNUM = -3,    /* 'not a number' */
  LSTR_SD_ENOMEM = -4,     /* 'no memory' */
  LSTR_SD_ESMALL = -5,     /* the caller's buffer is too small: res.len says how big */
};

/* set/add/replace */
enum { LSTR_SD_SET = 0, LSTR_SD_ADD = 1, LSTR_SD_REPLACE = 2 };

typedef struct lstr_sdict_res {
  double num;      /* number/boolean value, incr's result, ttl's seconds */
  size_t len;      /* string length (or the size get needs) */
  int32_t type;    /* LSTR_SD_* value type */
  int32_t forcible;/* an entry that had not expired was evicted */
} lstr_sdict_res;

/* ---- in the arena ---- */
typedef struct sd_stripe {
  pthread_mutex_t lock;
  uint64_t seq;                /* odd while the lock is held (atomic): readers that take
                                  no lock check it did not change (a seqlock) */
  uint64_t lru_head, lru_tail; /* most / least recently used entry (0 = none) */
  uint64_t oldest;             /* atime of lru_tail (atomic): eviction picks the minimum */
  uint64_t count;
} __attribute__((aligned(64))) sd_stripe;

typedef struct sd_header {
  uint64_t magic;              /* LSTR_SD_MAGIC once initialised (atomic, release) */
  uint64_t size;               /* whole arena */
  uint64_t nbuckets;           /* power of two */
  uint64_t buckets_off, heap_off, heap_end;
  uint64_t free_bytes;         /* atomic: what freeSpace reports */
  pthread_mutex_t heap_lock;
  char pad[64];
} sd_header;

/* a process's view of one arena: shared by every state of the process */
typedef struct lstr_sdict {
  char *base;
  size_t size;
  sd_header *h;
  sd_stripe *stripes;
  uint64_t *buckets;
  int refs;                    /* under the registry lock (shared_dict.c) */
  int own_scope;               /* this process is the scope: unlink at exit */
  char *shm_name;
  struct lstr_sdict *next;
} lstr_sdict;

/* ---- shared_dict.c: arenas by name ---- */
/* The scope of this process: the cluster primary's pid in a cluster worker,
 * else our own.  is_main/is_cluster_worker come from the calling state. */
int lstr_sdict_scope(int is_main, int is_cluster_worker);
/* Create or attach `name` in `scope` (size used only when creating).
 * NULL with a message in err on failure. */
lstr_sdict *lstr_sdict_open(const char *name, double size, int scope, char *err, size_t errlen);
void lstr_sdict_close(lstr_sdict *d);
/* Lay out a fresh arena in `mem` (also used by the fuzz target). */
int lstr_sdict_format(void *mem, size_t size);
/* A view of an arena already formatted in `mem` (no name, no registry). */
void lstr_sdict_bind(lstr_sdict *d, void *mem, size_t size);

/* ---- shared_dict_ops.c: the operations (all atomic) ---- */
int lstr_sdict_get(lstr_sdict *d, const char *k, size_t kl, lstr_sdict_res *r, char *buf, size_t cap);
int lstr_sdict_store(lstr_sdict *d, int mode, const char *k, size_t kl, int type, const char *s,
                     size_t sl, double num, double ttl, lstr_sdict_res *r);
int lstr_sdict_incr(lstr_sdict *d, const char *k, size_t kl, double delta, int has_init, double init,
                    double ttl, lstr_sdict_res *r);
/* compare (otype, os/osl or onum; LSTR_SD_NIL = absent) and set: 1 swapped, 0 not */
int lstr_sdict_cas(lstr_sdict *d, const char *k, size_t kl, int otype, const char *os, size_t osl,
                   double onum, int ntype, const char *ns, size_t nsl, double nnum, double ttl,
                   lstr_sdict_res *r);
int lstr_sdict_delete(lstr_sdict *d, const char *k, size_t kl);
int lstr_sdict_ttl(lstr_sdict *d, const char *k, size_t kl, lstr_sdict_res *r);
int lstr_sdict_expire(lstr_sdict *d, const char *k, size_t kl, double ttl);
/* Keys as [u16 length][bytes]...; returns how many, or LSTR_SD_ESMALL with
 * r->len = bytes needed. max 0 = all. */
int lstr_sdict_keys(lstr_sdict *d, int max, char *buf, size_t cap, lstr_sdict_res *r);
void lstr_sdict_flush_all(lstr_sdict *d);
double lstr_sdict_free_space(lstr_sdict *d);
double lstr_sdict_capacity(lstr_sdict *d);
/* Walk everything and check every invariant: 0, or a negative step number. */
int lstr_sdict_check(lstr_sdict *d);
/* specs only: start a store and return holding its locks (see ops.c) */
int lstr_sdict_debug_die_holding(lstr_sdict *d, const char *k, size_t kl);

/* ---- shared_dict_heap.c: inside the arena (internal) ---- */
typedef struct sd_block {
  uint64_t size;               /* bytes incl. this header; bit 0 = used */
  uint32_t owner;              /* stripe of the entry in a used block */
  uint32_t valid;              /* the entry is complete and linked */
} sd_block;

uint64_t sd_heap_alloc(lstr_sdict *d, size_t bytes, uint32_t owner); /* block payload offset or 0 */
void sd_heap_free(lstr_sdict *d, uint64_t payload);                  /* under heap_lock */
void sd_heap_lock(lstr_sdict *d);
void sd_heap_unlock(lstr_sdict *d);
void sd_heap_init(lstr_sdict *d);
void sd_heap_rebuild(lstr_sdict *d);  /* free list from a walk; coalesces */
void sd_heap_drop(lstr_sdict *d, uint64_t payload); /* repair: mark free, rebuild after */
#define SD_HEAP_RESERVED (40 * sizeof(uint64_t)) /* class lists, just before heap_off */
int sd_heap_check(lstr_sdict *d, uint64_t *used_blocks);
int sd_mutex_init(pthread_mutex_t *m);

#endif
