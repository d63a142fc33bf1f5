/*
 * cluster.c — require('native.cluster'): worker processes and their start.
 *
 * A worker is a re-executed copy of the luster binary (uv_exepath) running a
 * script, spawned with uv_spawn.  Its end of a socketpair becomes its fd 3
 * (LSTR_CLUSTER_CHANNEL_FD); the environment marks it (LUSTER_UNIQUE_ID =
 * its id, LUSTER_PRIMARY_PID) the way Node uses NODE_UNIQUE_ID, so a
 * worker's cluster module knows it is a worker and never forks.
 *
 * The primary's side of a worker is a `proc` (the uv_process_t, optional
 * stdout/stderr pipes for silent workers and -i's line prefixing) plus the
 * channel (ipc_channel.c).  When the process exits, what it left in the
 * channel is read first, so Lua sees its last messages, then the channel's
 * end, then the exit — always in that order.
 *
 * The worker's start (worker_init): the kernel is asked to SIGTERM it when
 * the primary dies, even by SIGKILL (PR_SET_PDEATHSIG; a primary that died
 * before the call is caught by comparing getppid()), the channel descriptor
 * is made close-on-exec and the marker variables are removed from the
 * environment, so the worker's own children are ordinary processes.
 *
 * Ownership: a proc is freed when its handle is closed (after exit) and its
 * userdata is collected, whichever comes last (lstr_lifetime).
 */
#include "cluster.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_MT "luster.cluster.process"

typedef struct proc proc;

typedef struct {
  uv_pipe_t pipe;
  proc *owner;
  const char *name;     /* "stdout" / "stderr" */
} out_pipe;

struct proc {
  uv_process_t h;
  lstr_state *s;
  int pid;
  int exited;
  lstr_lifetime life;   /* the process handle + the userdata */
  int on_exit_ref, on_output_ref;
  lstr_ipc *ch;         /* drained before 'exit' is reported */
  out_pipe *out[2];
};

static void proc_close_cb(uv_handle_t *h) {
  proc *p = h->data;
  lstr_lifetime_drop(&p->life);
}

/* ---- output pipes of silent workers ---- */
static void out_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = buf->base ? suggested : 0;
}

static void out_close_cb(uv_handle_t *h) { free(h->data); }

static void out_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  out_pipe *o = st->data;
  lstr_state *s = o->owner->s;
  int ref = o->owner->on_output_ref;
  if (n > 0 && ref != LUA_NOREF) {
    lstr_push_ref(s->L, ref);
    lua_pushstring(s->L, o->name);
    lua_pushlstring(s->L, buf->base, (size_t)n);
    lstr_dispatch(s, 2);
  }
  free(buf->base);
  if (n < 0) {
    if (ref != LUA_NOREF) {
      lstr_push_ref(s->L, ref);
      lua_pushstring(s->L, o->name);
      lua_pushnil(s->L);
      lstr_dispatch(s, 2);
    }
    for (int i = 0; i < 2; i++) if (o->owner->out[i] == o) o->owner->out[i] = NULL;
    uv_close((uv_handle_t *)&o->pipe, out_close_cb);
  }
}

/* ---- exit ---- */
static void exit_cb(uv_process_t *h, int64_t status, int term_signal) {
  proc *p = h->data;
  lstr_state *s = p->s;
  p->exited = 1;
  if (p->ch) {
    lstr_ipc_drain(p->ch);
    lstr_ipc_drop(p->ch);
    p->ch = NULL;
  }
  if (p->on_exit_ref != LUA_NOREF) {
    int ref = p->on_exit_ref;
    p->on_exit_ref = LUA_NOREF;
    lstr_push_ref(s->L, ref);
    luaL_unref(s->L, LUA_REGISTRYINDEX, ref);
    if (term_signal) {
      lua_pushnil(s->L);
      const char *name = lstr_signal_name(term_signal);
      if (name) lua_pushstring(s->L, name); else lua_pushinteger(s->L, term_signal);
    } else {
      lua_pushinteger(s->L, (lua_Integer)status);
      lua_pushnil(s->L);
    }
    lstr_dispatch(s, 2);
  }
  uv_close((uv_handle_t *)h, proc_close_cb);
}

/* ---- spawn ---- */
static void free_array(char **a) {
  if (!a) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

/* Raise unless t[field] is nil or a list of strings (before anything is
 * allocated, so that raising leaks nothing). */
static void check_strings(lua_State *L, int idx, const char *field) {
  lua_getfield(L, idx, field);
  if (lua_istable(L, -1)) {
    size_t n = lua_objlen(L, -1);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, -1, (int)i + 1);
      if (!lua_isstring(L, -1)) luaL_error(L, "spawn: %s[%d] must be a string", field, (int)i + 1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* A NULL-terminated copy of the list of strings t[field] (checked by
 * check_strings): NULL when the field is not a table; *oom set when memory
 * ran out. */
static char **string_array(lua_State *L, int idx, const char *field, int *oom) {
  lua_getfield(L, idx, field);
  if (!lua_istable(L, -1)) { lua_pop(L, 1); return NULL; }
  size_t n = lua_objlen(L, -1);
  char **a = calloc(n + 1, sizeof *a);
  for (size_t i = 0; a && i < n; i++) {
    lua_rawgeti(L, -1, (int)i + 1);
    a[i] = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!a[i]) { free_array(a); a = NULL; }
  }
  lua_pop(L, 1);
  if (!a) *oom = 1;
  return a;
}

static int opt_ref(lua_State *L, int idx, const char *field) {
  lua_getfield(L, idx, field);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return LUA_NOREF; }
  luaL_checktype(L, -1, LUA_TFUNCTION);
  return lstr_ref(L);
}

/* spawn{file=, args={argv0, ...}, env={"K=V", ...}, cwd=, silent=, detached=,
 *       on_frame=fn(kind, value, fd, err), on_exit=fn(code, signal),
 *       on_output=fn(stream, data|nil)} -> process, channel
 * Raises a uv error table (ENOENT, EACCES...) when it cannot start. */
static int cluster_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lstr_state *s = lstr_ctx(L);
  lua_getfield(L, 1, "file");
  const char *file = luaL_checkstring(L, -1);
  lua_getfield(L, 1, "cwd");
  const char *cwd = lua_tostring(L, -1);
  lua_getfield(L, 1, "silent");
  int silent = lua_toboolean(L, -1);
  lua_getfield(L, 1, "detached");
  int detached = lua_toboolean(L, -1);
  lua_pop(L, 2); /* file and cwd stay on the stack until we return */

  check_strings(L, 1, "args");
  check_strings(L, 1, "env");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return lstr_uv_error(L, -errno, "socketpair");
  /* the primary's end is non-blocking; the worker sets its own at start */
  fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);

  int oom = 0;
  char **args = string_array(L, 1, "args", &oom);
  char **env = string_array(L, 1, "env", &oom);
  proc *p = calloc(1, sizeof *p);
  out_pipe *outs[2] = { NULL, NULL };
  if (silent) for (int i = 0; i < 2; i++) if (!(outs[i] = calloc(1, sizeof *outs[i]))) oom = 1;
  if (!p || oom) {
    free_array(args);
    free_array(env);
    free(p);
    free(outs[0]);
    free(outs[1]);
    close(sv[0]);
    close(sv[1]);
    return lstr_uv_error(L, UV_ENOMEM, "spawn");
  }
  p->s = s;
  p->on_exit_ref = p->on_output_ref = LUA_NOREF;
  lstr_lifetime_init(&p->life, p, free, 2); /* the handle + the userdata */

  uv_stdio_container_t stdio[4];
  stdio[0].flags = UV_INHERIT_FD; stdio[0].data.fd = 0;
  for (int i = 1; i <= 2; i++) {
    if (silent) {
      out_pipe *o = outs[i - 1];
      uv_pipe_init(s->loop, &o->pipe, 0);
      o->pipe.data = o;
      o->owner = p;
      o->name = i == 1 ? "stdout" : "stderr";
      p->out[i - 1] = o;
      stdio[i].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
      stdio[i].data.stream = (uv_stream_t *)&o->pipe;
    } else {
      stdio[i].flags = UV_INHERIT_FD;
      stdio[i].data.fd = i;
    }
  }
  stdio[3].flags = UV_INHERIT_FD;
  stdio[3].data.fd = sv[1];

  uv_process_options_t o = {0};
  o.exit_cb = exit_cb;
  o.file = file;
  o.args = args;
  o.env = env;
  o.cwd = cwd;
  o.stdio = stdio;
  o.stdio_count = 4;
  if (detached) o.flags |= UV_PROCESS_DETACHED; /* own session: no terminal signals */
  int rc = uv_spawn(s->loop, &p->h, &o);
  free_array(args);
  free_array(env);
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    for (int i = 0; i < 2; i++)
      if (p->out[i]) uv_close((uv_handle_t *)&p->out[i]->pipe, out_close_cb);
    /* uv_spawn initialised the handle; it still has to be closed */
    p->h.data = p;
    lstr_lifetime_drop(&p->life); /* no userdata will hold it */
    uv_close((uv_handle_t *)&p->h, proc_close_cb);
    return lstr_uv_error(L, rc, "spawn");
  }
  p->h.data = p;
  p->pid = p->h.pid;
  p->on_exit_ref = opt_ref(L, 1, "on_exit");
  p->on_output_ref = opt_ref(L, 1, "on_output");
  for (int i = 0; i < 2; i++)
    if (p->out[i]) uv_read_start((uv_stream_t *)&p->out[i]->pipe, out_alloc_cb, out_read_cb);

  proc **ud = lua_newuserdata(L, sizeof *ud);
  *ud = p;
  luaL_getmetatable(L, PROC_MT);
  lua_setmetatable(L, -2);

  int frame_ref = opt_ref(L, 1, "on_frame");
  lstr_ipc *ch = lstr_ipc_new(s, sv[0], frame_ref);
  if (!ch) {
    lstr_unref(L, &frame_ref);
    uv_process_kill(&p->h, SIGKILL); /* a worker without its channel is of no use */
    return lstr_uv_error(L, UV_ENOMEM, "spawn");
  }
  p->ch = ch;             /* the proc's reference (for draining at exit) */
  lstr_ipc_push(L, ch);
  return 2;
}

static proc *check_proc(lua_State *L) {
  proc **p = luaL_checkudata(L, 1, PROC_MT);
  return *p;
}

static int proc_pid(lua_State *L) {
  lua_pushinteger(L, check_proc(L)->pid);
  return 1;
}

/* p:kill(signal) -> true | nil, code */
static int proc_kill(lua_State *L) {
  proc *p = check_proc(L);
  int no = SIGTERM;
  if (lua_type(L, 2) == LUA_TSTRING) {
    no = lstr_signal_number(lua_tostring(L, 2));
    if (!no) return lstr_error(L, "ERR_UNKNOWN_SIGNAL", "Unknown signal: %s", lua_tostring(L, 2));
  } else if (lua_isnumber(L, 2)) {
    no = (int)lua_tointeger(L, 2);
  }
  if (p->exited) return lstr_push_fail(L, UV_ESRCH, "kill");
  int rc = uv_process_kill(&p->h, no);
  if (rc) return lstr_push_fail(L, rc, "kill");
  lua_pushboolean(L, 1);
  return 1;
}

static int proc_gc(lua_State *L) {
  proc **ud = luaL_checkudata(L, 1, PROC_MT);
  proc *p = *ud;
  if (p) {
    *ud = NULL;
    lstr_unref(L, &p->on_output_ref);
    lstr_lifetime_drop(&p->life);
  }
  return 0;
}

/* ---- the worker's side ---- */

/* worker_init() -> id, channel_fd | nil when this is not a cluster worker. */
static int cluster_worker_init(lua_State *L) {
  const char *id = getenv("LUSTER_UNIQUE_ID");
  if (!id) return 0;
  const char *ppid = getenv("LUSTER_PRIMARY_PID");
  int fd = LSTR_CLUSTER_CHANNEL_FD;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) return 0; /* not started by a primary */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (ppid && getppid() != atoi(ppid)) _exit(0); /* the primary is already gone */
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  lstr_ctx(L)->is_cluster_worker = 1;
  lua_pushinteger(L, atoi(id));
  lua_pushinteger(L, fd);
  unsetenv("LUSTER_UNIQUE_ID");
  unsetenv("LUSTER_PRIMARY_PID");
  return 2;
}

/* close_fd(fd): a descriptor nobody adopted. */
static int cluster_close_fd(lua_State *L) {
  close((int)luaL_checkinteger(L, 1));
  return 0;
}

/* dup(fd) -> fd (close-on-exec) | nil, err (EMFILE at the limit: the
 * primary answers the worker with it instead of failing itself) */
static int cluster_dup(lua_State *L) {
  int fd = fcntl((int)luaL_checkinteger(L, 1), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return lstr_push_fail(L, -errno, "dup");
  lua_pushinteger(L, fd);
  return 1;
}

static const luaL_Reg proc_methods[] = {
  {"pid", proc_pid},
  {"kill", proc_kill},
  {NULL, NULL}
};

static const luaL_Reg cluster_funcs[] = {
  {"spawn", cluster_spawn},
  {"worker_init", cluster_worker_init},
  {"close_fd", cluster_close_fd},
  {"dup", cluster_dup},
  {NULL, NULL}
};

int luaopen_native_cluster(lua_State *L) {
  lstr_new_class(L, PROC_MT, proc_methods, proc_gc);
  luaL_register(L, "native.cluster", cluster_funcs);
  lstr_ipc_open_lib(L);
  lstr_share_open_lib(L);
  lua_pushinteger(L, LSTR_IPC_USER);
  lua_setfield(L, -2, "USER");
  lua_pushinteger(L, LSTR_IPC_INTERNAL);
  lua_setfield(L, -2, "INTERNAL");
  return 1;
}
