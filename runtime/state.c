/*
 * state.c — one Lua state bound to one libuv loop: creation, the allocator,
 * running the entry chunk and the loop, calling back into Lua, teardown.
 *
 * Ownership: the lstr_state owns its lua_State; it owns its uv_loop_t only
 * when it created it (owns_loop), and the handles on a loop it was given
 * when told so (owns_loop_handles: a worker thread's loop, reused by the
 * next state the thread runs).  Handles created by Lua objects close
 * through uv_close with callbacks that free C memory only, so a state can
 * be torn down in any order: Lua first (finalizers close their handles),
 * then whatever handles remain, then the loop.
 *
 * The Lua side (lua/luster/bootstrap.lua) returns a table of entry points
 * the C side keeps refs to: dispatch, errors.new, run_entry, run_immediates,
 * before_exit, emit_exit, and the hooks other C files call (load_buffers,
 * wrap_port, worker_start), so that no C code requires a Lua module by name.
 */
#include "lstr.h"
#include "luster.h"
#include "shared_memory.h"
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every allocation of the state goes through here: it is how the context
 * rides along with the lua_State, and how resourceLimits are enforced.
 *
 * Blocks come from malloc, which in the binary is jemalloc (LSTR_JEMALLOC).
 * Its size classes keep what a burst of requests left behind apart from
 * what lives on (sockets, pooled state), and its purge hands the pages the
 * burst freed back to the OS (lstr_heap_trim, after connections churn),
 * where LuaJIT's own dlmalloc arena kept the burst's peak for good.  Under
 * sanitizers it is their malloc, so ASan sees Lua's memory too; an embedder
 * linking libluster.so keeps its own. */
#ifdef LSTR_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
/* malloc and free for new and dead blocks: jemalloc's fast paths (realloc
 * has none). */
static inline void *heap_alloc(void *ptr, size_t osize, size_t nsize) {
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return ptr ? realloc(ptr, nsize) : malloc(nsize);
}

/* Every state allocates through state_alloc (with a memory limit) or
 * lean_alloc (without): the allocator's ud is how lstr_ctx finds the state
 * from any lua_State in one load.  Only a limited state counts its bytes;
 * process.memoryUsage() asks the collector otherwise (core_heap). */
static void *lean_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  return heap_alloc(ptr, osize, nsize);
}

static void *state_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lstr_state *s = ud;
  size_t old = ptr ? osize : 0;
  if (nsize > old && s->mem_limit && s->mem_used + (nsize - old) > s->mem_limit) {
    s->out_of_memory = 1;
    return NULL;
  }
  void *p = heap_alloc(ptr, osize, nsize);
  if (p || nsize == 0) {
    /* blocks allocated before accounting began are freed through here too */
    s->mem_used = s->mem_used + nsize >= old ? s->mem_used + nsize - old : 0;
  }
  return p;
}

static lua_State *new_lua_state(lstr_state *s) {
  return lua_newstate(s->mem_limit ? state_alloc : lean_alloc, s);
}

/* The state's allocator (state_alloc or lean_alloc) stays through
 * lua_close, so finalizers that run there still find their state through
 * lstr_ctx. */
static void close_lua_state(lstr_state *s) {
  if (s->L) lua_close(s->L);
  s->L = NULL;
}

/* Hand the pages of freed memory back to the OS: jemalloc's purge of every
 * arena (it otherwise lets them decay over seconds), glibc's trim for what
 * still allocates there. */
void lstr_heap_trim(void) {
#ifdef LSTR_JEMALLOC
  char name[32];
  snprintf(name, sizeof name, "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
  mallctl(name, NULL, NULL, NULL, 0);
#endif
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

static int ref_field(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return LUA_NOREF; }
  return lstr_ref(L);
}

/* ---- setImmediate support ---- */
static void immediate_check_cb(uv_check_t *h) {
  lstr_state *s = h->data;
  lstr_push_ref(s->L, s->run_immediates_ref);
  lstr_dispatch(s, 0);
}
static void immediate_idle_cb(uv_idle_t *h) { (void)h; }

static void set_immediates_active(lstr_state *s, int on) {
  if (on == s->immediates_active) return;
  s->immediates_active = on;
  if (on) {
    uv_check_start(&s->immediate_check, immediate_check_cb);
    uv_idle_start(&s->immediate_idle, immediate_idle_cb);
  } else {
    uv_check_stop(&s->immediate_check);
    uv_idle_stop(&s->immediate_idle);
  }
}

/* ---- native.core: what the Lua side needs to know about its state ---- */
static int core_immediates(lua_State *L) {
  set_immediates_active(lstr_ctx(L), lua_toboolean(L, 1));
  return 0;
}

/* process.exit(): run no more callbacks, stop the loop. */
static int core_exit(lua_State *L) {
  lstr_state *s = lstr_ctx(L);
  s->exit_code = (int)luaL_optinteger(L, 1, s->exit_code);
  s->exiting = 1;
  uv_stop(s->loop);
  return 0;
}

static int core_info(lua_State *L) {
  lstr_state *s = lstr_ctx(L);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, s->thread_id);
  lua_setfield(L, -2, "threadId");
  lua_pushboolean(L, s->is_main_thread);
  lua_setfield(L, -2, "isMainThread");
  lua_pushboolean(L, s->is_cluster_worker);
  lua_setfield(L, -2, "isClusterWorker");
  if (s->script_path) {
    lua_pushstring(L, s->script_path);
    lua_setfield(L, -2, "script");
  }
  return 1;
}

static int core_heap(lua_State *L) {
  lstr_state *s = lstr_ctx(L);
  if (s->mem_limit) lua_pushnumber(L, (lua_Number)s->mem_used);
  else lua_pushnumber(L, lua_gc(L, LUA_GCCOUNT, 0) * 1024.0 + lua_gc(L, LUA_GCCOUNTB, 0));
  lua_pushnumber(L, (lua_Number)s->mem_limit);
  return 2;
}

static int core_exiting(lua_State *L) {
  lua_pushboolean(L, lstr_ctx(L)->exiting);
  return 1;
}

/* Load a chunk from a file without running it (loadfile that reports a
 * missing file distinctly from a syntax error). */
static int core_loadfile(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int rc = luaL_loadfile(L, path);
  if (rc == 0) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  lua_pushstring(L, rc == LUA_ERRFILE ? "file" : rc == LUA_ERRSYNTAX ? "syntax" : "memory");
  return 3;
}

static int core_has_builtin(lua_State *L) {
  lua_pushboolean(L, lstr_has_builtin(luaL_checkstring(L, 1)));
  return 1;
}

static const luaL_Reg core_funcs[] = {
  {"has_builtin", core_has_builtin},
  {"immediates", core_immediates},
  {"exit", core_exit},
  {"info", core_info},
  {"heap", core_heap},
  {"exiting", core_exiting},
  {"loadfile", core_loadfile},
  {NULL, NULL}
};

int luaopen_native_core(lua_State *L) {
  luaL_register(L, "native.core", core_funcs);
  return 1;
}

/* ---- lifecycle ---- */
lstr_state *lstr_state_new(const lstr_state_options *opts) {
  lstr_state *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->dispatch_ref = s->error_new_ref = s->run_entry_ref = LUA_NOREF;
  s->before_exit_ref = s->emit_exit_ref = s->run_immediates_ref = LUA_NOREF;
  s->load_buffers_ref = s->wrap_port_ref = s->worker_start_ref = LUA_NOREF;
  s->mem_limit = opts ? opts->mem_limit : 0;
  s->thread_id = opts ? opts->thread_id : 0;
  s->is_main_thread = opts ? opts->is_main_thread : 1;
  s->worker = opts ? opts->worker : NULL;
  if (opts && opts->loop) {
    s->loop = opts->loop;
    s->owns_loop_handles = opts->owns_loop_handles;
  } else {
    s->loop = malloc(sizeof *s->loop);
    if (!s->loop || uv_loop_init(s->loop) != 0) { free(s->loop); free(s); return NULL; }
    s->owns_loop = 1;
  }
  uv_check_init(s->loop, &s->immediate_check);
  uv_idle_init(s->loop, &s->immediate_idle);
  s->immediate_check.data = s->immediate_idle.data = s;

  lua_State *L = new_lua_state(s);
  if (!L) { lstr_state_free(s); return NULL; }
  s->L = L;
  luaL_openlibs(L);
  lstr_install_modules(L);

  /* bring up the Lua side; it returns its entry points */
  /* the builtin chunk itself, called as require would */
  int rc = lstr_load_builtin(L, "luster.bootstrap");
  if (rc == -1) lua_pushliteral(L, "the builtin luster.bootstrap is missing");
  if (rc == 0) {
    lua_pushliteral(L, "luster.bootstrap");
    rc = lua_pcall(L, 1, 1, 0);
  }
  if (rc != 0) {
    fprintf(stderr, "luster: cannot start the runtime: %s\n", lua_tostring(L, -1));
    lstr_state_free(s);
    return NULL;
  }
  int t = lua_gettop(L);
  s->dispatch_ref = ref_field(L, t, "dispatch");
  s->error_new_ref = ref_field(L, t, "error_new");
  s->run_entry_ref = ref_field(L, t, "run_entry");
  s->run_immediates_ref = ref_field(L, t, "run_immediates");
  s->before_exit_ref = ref_field(L, t, "before_exit");
  s->emit_exit_ref = ref_field(L, t, "emit_exit");
  s->load_buffers_ref = ref_field(L, t, "load_buffers");
  s->wrap_port_ref = ref_field(L, t, "wrap_port");
  s->worker_start_ref = ref_field(L, t, "worker_start");
  lua_settop(L, 0);
  return s;
}

static void close_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

void lstr_state_free(lstr_state *s) {
  if (!s) return;
  /* Atomics.waitAsync waiters of this state: unhook them before anything
   * closes, so a notify from another thread cannot reach a dead state */
  lstr_atomics_forget_state(s);
  close_lua_state(s); /* finalizers close the handles they own */
  if (!uv_is_closing((uv_handle_t *)&s->immediate_check)) uv_close((uv_handle_t *)&s->immediate_check, NULL);
  if (!uv_is_closing((uv_handle_t *)&s->immediate_idle)) uv_close((uv_handle_t *)&s->immediate_idle, NULL);
  if (s->owns_loop || s->owns_loop_handles) {
    uv_walk(s->loop, close_walk_cb, NULL);
    /* again when a uv_stop() left over made it return at once */
    while (uv_run(s->loop, UV_RUN_DEFAULT) != 0) {}
  } else {
    uv_run(s->loop, UV_RUN_NOWAIT); /* let our close callbacks run */
  }
  if (s->owns_loop) {
    uv_loop_close(s->loop);
    free(s->loop);
  }
  free(s->script_path);
  free(s);
}

/* ---- calling into Lua ---- */
void lstr_dispatch(lstr_state *s, int nargs) {
  lua_State *L = s->L;
  if (s->exiting) { lua_pop(L, nargs + 1); return; }
  lstr_push_ref(L, s->dispatch_ref);
  lua_insert(L, -(nargs + 2));
  if (lua_pcall(L, nargs + 1, 0, 0) != 0) {
    /* the dispatcher handles script errors itself; this is out of memory
     * or a bug in the runtime's own Lua side -- or a worker being stopped
     * (terminate() or its memory limit), which its parent reports */
    if (!s->exiting && !s->out_of_memory)
      fprintf(stderr, "luster: fatal: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    s->exit_code = 1;
    s->exiting = 1;
    uv_stop(s->loop);
  }
}

static void push_argv(lua_State *L, int argc, char **argv) {
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* run_entry(kind, source, chunkname, argv) -> true | nil, message */
static int run_entry(lstr_state *s, const char *kind, const char *src, const char *chunkname,
                     int argc, char **argv) {
  lua_State *L = s->L;
  lstr_push_ref(L, s->run_entry_ref);
  lua_pushstring(L, kind);
  lua_pushstring(L, src);
  lua_pushstring(L, chunkname);
  push_argv(L, argc, argv);
  if (lua_pcall(L, 4, 2, 0) != 0) {
    fprintf(stderr, "luster: fatal: %s\n", lua_tostring(L, -1));
    lua_settop(L, 0);
    s->exit_code = 1;
    return 1;
  }
  if (lua_isnil(L, -2)) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    lua_settop(L, 0);
    s->exit_code = 1;
    s->exiting = 1;
    return 1;
  }
  lua_settop(L, 0);
  return s->exiting ? s->exit_code : 0;
}

int lstr_run_file(lstr_state *s, const char *path, int argc, char **argv) {
  char resolved[4096];
  free(s->script_path);
  const char *abs = realpath(path, resolved) ? resolved : path;
  s->script_path = strdup(abs); /* NULL (out of memory): no script path */
  return run_entry(s, "file", abs, path, argc, argv);
}

int lstr_run_string(lstr_state *s, const char *code, const char *chunkname, int argc, char **argv) {
  return run_entry(s, "string", code, chunkname ? chunkname : "=(command line)", argc, argv);
}

/* Call an entry point with the current exit code; returns the code it gives. */
static int call_hook(lstr_state *s, int ref) {
  lua_State *L = s->L;
  if (ref == LUA_NOREF) return s->exit_code;
  lstr_push_ref(L, ref);
  lua_pushinteger(L, s->exit_code);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    if (!s->out_of_memory) /* a worker over its limit: its parent reports it */
      fprintf(stderr, "luster: fatal: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 1;
  }
  int code = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : s->exit_code;
  lua_pop(L, 1);
  return code;
}

/* Emit process 'exit' once and settle the exit code. */
int lstr_finish(lstr_state *s) {
  if (!s->exit_emitted) {
    s->exit_emitted = 1;
    s->exit_code = call_hook(s, s->emit_exit_ref);
  }
  return s->exit_code;
}

int lstr_run_loop(lstr_state *s) {
  while (!s->exiting) {
    uv_run(s->loop, UV_RUN_DEFAULT);
    if (s->exiting) break;
    /* the loop ran dry: 'beforeExit' may schedule more work */
    call_hook(s, s->before_exit_ref);
    if (s->exiting || !uv_loop_alive(s->loop)) break;
  }
  return lstr_finish(s);
}

/* ---- the public embedding API (luster.h) ---- */
struct luster_runtime { lstr_state *s; };

LUSTER_API const char *luster_version(void) { return LUSTER_VERSION; }

LUSTER_API luster_runtime *luster_new(uv_loop_t *loop) {
  lstr_state_options o = { .loop = loop, .is_main_thread = 1 };
  luster_runtime *rt = calloc(1, sizeof *rt);
  if (!rt) return NULL;
  rt->s = lstr_state_new(&o);
  if (!rt->s) { free(rt); return NULL; }
  return rt;
}

LUSTER_API int luster_run_file(luster_runtime *rt, const char *path, int argc, char **argv) {
  /* process.argv = {exe, script, args...}; the embedder has no exe of ours */
  char **full = calloc((size_t)argc + 3, sizeof *full);
  if (!full) {
    fprintf(stderr, "luster: out of memory\n");
    return 1;
  }
  full[0] = "luster";
  full[1] = (char *)path;
  for (int i = 0; i < argc; i++) full[i + 2] = argv[i];
  int rc = lstr_run_file(rt->s, path, argc + 2, full);
  free(full);
  return rc;
}

LUSTER_API int luster_run_string(luster_runtime *rt, const char *code, const char *chunkname) {
  char *argv[] = {"luster"};
  return lstr_run_string(rt->s, code, chunkname, 1, argv);
}

LUSTER_API int luster_run(luster_runtime *rt) { return lstr_run_loop(rt->s); }
LUSTER_API int luster_finish(luster_runtime *rt) { return lstr_finish(rt->s); }
LUSTER_API void luster_call(luster_runtime *rt, int nargs) { lstr_dispatch(rt->s, nargs); }
LUSTER_API lua_State *luster_state(luster_runtime *rt) { return rt->s->L; }
LUSTER_API uv_loop_t *luster_loop(luster_runtime *rt) { return rt->s->loop; }

LUSTER_API void luster_free(luster_runtime *rt) {
  if (!rt) return;
  lstr_state_free(rt->s);
  free(rt);
}
