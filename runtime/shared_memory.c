/*
 * shared_memory.c — memory blocks behind (Shared)ArrayBuffers, and Atomics.
 *
 * Owns:
 *   - lstr_block: the bytes, their length, a reference count and the list of
 *     Atomics waiters.  Blocks are process-wide objects: any thread may retain
 *     or release them, the last release frees them.
 *   - the atomic read-modify-write primitives, as tiny exported functions so
 *     LuaJIT calls them through the FFI from compiled traces (a C call per op
 *     is what keeps Atomics.add competitive with V8).
 *   - Atomics.wait / notify / waitAsync.  The spec's "critical section" is one
 *     mutex per block: a waiter compares the cell and enqueues itself under it,
 *     a notifier dequeues under it, so no wake-up is lost.  Sync waiters sleep
 *     on their own condition variable; async waiters (waitAsync) are woken by
 *     a uv_async_t on their state's loop and resolve a promise there.
 *
 * Who owns what: a pending async waiter owns one block reference, a registry
 * ref to the promise's resolve function and two libuv handles; all are given
 * back when it resolves, times out or its state is forgotten.
 */
#include "shared_memory.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lstr_waiter {
  lstr_waiter *next, *prev; /* in block->waiters, FIFO */
  size_t off;
  int in_block;             /* still queued on the block */
  int notified;
  int interrupted;          /* sync: woken by lstr_atomics_interrupt */
  int async;
  pthread_cond_t cond;      /* sync waiters only */
  uv_thread_t thread;       /* sync: the waiting thread */
  lstr_block *sblk;         /* sync: the block waited on */
  lstr_waiter *snext, *sprev; /* sync: in the process-wide list */
  /* async waiters only */
  lstr_state *s;
  lstr_block *blk;
  uv_async_t wake;
  uv_timer_t timer;
  int has_timer;
  int open_handles;
  int done;                 /* result delivered or state forgotten */
  int resolve_ref;
  lstr_waiter *gnext, *gprev; /* in the process-wide list of async waiters */
};

/* ---------------------------------------------------------------- blocks */

lstr_block *lstr_block_new(double nbytes, int shared) {
  if (!(nbytes >= 0) || nbytes > (double)LSTR_BLOCK_MAX) return NULL;
  size_t n = (size_t)nbytes;
  lstr_block *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  /* Never hand out a NULL data pointer for a live block: Lua tells a
   * detached buffer by data == NULL. */
  b->data = calloc(n ? n : 1, 1);
  if (!b->data) { free(b); return NULL; }
  b->length = n;
  b->shared = shared ? 1 : 0;
  b->refs = 1;
  pthread_mutex_init(&b->lock, NULL);
  return b;
}

lstr_block *lstr_block_retain(lstr_block *b) {
  __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
  return b;
}

void lstr_block_release(lstr_block *b) {
  if (!b) return;
  if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  /* No waiter can be left: each one holds a reference. */
  pthread_mutex_destroy(&b->lock);
  free(b->data);
  free(b);
}

void lstr_block_mark_untransferable(lstr_block *b) {
  b->flags |= LSTR_BLOCK_UNTRANSFERABLE;
}

void lstr_block_move(void *dst, const void *src, size_t n) {
  memmove(dst, src, n);
}

lstr_block *lstr_block_new_header(void) {
  lstr_block *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->refs = 1;
  pthread_mutex_init(&b->lock, NULL);
  return b;
}

void lstr_block_steal(lstr_block *dst, lstr_block *src) {
  dst->data = src->data;
  dst->length = src->length;
  dst->shared = src->shared;
  src->data = NULL;
  src->length = 0;
  src->flags |= LSTR_BLOCK_DETACHED;
}

lstr_block *lstr_block_copy(const lstr_block *src) {
  lstr_block *b = lstr_block_new((double)src->length, src->shared);
  if (b && src->length) memcpy(b->data, src->data, src->length);
  return b;
}

/* ---------------------------------------------------------------- atomics */

#define SC __ATOMIC_SEQ_CST
#define LSTR_ATOMIC_DEFS(T, N)                                                 \
  T lstr_atomic_load_##N(T *p) { return __atomic_load_n(p, SC); }              \
  T lstr_atomic_store_##N(T *p, T v) { __atomic_store_n(p, v, SC); return v; } \
  T lstr_atomic_add_##N(T *p, T v) { return __atomic_fetch_add(p, v, SC); }    \
  T lstr_atomic_sub_##N(T *p, T v) { return __atomic_fetch_sub(p, v, SC); }    \
  T lstr_atomic_and_##N(T *p, T v) { return __atomic_fetch_and(p, v, SC); }    \
  T lstr_atomic_or_##N(T *p, T v) { return __atomic_fetch_or(p, v, SC); }      \
  T lstr_atomic_xor_##N(T *p, T v) { return __atomic_fetch_xor(p, v, SC); }    \
  T lstr_atomic_exchange_##N(T *p, T v) { return __atomic_exchange_n(p, v, SC); } \
  T lstr_atomic_cas_##N(T *p, T expected, T v) {                               \
    /* returns the old value whether or not it swapped, as JS does */          \
    __atomic_compare_exchange_n(p, &expected, v, 0, SC, SC);                   \
    return expected;                                                           \
  }
LSTR_ATOMIC_DEFS(int8_t, i8)
LSTR_ATOMIC_DEFS(uint8_t, u8)
LSTR_ATOMIC_DEFS(int16_t, i16)
LSTR_ATOMIC_DEFS(uint16_t, u16)
LSTR_ATOMIC_DEFS(int32_t, i32)
LSTR_ATOMIC_DEFS(uint32_t, u32)
LSTR_ATOMIC_DEFS(int64_t, i64)
LSTR_ATOMIC_DEFS(uint64_t, u64)

/* ------------------------------------------------------ waiter queue (locked) */

static void enqueue(lstr_block *b, lstr_waiter *w) {
  w->next = NULL;
  w->prev = NULL;
  if (!b->waiters) {
    b->waiters = w;
  } else {
    lstr_waiter *t = b->waiters;
    while (t->next) t = t->next;
    t->next = w;
    w->prev = t;
  }
  w->in_block = 1;
}

static void dequeue(lstr_block *b, lstr_waiter *w) {
  if (w->prev) w->prev->next = w->next; else b->waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  w->next = w->prev = NULL;
  w->in_block = 0;
}

static int64_t load_cell(lstr_block *b, size_t off, int width) {
  if (width == 8) return __atomic_load_n((int64_t *)(b->data + off), SC);
  return __atomic_load_n((int32_t *)(b->data + off), SC);
}

/* ---------------------------------------------------------- Atomics.wait */

/* Sync waiters are also listed process-wide, with the threads marked as
 * interrupted, so that a worker's terminate() can wake its thread.  Lock
 * order: g_sync_lock, then a block's lock. */
static pthread_mutex_t g_sync_lock = PTHREAD_MUTEX_INITIALIZER;
static lstr_waiter *g_sync;
static uv_thread_t *g_interrupted;
static size_t g_ninterrupted;

static int is_interrupted(uv_thread_t t) {
  for (size_t i = 0; i < g_ninterrupted; i++)
    if (uv_thread_equal(&g_interrupted[i], &t)) return 1;
  return 0;
}

void lstr_atomics_interrupt(uv_thread_t thread) {
  pthread_mutex_lock(&g_sync_lock);
  if (!is_interrupted(thread)) {
    uv_thread_t *n = realloc(g_interrupted, (g_ninterrupted + 1) * sizeof *n);
    if (n) {
      g_interrupted = n;
      g_interrupted[g_ninterrupted++] = thread;
    }
  }
  for (lstr_waiter *w = g_sync; w; w = w->snext) {
    if (!uv_thread_equal(&w->thread, &thread)) continue;
    pthread_mutex_lock(&w->sblk->lock);
    w->interrupted = 1;
    if (w->in_block) {
      dequeue(w->sblk, w);
      pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->sblk->lock);
  }
  pthread_mutex_unlock(&g_sync_lock);
}

void lstr_atomics_clear_interrupt(uv_thread_t thread) {
  pthread_mutex_lock(&g_sync_lock);
  for (size_t i = 0; i < g_ninterrupted; i++) {
    if (uv_thread_equal(&g_interrupted[i], &thread)) {
      g_interrupted[i] = g_interrupted[--g_ninterrupted];
      break;
    }
  }
  pthread_mutex_unlock(&g_sync_lock);
}

/* Enter (1) or leave (0) the process-wide list; entering fails (returns 0)
 * when this thread has been interrupted. */
static int sync_list(lstr_waiter *w, int enter) {
  int ok = 1;
  pthread_mutex_lock(&g_sync_lock);
  if (enter) {
    if (is_interrupted(w->thread)) {
      ok = 0;
    } else {
      w->snext = g_sync;
      if (g_sync) g_sync->sprev = w;
      g_sync = w;
    }
  } else {
    if (w->sprev) w->sprev->snext = w->snext; else g_sync = w->snext;
    if (w->snext) w->snext->sprev = w->sprev;
  }
  pthread_mutex_unlock(&g_sync_lock);
  return ok;
}

/* The deadline `timeout_ms` from now on CLOCK_MONOTONIC, or 0 when there is
 * none: no timeout (NaN, infinite) or one beyond what the clock can
 * represent (the kernel keeps its timers as signed 64-bit nanoseconds, so
 * anything past ~292 years is "forever" there too).  Computed in integer
 * nanoseconds: a double holding 2^63 ms has no room left for tv_nsec. */
static int wait_deadline(double timeout_ms, struct timespec *deadline) {
  if (!(timeout_ms >= 0) || isinf(timeout_ms)) return 0;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
  double ns = ceil(timeout_ms * 1e6);
  if (ns >= (double)(INT64_MAX - now_ns)) return 0;
  int64_t at = now_ns + (int64_t)ns;
  deadline->tv_sec = (time_t)(at / 1000000000);
  deadline->tv_nsec = (long)(at % 1000000000);
  return 1;
}

int lstr_atomic_wait(lstr_block *b, size_t off, int width, int64_t expected,
                     double timeout_ms) {
  struct timespec deadline;
  int forever = !wait_deadline(timeout_ms, &deadline);

  lstr_waiter w;
  memset(&w, 0, sizeof w);
  w.off = off;
  w.thread = uv_thread_self();
  w.sblk = b;
  if (!sync_list(&w, 1)) return LSTR_WAIT_TIMED_OUT;

  pthread_mutex_lock(&b->lock);
  int r = LSTR_WAIT_OK, slept = 0;
  if (load_cell(b, off, width) != expected) {
    r = LSTR_WAIT_NOT_EQUAL;
  } else if ((!forever && timeout_ms == 0) || w.interrupted) {
    r = LSTR_WAIT_TIMED_OUT;
  } else {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cond, &ca);
    pthread_condattr_destroy(&ca);
    slept = 1;
    enqueue(b, &w);
    while (!w.notified && !w.interrupted) {
      if (forever) {
        pthread_cond_wait(&w.cond, &b->lock);
      } else {
        int rc = pthread_cond_timedwait(&w.cond, &b->lock, &deadline);
        /* anything but a wake-up ends the wait: looping on an error (a
         * deadline the clock refuses) would spin holding the lock */
        if (rc != 0 && rc != EINTR) break;
      }
    }
    if (!w.notified) {
      if (w.in_block) dequeue(b, &w);
      r = LSTR_WAIT_TIMED_OUT;
    }
  }
  pthread_mutex_unlock(&b->lock);
  sync_list(&w, 0);
  if (slept) pthread_cond_destroy(&w.cond);
  return r;
}

int lstr_atomic_notify(lstr_block *b, size_t off, double count) {
  int all = !(count >= 0) || isinf(count);
  int woken = 0;
  pthread_mutex_lock(&b->lock);
  lstr_waiter *w = b->waiters;
  while (w && (all || woken < count)) {
    lstr_waiter *next = w->next;
    if (w->off == off) {
      dequeue(b, w);
      w->notified = 1;
      /* Signal under the lock: the waiter cannot free itself before we are
       * done touching it. */
      if (w->async) uv_async_send(&w->wake);
      else pthread_cond_signal(&w->cond);
      woken++;
    }
    w = next;
  }
  pthread_mutex_unlock(&b->lock);
  return woken;
}

/* ----------------------------------------------------- Atomics.waitAsync */

static pthread_mutex_t g_async_lock = PTHREAD_MUTEX_INITIALIZER;
static lstr_waiter *g_async; /* every pending async waiter, all states */

static void glist_remove(lstr_waiter *w) {
  if (w->gprev) w->gprev->gnext = w->gnext; else g_async = w->gnext;
  if (w->gnext) w->gnext->gprev = w->gprev;
  w->gnext = w->gprev = NULL;
}

static void waiter_close_cb(uv_handle_t *h) {
  lstr_waiter *w = h->data;
  if (--w->open_handles == 0) free(w);
}

/* Give back everything the waiter holds except the Lua ref (see callers). */
static void waiter_finish(lstr_waiter *w) {
  w->done = 1;
  if (!uv_is_closing((uv_handle_t *)&w->wake))
    uv_close((uv_handle_t *)&w->wake, waiter_close_cb);
  if (w->has_timer && !uv_is_closing((uv_handle_t *)&w->timer))
    uv_close((uv_handle_t *)&w->timer, waiter_close_cb);
  lstr_block_release(w->blk);
  w->blk = NULL;
}

static void waiter_deliver(lstr_waiter *w, const char *result) {
  if (w->done) return;
  pthread_mutex_lock(&g_async_lock);
  glist_remove(w);
  pthread_mutex_unlock(&g_async_lock);

  lstr_state *s = w->s;
  lua_State *L = s->L;
  lstr_push_ref(L, w->resolve_ref);
  lstr_unref(L, &w->resolve_ref);
  lua_pushstring(L, result);
  waiter_finish(w);
  lstr_dispatch(s, 1);
}

static void wake_cb(uv_async_t *h) {
  waiter_deliver(h->data, "ok");
}

static void timer_cb(uv_timer_t *h) {
  lstr_waiter *w = h->data;
  int timed_out = 0;
  pthread_mutex_lock(&w->blk->lock);
  if (w->in_block) {
    dequeue(w->blk, w);
    timed_out = 1;
  }
  pthread_mutex_unlock(&w->blk->lock);
  /* Otherwise a notify beat the timer: wake_cb is on its way with 'ok'. */
  if (timed_out) waiter_deliver(w, "timed-out");
}

/* wait_async(block_addr, byte_off, width, expected_lo, expected_hi,
 *            timeout_ms, resolve) -> 'not-equal' | 'timed-out' | true
 * The Lua side (atomics.lua) has validated the view; the block address is a
 * number because Lua can only see it as FFI cdata. */
static int wait_async(lua_State *L) {
  lstr_block *b = (lstr_block *)(uintptr_t)luaL_checknumber(L, 1);
  size_t off = (size_t)luaL_checknumber(L, 2);
  int width = (int)luaL_checkinteger(L, 3);
  uint32_t lo = (uint32_t)(int64_t)luaL_checknumber(L, 4);
  uint32_t hi = (uint32_t)(int64_t)luaL_optnumber(L, 5, 0);
  double timeout = luaL_optnumber(L, 6, INFINITY);
  luaL_checktype(L, 7, LUA_TFUNCTION);
  int64_t expected = width == 8 ? (int64_t)(((uint64_t)hi << 32) | lo)
                                : (int64_t)(int32_t)lo;
  /* past what a libuv timer (uint64 ms from now) can hold: no timer */
  int forever = !(timeout >= 0) || isinf(timeout) || timeout >= 1.8e19;

  lstr_state *s = lstr_ctx(L);
  lstr_waiter *w = calloc(1, sizeof *w);
  if (!w) return lstr_error(L, "ERR_MEMORY_ALLOCATION_FAILED", "out of memory");

  pthread_mutex_lock(&b->lock);
  const char *early = NULL;
  if (load_cell(b, off, width) != expected) early = "not-equal";
  else if (!forever && timeout == 0) early = "timed-out";
  if (early) {
    pthread_mutex_unlock(&b->lock);
    free(w);
    lua_pushstring(L, early);
    return 1;
  }
  w->async = 1;
  w->off = off;
  w->s = s;
  w->blk = lstr_block_retain(b);
  uv_async_init(s->loop, &w->wake, wake_cb);
  w->wake.data = w;
  w->open_handles = 1;
  if (!forever) {
    uv_timer_init(s->loop, &w->timer);
    w->timer.data = w;
    w->has_timer = 1;
    w->open_handles++;
    uint64_t ms = (uint64_t)ceil(timeout);
    uv_timer_start(&w->timer, timer_cb, ms, 0);
  }
  lua_pushvalue(L, 7);
  w->resolve_ref = lstr_ref(L);
  enqueue(b, w);
  pthread_mutex_unlock(&b->lock);

  pthread_mutex_lock(&g_async_lock);
  w->gnext = g_async;
  if (g_async) g_async->gprev = w;
  g_async = w;
  pthread_mutex_unlock(&g_async_lock);

  lua_pushboolean(L, 1);
  return 1;
}

void lstr_atomics_forget_state(lstr_state *s) {
  pthread_mutex_lock(&g_async_lock);
  lstr_waiter *w = g_async;
  while (w) {
    lstr_waiter *next = w->gnext;
    if (w->s == s) {
      glist_remove(w);
      pthread_mutex_lock(&w->blk->lock);
      if (w->in_block) dequeue(w->blk, w);
      pthread_mutex_unlock(&w->blk->lock);
      if (s->L) lstr_unref(s->L, &w->resolve_ref);
      waiter_finish(w);
    }
    w = next;
  }
  pthread_mutex_unlock(&g_async_lock);
}

static const luaL_Reg atomics_funcs[] = {
  {"wait_async", wait_async},
  {NULL, NULL}
};

int luaopen_native_atomics(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, atomics_funcs);
  return 1;
}
