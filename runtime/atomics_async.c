/*
 * atomics_async.c — Atomics.waitAsync (`native.atomics`): a waiter queued
 * on its block like a sync one, woken through a uv_async_t on its state's
 * loop where it resolves a promise; on memory shared with other processes a
 * small helper thread sleeps on the futex for it.  The waiter, the queue
 * and the futex are shared_memory.c's (shared_memory_wait.h).
 */
#include "shared_memory_wait.h"
#include "lstr.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
  pthread_mutex_lock(&g_async_lock);
  int last = --w->open_handles == 0 && !w->helper;
  pthread_mutex_unlock(&g_async_lock);
  if (last) free(w);
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
  lstr_waiter *w = h->data;
  pthread_mutex_lock(&g_async_lock);
  int r = w->helper_result;
  pthread_mutex_unlock(&g_async_lock);
  /* the cell had changed by the time the thread looked: as good as woken */
  waiter_deliver(w, r == LSTR_WAIT_TIMED_OUT ? "timed-out" : "ok");
}

/* waitAsync on memory other processes map: a notify from another process
 * reaches only futex sleepers, so the waiter gets a small thread that
 * sleeps on the futex exactly as a sync waiter would (the same kernel
 * queue: order and counts stay exact across processes, and its deadline is
 * the futex's) and hands the result to the loop through w->wake.  It sleeps
 * in slices (lstr_futex_wait on a thread that is not main), so forgetting the
 * state only sets `interrupted`: the thread sees it within a slice and
 * leaves without touching the loop.  It holds its own block reference; the
 * waiter is freed by whichever of it and the handles' close goes last. */
static void *helper_main(void *arg) {
  lstr_waiter *w = arg;
  lstr_block *b = w->sblk;
  int r = lstr_futex_wait(b, w, w->width, w->expected, w->forever, &w->deadline, 1);
  pthread_mutex_lock(&g_async_lock);
  if (!w->done) {
    w->helper_result = r;
    uv_async_send(&w->wake);
  }
  w->helper = 0;
  int last = w->open_handles == 0;
  pthread_mutex_unlock(&g_async_lock);
  if (last) free(w);
  lstr_block_release(b);
  return NULL;
}

/* Start w's thread (g_async_lock held).  0 or -1. */
static int helper_start(lstr_waiter *w, lstr_block *b) {
  pthread_attr_t a;
  pthread_t t;
  if (pthread_attr_init(&a) != 0) return -1;
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 256 * 1024);
  w->sblk = lstr_block_retain(b);
  w->helper = 1;
  int rc = pthread_create(&t, &a, helper_main, w);
  pthread_attr_destroy(&a);
  if (rc != 0) {
    w->helper = 0;
    lstr_block_release(b);
    w->sblk = NULL;
    return -1;
  }
  return 0;
}

static void timer_cb(uv_timer_t *h) {
  lstr_waiter *w = h->data;
  int timed_out = 0;
  pthread_mutex_lock(&w->blk->lock);
  if (w->in_block) {
    lstr_waiter_dequeue(w->blk, w);
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
  if (lstr_cell_load(b, off, width) != expected) early = "not-equal";
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
  if (__atomic_load_n(&b->ipc, __ATOMIC_ACQUIRE)) {
    /* the futex compares the cell from here on; lock order is g_async_lock
     * before a block's lock, so b->lock goes first */
    pthread_mutex_unlock(&b->lock);
    w->width = width;
    w->expected = expected;
    w->forever = !lstr_wait_deadline(timeout, &w->deadline);
    pthread_mutex_lock(&g_async_lock);
    if (helper_start(w, b) != 0) {
      pthread_mutex_unlock(&g_async_lock);
      uv_close((uv_handle_t *)&w->wake, waiter_close_cb);
      lstr_block_release(w->blk);
      return lstr_error(L, "ERR_OPERATION_FAILED", "Atomics.waitAsync: cannot start a thread");
    }
    w->gnext = g_async;
    if (g_async) g_async->gprev = w;
    g_async = w;
    pthread_mutex_unlock(&g_async_lock);
    lua_pushvalue(L, 7);
    w->resolve_ref = lstr_ref(L);
    lua_pushboolean(L, 1);
    return 1;
  }
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
  lstr_waiter_enqueue(b, w);
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
      __atomic_store_n(&w->interrupted, 1, SC); /* a helper thread leaves */
      pthread_mutex_lock(&w->blk->lock);
      if (w->in_block) lstr_waiter_dequeue(w->blk, w);
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
