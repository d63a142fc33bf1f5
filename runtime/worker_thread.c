/*
 * worker_thread.c — the OS threads worker states run on.
 *
 * Starting a worker costs a thread, a loop and a state boot (the runtime's
 * Lua side: scheduler, promises, timers, process, events...), and ending it
 * the state's teardown.  None of the boot depends on the Worker's options:
 * what does (source, workerData, env, argv) arrives in the boot message and
 * is applied by worker_start, after the boot.  So a thread boots the state
 * of a worker nobody has asked for yet (a "spare", with the modules every
 * worker loads) and waits for a spawn to claim it; the spawn then only has
 * the entry chunk to run.
 *
 * A thread does not end with its worker: once the worker has posted EXIT
 * and its state is freed, the thread becomes a spare again, and each state
 * it runs reuses what the previous one warmed: the C stack, the uv loop (no
 * new epoll, eventfd and signal pipe) and the allocator's thread cache.  The state itself is always a new one: nothing of a worker's Lua
 * side outlives it.
 *
 * At most SPARE_MAX spares wait at a time: two, so that spawns in a row
 * alternate between two threads, one booting the next state while the
 * other runs a worker.  A spare nobody claims within SPARE_IDLE_NS frees
 * everything and its thread ends, so a program that spawned once keeps no
 * extra thread for long.  Every thread is detached: process exit does not
 * wait for them.  A spawn with options a spare was not booted with (a
 * memory limit, another stack size) or that the profiler must see from the
 * start (--prof) boots its own state on a new thread; one with the default
 * stack (not under --prof) joins the spares once its worker is done.
 */
#include "worker.h"

#include <pthread.h>
#include <stdlib.h>

#define SPARE_MAX 2
#define SPARE_IDLE_NS ((uint64_t)1000 * 1000 * 1000)

typedef struct worker_thread {
  uv_thread_t tid;             /* spare_lock: written by its creator */
  uv_cond_t cond;              /* signalled with a claim */
  lstr_worker *first;          /* set before the thread starts: boot for it */
  lstr_worker *claim;          /* spare_lock: handed over by a spawn */
  int booted;                  /* spare_lock: its spare state is ready */
  int poolable;                /* default stack, no profiler: may be a spare */
  struct worker_thread *next;  /* spare_lock: in the spare list */
  /* the thread's alone, reused by every state it runs */
  uv_loop_t loop;
  int has_loop;
} worker_thread;

static uv_mutex_t spare_lock;
static worker_thread *spares; /* spare_lock: unclaimed, oldest first */
static int n_spares;          /* spare_lock */
static int profiling;         /* --prof: every state must boot knowing its thread */
static uv_once_t spare_once = UV_ONCE_INIT;
static void spare_init(void) {
  uv_mutex_init(&spare_lock);
  /* read once: the environment is the process's (cli.c sets this before
   * any state exists); getenv racing a setenv elsewhere is not safe */
  profiling = getenv("LUSTER_PROF") != NULL;
}

static void spare_push_locked(worker_thread *t) {
  worker_thread **p = &spares;
  while (*p) p = &(*p)->next;
  t->next = NULL;
  t->booted = 0;
  *p = t;
  n_spares++;
}

static void spare_remove_locked(worker_thread *t) {
  for (worker_thread **p = &spares; *p; p = &(*p)->next) {
    if (*p == t) {
      *p = t->next;
      t->next = NULL;
      n_spares--;
      return;
    }
  }
}

/* The spare to claim: the oldest booted one, else the oldest. */
static worker_thread *spare_pick_locked(void) {
  for (worker_thread *t = spares; t; t = t->next)
    if (t->booted) return t;
  return spares;
}

/* ---------------------------------------------------------- on the thread */

/* The modules every worker loads (worker_threads reads which thread it is
 * in again when luster.worker_boot starts the worker). */
static void spare_preload(lua_State *L) {
  static const char *const mods[] = { "luster.worker_boot", "luster.worker_port", "worker_threads" };
  for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) {
    lua_getglobal(L, "require");
    lua_pushstring(L, mods[i]);
    if (lua_pcall(L, 1, 0, 0) != 0) lua_pop(L, 1); /* then the worker loads it */
  }
}

/* A new state on this thread's loop: for w, or a spare (NULL). */
static lstr_state *boot(worker_thread *t, lstr_worker *w) {
  lstr_state_options o = {
    .loop = t->has_loop ? &t->loop : NULL, .owns_loop_handles = 1,
    .mem_limit = w ? w->mem_limit : 0, .thread_id = w ? w->thread_id : 0,
    .is_main_thread = 0, .worker = w,
  };
  lstr_state *s = lstr_state_new(&o);
  if (!s) return NULL;
  /* bootstrap's collectgarbage('restart') puts the threshold at the heap's
   * size: the first cycle would start at the next allocation and walk the
   * whole runtime just built, in every worker.  Start it once the heap has
   * grown by the pause instead, as after any full cycle. */
  lua_gc(s->L, LUA_GCRESTART, -1);
  if (!w) spare_preload(s->L);
  return s;
}

/* As a booted spare: the worker a spawn hands over, or NULL when none came
 * in time (the thread is then out of the spare list). */
static lstr_worker *wait_for_claim(worker_thread *t) {
  uv_mutex_lock(&spare_lock);
  t->booted = 1;
  uint64_t until = uv_hrtime() + SPARE_IDLE_NS;
  while (!t->claim) {
    uint64_t now = uv_hrtime();
    if (now >= until || uv_cond_timedwait(&t->cond, &spare_lock, until - now) == UV_ETIMEDOUT) {
      if (t->claim) break;
      spare_remove_locked(t);
      uv_mutex_unlock(&spare_lock);
      return NULL;
    }
  }
  lstr_worker *w = t->claim;
  t->claim = NULL;
  uv_mutex_unlock(&spare_lock);
  return w;
}

/* The worker is done: become a spare again, if one more is wanted.  Also
 * the thread's last lock: its creator may still be writing t->tid. */
static int offer_as_spare(worker_thread *t) {
  uv_mutex_lock(&spare_lock);
  int again = t->poolable && n_spares < SPARE_MAX;
  if (again) spare_push_locked(t);
  uv_mutex_unlock(&spare_lock);
  return again;
}

static void thread_main(void *arg) {
  worker_thread *t = arg;
  pthread_detach(pthread_self());
  t->has_loop = uv_loop_init(&t->loop) == 0;
  lstr_worker *w = t->first;
  for (;;) {
    lstr_state *s;
    if (w) {
      s = boot(t, w);
    } else {
      s = boot(t, NULL);
      w = wait_for_claim(t);
      if (!w) {
        lstr_state_free(s);
        break;
      }
      if (s) { /* it becomes w's state: what the options would have set */
        s->worker = w;
        s->thread_id = w->thread_id;
        uv_update_time(s->loop); /* it may have waited a while */
      }
    }
    int code = lstr_worker_run(w, s);
    /* The state closes before EXIT: what its finalizers do (flush a file,
     * write shared memory) happens before the parent's 'exit', as what the
     * worker's code did does. */
    lstr_state_free(s);
    w->s = NULL;
    int again = offer_as_spare(t); /* before EXIT: the next spawn may pick it */
    lstr_worker_report_exit(w, code);
    worker_release(w);
    w = NULL;
    if (!again) break;
  }
  if (t->has_loop) uv_loop_close(&t->loop);
  uv_cond_destroy(&t->cond);
  free(t);
}

/* ------------------------------------------------------------ spawn side */

/* Under spare_lock: a thread that runs `first`, or a spare (first NULL). */
static int thread_start_locked(lstr_worker *first, size_t stack) {
  worker_thread *t = calloc(1, sizeof *t);
  if (!t) return UV_ENOMEM;
  int rc = uv_cond_init(&t->cond);
  if (rc != 0) {
    free(t);
    return rc;
  }
  t->first = first;
  t->poolable = stack == WORKER_STACK_DEFAULT && !profiling;
  uv_thread_options_t opts = { UV_THREAD_HAS_STACK_SIZE, stack };
  rc = uv_thread_create_ex(&t->tid, &opts, thread_main, t);
  if (rc != 0) {
    uv_cond_destroy(&t->cond);
    free(t);
    return rc;
  }
  if (first) first->tid = t->tid;
  else spare_push_locked(t);
  return 0;
}

int lstr_worker_thread_start(lstr_worker *w, size_t stack) {
  uv_once(&spare_once, spare_init);
  int plain = !w->mem_limit && stack == WORKER_STACK_DEFAULT && !profiling;
  int rc = 0;
  uv_mutex_lock(&spare_lock);
  worker_thread *t = plain ? spare_pick_locked() : NULL;
  if (t) {
    spare_remove_locked(t);
    t->claim = w;
    w->tid = t->tid;
    uv_cond_signal(&t->cond);
  } else {
    rc = thread_start_locked(w, stack);
  }
  /* the next one boots while this one runs (nothing happens when it cannot) */
  if (plain && rc == 0 && n_spares == 0) thread_start_locked(NULL, WORKER_STACK_DEFAULT);
  uv_mutex_unlock(&spare_lock);
  return rc;
}
