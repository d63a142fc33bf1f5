/*
 * luster.h — embedding the luster runtime in a C program.
 *
 * A luster_runtime is one Lua state (LuaJIT) bound to one libuv loop, with
 * every builtin module (`events`, `worker_threads`, `http`, ...) available to
 * its scripts.  Worker threads started by those scripts get states of their
 * own; C modules registered here are visible to all of them.
 *
 *   luster_register_module("greeter", luaopen_greeter);   // before or after new
 *   luster_runtime *rt = luster_new(NULL);               // its own loop
 *   if (luster_run_file(rt, "handler.lua", 0, NULL) == 0)
 *     code = luster_run(rt);                              // until idle
 *   luster_free(rt);
 *
 * Functions returning int return 0 on success; on failure a script error has
 * been printed to stderr and the exit code (1) is returned.
 */
#ifndef LUSTER_H
#define LUSTER_H

#include <uv.h>
#include <lua.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LUSTER_API __attribute__((visibility("default")))

typedef struct luster_runtime luster_runtime;

/* The version string, e.g. "0.1.0". */
LUSTER_API const char *luster_version(void);

/* Make `require(name)` call `open` in every state created afterwards, worker
 * threads included.  Thread-safe; names are copied. */
LUSTER_API int luster_register_module(const char *name, lua_CFunction open);

/* A runtime on `loop` (not owned, not closed by luster_free), or on a loop of
 * its own when `loop` is NULL.  NULL if out of memory. */
LUSTER_API luster_runtime *luster_new(uv_loop_t *loop);

/* Run a script file / a string as an entry chunk (in a coroutine, so it may
 * await).  argv becomes process.argv after the executable and the script. */
LUSTER_API int luster_run_file(luster_runtime *rt, const char *path, int argc, char **argv);
LUSTER_API int luster_run_string(luster_runtime *rt, const char *code, const char *chunkname);

/* Run the loop until nothing is left to do (or process.exit()); returns the
 * exit code (process.exitCode).  With a caller-owned loop the caller may run
 * it instead; then call luster_finish() to emit process 'exit'. */
LUSTER_API int luster_run(luster_runtime *rt);
LUSTER_API int luster_finish(luster_runtime *rt);

/* Call global or module function `fn` (on the stack with its nargs args) the
 * way the runtime calls callbacks: in a coroutine, then drain ticks and
 * microtasks.  Pops them. */
LUSTER_API void luster_call(luster_runtime *rt, int nargs);

/* The state and the loop, for pushing values or adding handles. */
LUSTER_API lua_State *luster_state(luster_runtime *rt);
LUSTER_API uv_loop_t *luster_loop(luster_runtime *rt);

/* Free the runtime: closes the Lua state, and the loop if it owns it. */
LUSTER_API void luster_free(luster_runtime *rt);

/* Run the luster command line (what the `luster` binary's main does). */
LUSTER_API int luster_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
