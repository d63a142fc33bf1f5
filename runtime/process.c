/*
 * process.c — the native side of `process`: identity, environment, clocks,
 * memory, output, and signals.
 *
 * Output is written synchronously with write(2), one call per chunk, retried
 * until whole — as Node does for files and pipes on Linux — so that lines
 * from many threads and processes never interleave mid-line and everything
 * printed before exit is out before exit.
 *
 * Signals: one uv_signal_t per signal a listener exists for, unref'ed (a
 * listener does not keep the process alive, as in Node).  The handles live
 * in a per-state table; the Lua side (lua/process.lua) starts and stops them
 * as listeners come and go.
 */
#include "lstr.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int lstr_write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { /* a non-blocking pipe is full: wait for room */
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        poll(&p, 1, 1000);
        continue;
      }
      return -errno;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static int proc_write(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  int rc = lstr_write_all(fd, s, len);
  lua_pushboolean(L, rc == 0);
  return 1;
}

static int proc_ids(lua_State *L) {
  lua_pushinteger(L, uv_os_getpid());
  lua_pushinteger(L, uv_os_getppid());
  return 2;
}

static int proc_cwd(lua_State *L) {
  int rc = lstr_push_uv_string(L, uv_cwd);
  if (rc) return lstr_uv_error(L, rc, "uv_cwd");
  return 1;
}

static int proc_chdir(lua_State *L) {
  int rc = uv_chdir(luaL_checkstring(L, 1));
  if (rc) return lstr_uv_error(L, rc, "chdir");
  return 0;
}

static int proc_getenv(lua_State *L) {
  const char *v = getenv(luaL_checkstring(L, 1));
  if (v) lua_pushstring(L, v); else lua_pushnil(L);
  return 1;
}

static int proc_setenv(lua_State *L) {
  const char *k = luaL_checkstring(L, 1);
  if (lua_isnil(L, 2)) uv_os_unsetenv(k);
  else uv_os_setenv(k, luaL_checkstring(L, 2));
  return 0;
}

static int proc_environ(lua_State *L) {
  lua_newtable(L);
  for (char **e = environ; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    lua_pushlstring(L, *e, (size_t)(eq - *e));
    lua_pushstring(L, eq + 1);
    lua_rawset(L, -3);
  }
  return 1;
}

static int proc_hrtime(lua_State *L) {
  lua_pushnumber(L, (lua_Number)uv_hrtime());
  return 1;
}

static int proc_rss(lua_State *L) {
  size_t rss = 0;
  uv_resident_set_memory(&rss);
  lua_pushnumber(L, (lua_Number)rss);
  return 1;
}

/* The executable's path, read once per process: it cannot change, and the
 * readlink(2) behind uv_exepath was a visible part of every worker's boot. */
static char exe_path[4096];
static size_t exe_len;
static uv_once_t exe_once = UV_ONCE_INIT;
static void exe_read(void) {
  size_t n = sizeof exe_path;
  if (uv_exepath(exe_path, &n) == 0) exe_len = n;
}

static int proc_exepath(lua_State *L) {
  uv_once(&exe_once, exe_read);
  if (exe_len) { lua_pushlstring(L, exe_path, exe_len); return 1; }
  return lstr_push_uv_string(L, uv_exepath) == 0;
}

/* ---- signals ---- */
static const struct { const char *name; int no; } signal_names[] = {
  {"SIGHUP", SIGHUP}, {"SIGINT", SIGINT}, {"SIGQUIT", SIGQUIT}, {"SIGILL", SIGILL},
  {"SIGTRAP", SIGTRAP}, {"SIGABRT", SIGABRT}, {"SIGBUS", SIGBUS}, {"SIGFPE", SIGFPE},
  {"SIGKILL", SIGKILL}, {"SIGUSR1", SIGUSR1}, {"SIGSEGV", SIGSEGV}, {"SIGUSR2", SIGUSR2},
  {"SIGPIPE", SIGPIPE}, {"SIGALRM", SIGALRM}, {"SIGTERM", SIGTERM}, {"SIGCHLD", SIGCHLD},
  {"SIGCONT", SIGCONT}, {"SIGSTOP", SIGSTOP}, {"SIGTSTP", SIGTSTP}, {"SIGTTIN", SIGTTIN},
  {"SIGTTOU", SIGTTOU}, {"SIGURG", SIGURG}, {"SIGXCPU", SIGXCPU}, {"SIGXFSZ", SIGXFSZ},
  {"SIGVTALRM", SIGVTALRM}, {"SIGPROF", SIGPROF}, {"SIGWINCH", SIGWINCH}, {"SIGIO", SIGIO},
  {"SIGSYS", SIGSYS},
};

int lstr_signal_number(const char *name) {
  for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (strcmp(signal_names[i].name, name) == 0) return signal_names[i].no;
  return 0;
}

const char *lstr_signal_name(int no) {
  for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (signal_names[i].no == no) return signal_names[i].name;
  return NULL;
}

typedef struct { uv_signal_t h; lstr_state *s; int cb_ref; } signal_watch;
static const char *SIGNALS_KEY = "luster.signals";

static void signal_cb(uv_signal_t *h, int signo) {
  signal_watch *w = h->data;
  lstr_push_ref(w->s->L, w->cb_ref);
  lua_pushstring(w->s->L, lstr_signal_name(signo));
  lstr_dispatch(w->s, 1);
}

static void signal_close_cb(uv_handle_t *h) { free(h->data); }

static void push_signals(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, SIGNALS_KEY);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SIGNALS_KEY);
  }
}

/* watch(name, fn): fn(name) runs on each delivery; watch(name, nil) stops */
static int proc_watch_signal(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  int no = lstr_signal_number(name);
  if (!no) return lstr_error(L, "ERR_UNKNOWN_SIGNAL", "Unknown signal: %s", name);
  push_signals(L);
  lua_rawgeti(L, -1, no);
  signal_watch *w = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (lua_isnoneornil(L, 2)) {
    if (w) {
      lstr_unref(L, &w->cb_ref);
      uv_close((uv_handle_t *)&w->h, signal_close_cb);
      lua_pushnil(L);
      lua_rawseti(L, -2, no);
    }
    return 0;
  }
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!w) {
    w = calloc(1, sizeof *w);
    if (!w) return lstr_error(L, "ERR_MEMORY_ALLOCATION_FAILED", "out of memory");
    w->s = lstr_ctx(L);
    uv_signal_init(w->s->loop, &w->h);
    w->h.data = w;
    int rc = uv_signal_start(&w->h, signal_cb, no);
    if (rc) { uv_close((uv_handle_t *)&w->h, signal_close_cb); return lstr_uv_error(L, rc, "uv_signal_start"); }
    uv_unref((uv_handle_t *)&w->h);
    lua_pushlightuserdata(L, w);
    lua_rawseti(L, -2, no);
  } else {
    lstr_unref(L, &w->cb_ref);
  }
  lua_pushvalue(L, 2);
  w->cb_ref = lstr_ref(L);
  return 0;
}

static int proc_kill(lua_State *L) {
  int pid = (int)luaL_checkinteger(L, 1);
  int no = 0;
  if (lua_type(L, 2) == LUA_TSTRING) {
    no = lstr_signal_number(lua_tostring(L, 2));
    if (!no) return lstr_error(L, "ERR_UNKNOWN_SIGNAL", "Unknown signal: %s", lua_tostring(L, 2));
  } else {
    no = (int)luaL_optinteger(L, 2, SIGTERM);
  }
  int rc = uv_kill(pid, no);
  if (rc) return lstr_uv_error(L, rc, "kill");
  lua_pushboolean(L, 1);
  return 1;
}

static int proc_signal_number(lua_State *L) {
  int no = lstr_signal_number(luaL_checkstring(L, 1));
  if (!no) return 0;
  lua_pushinteger(L, no);
  return 1;
}

static int proc_uptime(lua_State *L) {
  double up = 0;
  uv_uptime(&up);
  lua_pushnumber(L, up);
  return 1;
}

static const luaL_Reg process_funcs[] = {
  {"write", proc_write},
  {"ids", proc_ids},
  {"cwd", proc_cwd},
  {"chdir", proc_chdir},
  {"getenv", proc_getenv},
  {"setenv", proc_setenv},
  {"environ", proc_environ},
  {"hrtime", proc_hrtime},
  {"rss", proc_rss},
  {"exepath", proc_exepath},
  {"watch_signal", proc_watch_signal},
  {"kill", proc_kill},
  {"signal_number", proc_signal_number},
  {"system_uptime", proc_uptime},
  {NULL, NULL}
};

int luaopen_native_process(lua_State *L) {
  luaL_register(L, "native.process", process_funcs);
  return 1;
}
