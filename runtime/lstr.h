/*
 * lstr.h — the runtime's internal header (not installed).
 *
 * One `lstr_state` exists per Lua state: the main script's, each worker
 * thread's, each embedding's.  It owns one lua_State and is bound to one
 * uv_loop_t.  Nothing here is global except the process-wide module registry
 * (modules.c), which is what lets many states live in one process.
 *
 * The context is reachable from any lua_State (main thread or coroutine) in
 * O(1): it is the userdata of the state's allocator (see lstr_ctx).
 *
 * C files that give Lua a native concept follow one shape (after luv):
 *   check_<type>()  fetch a userdata,  <type>_cb()  the libuv callback,
 *   new_<type>()    the constructor,   a luaL_Reg table and
 *   luaopen_native_<concept>() at the end, listed in modules.c so that
 *   `require('native.<concept>')` finds it in every state.
 */
#ifndef LSTR_H
#define LSTR_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

/* Symbols Lua reaches through LuaJIT's FFI (ffi.C.<name>) must be exported
 * from the binary / shared library. */
#define LSTR_EXPORT __attribute__((visibility("default")))

typedef struct lstr_state lstr_state;

struct lstr_state {
  lua_State *L;          /* the state's main thread */
  uv_loop_t *loop;
  int owns_loop;         /* we created the loop and must close/free it */
  int owns_loop_handles; /* every handle on the loop is ours: closed with us */

  /* allocator accounting; mem_limit == 0 means unlimited */
  size_t mem_used;
  size_t mem_limit;
  int out_of_memory;     /* set when an allocation was refused */

  /* registry refs to the Lua side's entry points (lua/luster/bootstrap.lua) */
  int dispatch_ref;      /* scheduler.dispatch(fn, ...) */
  int error_new_ref;     /* errors.new(code, message) */
  int run_entry_ref;     /* run the entry chunk in a coroutine */
  int before_exit_ref;   /* process 'beforeExit' */
  int emit_exit_ref;     /* process 'exit'; returns the final exit code */
  int exit_emitted;
  /* hooks C calls instead of requiring Lua modules by name (bootstrap.lua) */
  int load_buffers_ref;  /* () loads luster.buffers (clone's cdata hooks) */
  int wrap_port_ref;     /* (port handle) -> MessagePort (worker_port.lua) */
  int worker_start_ref;  /* () -> kind, source, chunkname, argv (worker_boot.lua) */

  int exit_code;         /* process.exitCode / process.exit(n) */
  int exiting;           /* process.exit() was called: run no more callbacks */

  int thread_id;         /* 0 on the main thread */
  int is_main_thread;
  int is_cluster_worker;
  void *worker;          /* worker-thread link (worker.c), NULL on main */
  void *embedder_data;   /* free for embedders (luster_set_userdata) */

  /* setImmediate: a check handle runs the queue, an idle handle keeps the
   * poll phase from blocking while immediates are pending (as Node does). */
  uv_check_t immediate_check;
  uv_idle_t immediate_idle;
  int run_immediates_ref; /* registry ref: function that runs the queue */
  int immediates_active;

  char *script_path;     /* absolute path of the entry script, or NULL */
};

/* The context of any lua_State (coroutines included). */
static inline lstr_state *lstr_ctx(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return (lstr_state *)ud;
}

/* ---- state lifecycle (state.c) ---- */
typedef struct lstr_state_options {
  uv_loop_t *loop;       /* NULL: the state creates and owns a loop */
  int owns_loop_handles; /* loop given, but only this state uses it until freed */
  size_t mem_limit;      /* bytes; 0 = unlimited */
  int thread_id;
  int is_main_thread;
  void *worker;
} lstr_state_options;

lstr_state *lstr_state_new(const lstr_state_options *opts);
/* Hand the pages of freed heap memory (C and Lua) back to the OS. */
void lstr_heap_trim(void);
void lstr_state_free(lstr_state *s);
/* Load and run the entry chunk in a runtime coroutine. argv[0] is the
 * executable, argv[1] the script.  Returns 0, or 1 after printing an error. */
int lstr_run_file(lstr_state *s, const char *path, int argc, char **argv);
int lstr_run_string(lstr_state *s, const char *code, const char *chunkname,
                    int argc, char **argv);
/* Run the loop until nothing is left; returns the exit code. */
int lstr_run_loop(lstr_state *s);
/* Emit process 'exit' (once) and return the final exit code. */
int lstr_finish(lstr_state *s);

/* ---- calling into Lua (scheduler.c / state.c) ----
 * Stack: fn, arg1..argN.  Runs fn in a pooled runtime coroutine, then drains
 * process.nextTick and the microtask queue.  An error nobody handles goes to
 * process 'uncaughtException' or ends the state with code 1.  Pops all. */
void lstr_dispatch(lstr_state *s, int nargs);

/* ---- errors (errors.c) ----
 * Runtime errors are Lua tables {code=, message=, stack=} with __tostring. */
void lstr_push_error(lua_State *L, const char *code, const char *fmt, ...);
int lstr_error(lua_State *L, const char *code, const char *fmt, ...);
/* From a negative libuv code: code = uv_err_name (e.g. 'EADDRINUSE'),
 * message = "<syscall> <CODE>: <strerror>" as Node prints it. */
void lstr_push_uv_error(lua_State *L, int uverr, const char *syscall);
int lstr_uv_error(lua_State *L, int uverr, const char *syscall);
/* The one soft-failure shape: push nil and that error table, return 2
 * (`return lstr_push_fail(L, rc, "listen")` gives Lua `nil, err`).  Raise
 * (lstr_error) only for programmer errors such as bad arguments. */
int lstr_push_fail(lua_State *L, int uverr, const char *syscall);

/* ---- references held by C for Lua values ---- */
static inline int lstr_ref(lua_State *L) { return luaL_ref(L, LUA_REGISTRYINDEX); }
static inline void lstr_unref(lua_State *L, int *ref) {
  if (*ref != LUA_NOREF && *ref != LUA_REFNIL) luaL_unref(L, LUA_REGISTRYINDEX, *ref);
  *ref = LUA_NOREF;
}
static inline void lstr_push_ref(lua_State *L, int ref) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}

/* ---- lifetimes: free what libuv and Lua both point at ----
 * A native object that embeds a libuv handle and is reachable from a Lua
 * userdata may be freed only when both are done with it: libuv has run the
 * handle's close callback and Lua has collected the userdata, in whichever
 * order that happens (a handle closes after its userdata is collected when
 * the script drops it; a userdata outlives its handle when the script keeps
 * a closed object).  Others that point at the object (a share pointing at
 * an IPC channel) hold it the same way.
 *
 *   lstr_lifetime_init(&o->life, o, free_fn, 2);  // the handle + the userdata
 *   close callback:  lstr_lifetime_drop(&o->life);
 *   __gc:            lstr_lifetime_drop(&o->life);
 *
 * The last drop calls free_fn(obj).  Single-threaded: one state's loop. */
typedef struct lstr_lifetime {
  int holders;
  void *obj;
  void (*free_fn)(void *obj);
} lstr_lifetime;

static inline void lstr_lifetime_init(lstr_lifetime *l, void *obj, void (*free_fn)(void *obj),
                                      int holders) {
  l->holders = holders;
  l->obj = obj;
  l->free_fn = free_fn;
}
static inline void lstr_lifetime_hold(lstr_lifetime *l) { l->holders++; }
static inline void lstr_lifetime_drop(lstr_lifetime *l) {
  if (--l->holders == 0) l->free_fn(l->obj);
}

/* Register a userdata class once per state: metatable `name` with
 * __index = a table of `methods` (may be NULL) and __gc = `gc` (may be
 * NULL).  Leaves the stack as it found it. */
static inline void lstr_new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                                  lua_CFunction gc) {
  if (luaL_newmetatable(L, name)) {
    if (methods) {
      lua_newtable(L);
      luaL_register(L, NULL, methods);
      lua_setfield(L, -2, "__index");
    }
    if (gc) {
      lua_pushcfunction(L, gc);
      lua_setfield(L, -2, "__gc");
    }
  }
  lua_pop(L, 1);
}

/* Push the string a libuv getter fills in (uv_cwd, uv_exepath,
 * uv_os_homedir, ...).  Returns the libuv code: 0 with the string pushed,
 * or negative with nothing pushed. */
static inline int lstr_push_uv_string(lua_State *L, int (*get)(char *buf, size_t *size)) {
  char buf[4096];
  size_t n = sizeof buf;
  int rc = get(buf, &n);
  if (rc == 0) lua_pushlstring(L, buf, n);
  return rc;
}

/* ---- builtin modules (modules.c) ----
 * Installs package.preload entries for every builtin (embedded bytecode),
 * every native.* C module and every embedder-registered module. */
void lstr_install_modules(lua_State *L);
int lstr_load_builtin(lua_State *L, const char *name); /* pushes chunk; 0 ok */
int lstr_has_builtin(const char *name);

/* ---- output (process.c) ----
 * Whole writes to a file descriptor, retried on EINTR/EAGAIN, so a line
 * printed by any thread reaches the terminal or pipe in one piece. */
int lstr_write_all(int fd, const char *buf, size_t len);
/* 'SIGTERM' <-> 15; 0 / NULL when unknown */
int lstr_signal_number(const char *name);
const char *lstr_signal_name(int no);

#endif
