/*
 * worker.c — worker threads: require('native.worker').
 *
 * Each Worker runs on an OS thread (worker_thread.c) in its own lstr_state,
 * created, run and freed there.  Nothing Lua crosses between threads: the
 * parent encodes what the worker starts with (lua/worker_threads.lua's boot
 * table: source, workerData, env, argv...) with the structured-clone
 * serializer, and from then on the two talk over one channel
 * (message_port.c): end 0 is the Worker object's handle in the parent, end 1
 * the worker's parentPort.  The worker's life cycle travels on the same
 * queue as its messages — ONLINE before the entry chunk runs, ERROR for an
 * uncaught error, EXIT (with the code) once its loop has ended — so 'exit'
 * is always the last event, after every message sent before it.
 *
 * Ownership: the lstr_worker (worker.h) is shared, reference counted (the
 * parent's handle, the thread).  The thread posts EXIT, then frees its state
 * and its reference (threads are detached: nobody joins them); a Worker
 * collected or closed before its EXIT asks the thread to stop.  terminate()
 * sets `terminating`, wakes the worker's loop through `ctl` and interrupts
 * running Lua (worker_interrupt.c).
 *
 * resourceLimits.maxOldGenerationSizeMb (alias maxHeapSizeMb) is the state
 * allocator's mem_limit; an allocation refused there ends the worker with
 * ERR_WORKER_OUT_OF_MEMORY.  resourceLimits.stackSizeMb is the thread's
 * stack size.
 */
#include "worker.h"
#include "shared_memory.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static atomic_int next_thread_id = 1;

void worker_release(lstr_worker *w) {
  uv_mutex_lock(&w->lock);
  int last = --w->refs == 0;
  uv_mutex_unlock(&w->lock);
  if (!last) return;
  if (w->ch) channel_release(w->ch);
  if (w->boot) lstr_msg_free(w->boot);
  free(atomic_load(&w->code));
  uv_mutex_destroy(&w->lock);
  free(w);
}

/* ---------------------------------------------------------- worker thread */

/* Post an error table {code=, message=, stack=} built here to the parent. */
static void post_error(lstr_worker *w, lua_State *L, const char *code, const char *message) {
  if (w->error_posted || atomic_load(&w->terminating)) return;
  w->error_posted = 1;
  lua_createtable(L, 0, 3);
  lua_pushstring(L, code);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  lua_pushfstring(L, "%s: %s", code, message);
  lua_setfield(L, -2, "stack");
  lstr_msg *m = lstr_msg_encode(L, -1, 0, LSTR_CLONE_THREAD);
  lua_pop(L, m ? 1 : 2);
  if (m && channel_push(w->ch, 0, (port_item){ ITEM_ERROR, 0, m }, NULL) != 0) lstr_msg_free(m);
}

static void ctl_cb(uv_async_t *a) {
  lstr_worker *w = a->data;
  lstr_state *s = w->s;
  if (!atomic_load(&w->terminating)) return;
  s->exit_emitted = 1; /* terminate(): no process 'exit' in the worker */
  s->exit_code = 1;
  s->exiting = 1;
  uv_stop(s->loop);
}

/* Bring up the Lua side (lua/luster/worker_boot.lua, through the state's
 * worker_start hook) and run the entry chunk
 * through the state's run_entry.  Returns 0, or 1 after reporting an error. */
static int run_worker_entry(lstr_worker *w, lstr_state *s) {
  lua_State *L = s->L;
  /* worker_start() (bootstrap.lua: luster.worker_boot's start) ->
   * kind, source, chunkname, argv | nil, message */
  lstr_push_ref(L, s->worker_start_ref);
  if (lua_pcall(L, 0, 4, 0) != 0) goto failed;
  if (lua_isnil(L, -4)) {
    const char *msg = lua_tostring(L, -3);
    post_error(w, L, "ERR_WORKER_INIT_FAILED", msg ? msg : "cannot start the worker");
    lua_settop(L, 0);
    return 1;
  }
  if (strcmp(lua_tostring(L, -4), "file") == 0) {
    char resolved[PATH_MAX];
    const char *path = lua_tostring(L, -3);
    free(s->script_path);
    s->script_path = strdup(realpath(path, resolved) ? resolved : path);
  }
  if (channel_push(w->ch, 0, (port_item){ ITEM_ONLINE, 0, NULL }, NULL) != 0) { lua_settop(L, 0); return 1; }
  lstr_push_ref(L, s->run_entry_ref);
  lua_insert(L, -5);
  if (lua_pcall(L, 4, 2, 0) != 0) goto failed;
  if (lua_isnil(L, -2)) { /* the entry chunk could not load */
    const char *msg = lua_tostring(L, -1);
    int missing = msg && strstr(msg, "cannot open script") != NULL;
    post_error(w, L, missing ? "ERR_MODULE_NOT_FOUND" : "ERR_WORKER_INIT_FAILED",
               msg ? msg : "cannot load the worker's code");
    lua_settop(L, 0);
    s->exit_code = 1;
    return 1;
  }
  lua_settop(L, 0);
  return 0;
failed: /* out of memory is reported by lstr_worker_run, once it has room */
  if (!s->exiting && !s->out_of_memory) {
    const char *msg = lua_tostring(L, -1);
    post_error(w, L, "ERR_WORKER_INIT_FAILED", msg ? msg : "cannot start the worker");
  }
  lua_settop(L, 0);
  return 1;
}

/* Run w in its freshly booted state s (NULL: none could be created). */
int lstr_worker_run(lstr_worker *w, lstr_state *s) {
  int code = 1;
  lstr_interrupt_enter(w);
  if (!s) goto out;

  uv_async_init(s->loop, &w->ctl, ctl_cb);
  w->ctl.data = w;
  uv_unref((uv_handle_t *)&w->ctl);
  uv_mutex_lock(&w->lock);
  w->s = s;
  w->ctl_open = 1;
  uv_mutex_unlock(&w->lock);
  w->lua_live = 1;

  if (!atomic_load(&w->terminating)) {
    if (run_worker_entry(w, s) != 0 && !s->exiting) {
      s->exit_code = 1;
      s->exiting = 1;
    }
    code = lstr_run_loop(s);
  }

  /* From here on no Lua runs but finalizers. */
  w->lua_live = 0;
  lua_sethook(s->L, NULL, 0, 0);
  if (s->out_of_memory) {
    s->mem_limit = 0; /* room to report it and to run finalizers */
    post_error(w, s->L, "ERR_WORKER_OUT_OF_MEMORY",
               "Worker terminated due to reaching memory limit: JS heap out of memory");
    code = 1;
  }
  if (atomic_load(&w->terminating)) code = 1;
  uv_mutex_lock(&w->lock);
  w->ctl_open = 0;
  uv_mutex_unlock(&w->lock);
  uv_close((uv_handle_t *)&w->ctl, NULL);

out:
  lstr_interrupt_leave();
  return code;
}

/* Tell the parent once the state is closed (worker_thread.c): its
 * finalizers have run by then, so what they did is there for the parent's
 * 'exit' listener.  The thread is detached, never joined. */
void lstr_worker_report_exit(lstr_worker *w, int code) {
  channel_close_end(w->ch, 1, 0); /* later posts to this worker are dropped */
  channel_push(w->ch, 0, (port_item){ ITEM_EXIT, code, NULL }, NULL);
  uv_mutex_lock(&w->lock);
  w->done = 1; /* no request_stop marks this thread from now on */
  uv_mutex_unlock(&w->lock);
  lstr_atomics_clear_interrupt(uv_thread_self()); /* the thread runs others next */
}

/* ------------------------------------------------------------ parent side */

static void kick_close_cb(uv_handle_t *h) { free(h); }

static void stop_kick(lstr_worker *w) {
  if (!w->kick) return;
  uv_close((uv_handle_t *)w->kick, kick_close_cb);
  w->kick = NULL;
}

/* Ask the thread to stop; under the lock so that it is still running. */
static void request_stop(lstr_worker *w) {
  uv_mutex_lock(&w->lock);
  if (!w->done && !atomic_load(&w->parked)) {
    atomic_store(&w->terminating, 1);
    if (w->ctl_open) uv_async_send(&w->ctl);
    if (w->lua_live) lstr_interrupt_send(w);
    /* A thread blocked in Atomics.wait (even with no timeout) returns from
     * it, and any later wait returns at once; the interrupt above then
     * stops it at its next instruction.  Cleared by the thread once done
     * (lstr_worker_report_exit), under this lock's ordering: no mark
     * outlives it. */
    lstr_atomics_interrupt(w->tid);
  }
  uv_mutex_unlock(&w->lock);
}

/* Until the thread is gone: re-send the interrupt; report a parked thread. */
static void kick_cb(uv_timer_t *t) {
  lstr_worker *w = t->data;
  uv_mutex_lock(&w->lock);
  int done = w->done, parked = atomic_load(&w->parked);
  uv_mutex_unlock(&w->lock);
  if (done) { stop_kick(w); return; }
  if (parked) {
    uv_mutex_lock(&w->lock);
    w->done = 1;
    uv_mutex_unlock(&w->lock);
    channel_close_end(w->ch, 1, 0);
    channel_push(w->ch, 0, (port_item){ ITEM_EXIT, 1, NULL }, NULL);
    stop_kick(w);
    return;
  }
  request_stop(w);
}

/* The thread is never joined (worker_thread.c detaches every one: it posts
 * EXIT after freeing the state, then may run another worker, and a parked
 * thread never returns). */
void lstr_worker_exited(port_h *p) {
  lstr_worker *w = p->w;
  if (!w || w->joined) return;
  w->joined = 1;
  stop_kick(w);
}

void lstr_worker_handle_gone(port_h *p) {
  lstr_worker *w = p->w;
  if (!w) return;
  p->w = NULL;
  stop_kick(w);
  if (!w->joined) {
    w->joined = 1;
    request_stop(w);
  }
  worker_release(w);
}

static port_h *check_worker(lua_State *L, int idx) {
  port_h *p = port_check(L, idx);
  if (!p->w) luaL_argerror(L, idx, "not a worker (or it has exited)");
  return p;
}


/* spawn(boot, transferList, memLimitBytes, stackBytes) -> handle, threadId
 * boot is encoded here (DataCloneError raised, nothing started). */
static int worker_spawn(lua_State *L) {
  lua_settop(L, 4);
  luaL_checktype(L, 1, LUA_TTABLE);
  double limit = luaL_optnumber(L, 3, 0);
  double stack_req = luaL_optnumber(L, 4, 0);
  size_t stack = stack_req > 0 ? (stack_req > (double)WORKER_STACK_MAX ? WORKER_STACK_MAX : (size_t)stack_req)
                               : WORKER_STACK_DEFAULT;
  if (stack < WORKER_STACK_MIN) stack = WORKER_STACK_MIN;
  lstr_msg *boot = lstr_msg_encode(L, 1, lua_isnil(L, 2) ? 0 : 2, LSTR_CLONE_THREAD);
  if (!boot) return lua_error(L);
  lstr_worker *w = calloc(1, sizeof *w);
  lstr_channel *ch = w ? channel_new() : NULL;
  if (!ch) {
    free(w);
    lstr_msg_free(boot);
    return lstr_error(L, "ERR_MEMORY_ALLOCATION_FAILED", "out of memory");
  }
  uv_mutex_init(&w->lock);
  w->refs = 2;
  w->ch = ch;
  w->boot = boot;
  w->mem_limit = limit > 0 ? (size_t)limit : 0;
  w->thread_id = atomic_fetch_add(&next_thread_id, 1);
  lstr_interrupt_init();

  channel_retain(ch);
  port_h *p = port_push_new(L, ch, 0);
  p->w = w;
  int rc = lstr_worker_thread_start(w, stack);
  if (rc != 0) {
    w->joined = 1;
    w->refs = 1; /* the thread's never existed */
    lstr_worker_handle_gone(p);
    port_detach(p, 0);
    return lstr_uv_error(L, rc, "uv_thread_create");
  }
  lua_pushinteger(L, w->thread_id);
  return 2;
}

/* terminate(handle): see worker_interrupt.c */
static int worker_terminate(lua_State *L) {
  port_h *p = check_worker(L, 1);
  lstr_worker *w = p->w;
  request_stop(w);
  if (!w->kick && !w->joined) {
    w->kick = malloc(sizeof *w->kick);
    if (w->kick) {
      uv_timer_init(p->s->loop, w->kick);
      w->kick->data = w;
      uv_unref((uv_handle_t *)w->kick); /* the Worker's own handle keeps the loop */
      uv_timer_start(w->kick, kick_cb, 2, 5);
    }
  }
  return 0;
}

/* ---- inside a worker ---- */

static lstr_worker *self_worker(lua_State *L) {
  lstr_worker *w = lstr_ctx(L)->worker;
  if (!w) luaL_error(L, "not in a worker thread");
  return w;
}

/* boot() -> the table the parent sent (once) */
static int worker_boot(lua_State *L) {
  lstr_worker *w = self_worker(L);
  if (!w->boot) return 0;
  lstr_msg *m = w->boot;
  w->boot = NULL;
  int rc = lstr_msg_decode(L, m);
  lstr_msg_free(m);
  if (rc != 0) return lua_error(L);
  return 1;
}

/* parent_port() -> handle of end 1 */
static int worker_parent_port(lua_State *L) {
  lstr_worker *w = self_worker(L);
  channel_retain(w->ch);
  port_push_new(L, w->ch, 1);
  return 1;
}

/* report_error(errtable): the worker's uncaught error, for the parent */
static int worker_report_error(lua_State *L) {
  lstr_worker *w = self_worker(L);
  if (w->error_posted || atomic_load(&w->terminating)) return 0;
  lstr_msg *m = lstr_msg_encode(L, 1, 0, LSTR_CLONE_THREAD);
  if (!m) return lua_error(L);
  w->error_posted = 1;
  if (channel_push(w->ch, 0, (port_item){ ITEM_ERROR, 0, m }, NULL) != 0) lstr_msg_free(m);
  return 0;
}

static int worker_is_oom(lua_State *L) {
  lua_pushboolean(L, lstr_ctx(L)->out_of_memory);
  return 1;
}

static int worker_in_worker(lua_State *L) {
  lua_pushboolean(L, lstr_ctx(L)->worker != NULL);
  return 1;
}

#if defined(__SANITIZE_THREAD__)
/* ThreadSanitizer sees a file descriptor as an object written when it is
 * created (and read by epoll_wait).  libuv 1.44 closes its descriptors with
 * syscall(SYS_close), which TSan cannot intercept, so when another thread's
 * loop, eventfd, pipe or file gets the same number it reports a race on the
 * descriptor that is not one. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) {
  return "race:epoll_create1\nrace:epoll_wait\nrace:eventfd\nrace:pipe2\n";
}
#endif

static const luaL_Reg worker_funcs[] = {
  {"spawn", worker_spawn},
  {"terminate", worker_terminate},
  {"boot", worker_boot},
  {"parent_port", worker_parent_port},
  {"report_error", worker_report_error},
  {"is_oom", worker_is_oom},
  {"in_worker", worker_in_worker},
  {NULL, NULL}
};

int luaopen_native_worker(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, worker_funcs);
  lstr_port_register(L);
#if defined(__SANITIZE_THREAD__)
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "tsan");
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "tsan");
#endif
#endif
  return 1;
}
