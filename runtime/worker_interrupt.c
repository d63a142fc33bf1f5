/*
 * worker_interrupt.c — how terminate() stops a worker thread that is busy
 * running Lua, even in a JIT-compiled loop, without harming other threads.
 *
 * A worker idle in its loop is stopped by worker.c (a uv_async_t wakes it and
 * its loop is stopped).  A worker that is running Lua never returns to its
 * loop, so the parent also sends the thread a real-time signal
 * (pthread_kill).  The handler runs on the worker thread itself and:
 *
 *   1. always installs a count hook (lua_sethook with count 1 — the same
 *      thing LuaJIT's own `luajit` does on Ctrl-C; lua_sethook only sets
 *      fields and rewrites the state's dispatch table, which is safe from a
 *      signal handler on the state's own thread).  The interpreter calls the
 *      hook before its next instruction; the hook raises an error that no
 *      pcall can keep, since it is raised again at every instruction, and
 *      the state unwinds normally: C frames return, finalizers later run in
 *      lua_close, everything is released.
 *
 *   2. LuaJIT does not run hooks inside compiled traces, and a compiled
 *      loop with no guards (`while true do x = x + 1 end`) never leaves its
 *      trace.  So the handler looks at the interrupted program counter.  If
 *      it lies outside every executable segment of every loaded object
 *      (the main program, libluajit, libc, the vDSO... collected with
 *      dl_iterate_phdr by the parent before it signals), the thread is
 *      executing anonymous executable memory, i.e. LuaJIT machine code.
 *      Trace code holds no C locks (it is not inside malloc, stdio, libuv or
 *      our mutexes: those are all file-backed code) and touches no memory of
 *      another state, so the thread can be stopped right there: it blocks
 *      every signal and sleeps forever ("parked").  The parent notices
 *      (`parked`), closes the channel, reports exit code 1 and detaches the
 *      thread.  The price: that state's memory and the shared blocks it
 *      still references are never freed — a bounded leak, never a
 *      corruption.  Resuming the trace's state in the interpreter would need
 *      LuaJIT's private snapshot machinery; this keeps to public interfaces.
 *
 * The parent re-sends the signal every few milliseconds until the thread
 * stops, since a signal landing in C code (file-backed) only arms the hook,
 * which a thread that then enters a trace never runs.
 *
 * A thread blocked in Atomics.wait (with no timeout too) is woken by
 * lstr_atomics_interrupt, which worker.c's request_stop calls as well; a
 * blocking call in a C module cannot be stopped this way.
 */
#include "worker.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <ucontext.h>
#include <unistd.h>

static int interrupt_signo;
static uv_once_t interrupt_once = UV_ONCE_INIT;

/* The worker this thread runs.  initial-exec: reading it in a signal handler
 * must not allocate (a dynamic TLS access might). */
static __thread lstr_worker *current __attribute__((tls_model("initial-exec")));

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lstr_state *s = lstr_ctx(L);
  lstr_worker *w = s->worker;
  if (!w || !atomic_load(&w->terminating)) return;
  /* no 'exit' event, no more callbacks: the worker ends now with code 1 */
  s->exit_emitted = 1;
  s->exit_code = 1;
  s->exiting = 1;
  uv_stop(s->loop);
  lua_pushliteral(L, "worker terminated");
  lua_error(L);
}

static int in_loaded_code(const code_ranges *c, uintptr_t pc) {
  for (int i = 0; i < c->n; i++)
    if (pc >= c->r[i][0] && pc < c->r[i][1]) return 1;
  return 0;
}

static uintptr_t interrupted_pc(void *uc) {
  ucontext_t *u = uc;
#if defined(__x86_64__)
  return (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uintptr_t)u->uc_mcontext.pc;
#else
  (void)u;
  return 0; /* unknown: never park, rely on the hook */
#endif
}

static void park(lstr_worker *w) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  atomic_store(&w->parked, 1);
  for (;;) pause();
}

static void on_interrupt(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)si;
  int saved = errno;
  lstr_worker *w = current;
  if (w && w->lua_live && atomic_load(&w->terminating)) {
    uintptr_t pc = interrupted_pc(uc);
    const code_ranges *c = atomic_load_explicit(&w->code, memory_order_acquire);
    if (pc && c && c->n > 0 && !in_loaded_code(c, pc)) park(w);
    lua_sethook(w->s->L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  }
  errno = saved;
}

static void install(void) {
  interrupt_signo = SIGRTMIN + 5;
  struct sigaction sa = {0};
  sa.sa_sigaction = on_interrupt;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(interrupt_signo, &sa, NULL);
}

void lstr_interrupt_init(void) { uv_once(&interrupt_once, install); }

void lstr_interrupt_enter(lstr_worker *w) { current = w; }
void lstr_interrupt_leave(void) { current = NULL; }

static int collect(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  code_ranges **cp = arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    int n = *cp ? (*cp)->n : 0;
    code_ranges *c = realloc(*cp, sizeof *c + (size_t)(n + 1) * sizeof c->r[0]);
    if (!c) return 1;
    c->n = n;
    c->r[n][0] = info->dlpi_addr + ph->p_vaddr;
    c->r[n][1] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    c->n = n + 1;
    *cp = c;
  }
  return 0;
}

void lstr_interrupt_send(lstr_worker *w) {
  /* Collected once, before the first signal, then never changed: the
   * handler reads them without a lock (published with release/acquire). */
  if (!atomic_load(&w->code)) {
    code_ranges *c = NULL;
    dl_iterate_phdr(collect, &c);
    atomic_store_explicit(&w->code, c, memory_order_release);
  }
  pthread_kill(w->tid, interrupt_signo);
}
