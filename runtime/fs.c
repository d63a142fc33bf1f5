/*
 * fs.c — the native side of the `fs` subset: read/write/append a file,
 * stat, lstat, readdir, mkdir, unlink, rmdir, rename; and for serving files
 * piece by piece (router.static), readrange (length bytes from offset) and
 * realpath.
 *
 * Each operation is written once, as a plain POSIX function on C data
 * (fs_job).  The sync form runs it on the calling thread; the async form
 * (promises, callbacks) runs the same function on libuv's threadpool with
 * uv_queue_work and hands the result back to Lua on the loop thread, so the
 * loop never blocks on the disk.  Errors come back as Node's: code ENOENT,
 * message "ENOENT: no such file or directory, open '<path>'".
 */
#include "lstr.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OP_READ, OP_WRITE, OP_APPEND, OP_STAT, OP_READDIR, OP_MKDIR, OP_UNLINK, OP_RMDIR, OP_RENAME,
       OP_LSTAT, OP_READ_RANGE, OP_REALPATH };
static const char *const op_names[] = { "read", "write", "append", "stat", "readdir", "mkdir",
                                        "unlink", "rmdir", "rename", "lstat", "readrange",
                                        "realpath", NULL };
static const char *const op_syscalls[] = { "open", "open", "open", "stat", "scandir", "mkdir",
                                           "unlink", "rmdir", "rename", "lstat", "read",
                                           "realpath" };

typedef struct {
  uv_work_t req;
  lstr_state *s;
  int cb_ref;
  int op;
  char *path, *path2;
  char *data;      /* in: bytes to write; out: bytes read or NUL-separated names */
  size_t len;      /* readrange: in, the most bytes to read */
  off_t offset;    /* readrange: where to start */
  int count;       /* readdir: number of names */
  struct stat st;
  int err;         /* 0 or -errno */
} fs_job;

static int read_whole(fs_job *j) {
  int fd = open(j->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) != 0) { int e = -errno; close(fd); return e; }
  if (S_ISDIR(st.st_mode)) { close(fd); return -EISDIR; }
  size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n == cap) { cap *= 2; buf = realloc(buf, cap); }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0) { if (errno == EINTR) continue; int e = -errno; free(buf); close(fd); return e; }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  j->data = buf;
  j->len = n;
  return 0;
}

/* Up to j->len bytes from j->offset (fewer at the end of the file). */
static int read_range(fs_job *j) {
  int fd = open(j->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char *buf = malloc(j->len ? j->len : 1);
  if (!buf) { close(fd); return -ENOMEM; }
  size_t n = 0;
  while (n < j->len) {
    ssize_t r = pread(fd, buf + n, j->len - n, j->offset + (off_t)n);
    if (r < 0) { if (errno == EINTR) continue; int e = -errno; free(buf); close(fd); return e; }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  j->data = buf;
  j->len = n;
  return 0;
}

static int real_path(fs_job *j) {
  char *p = realpath(j->path, NULL);
  if (!p) return -errno;
  j->data = p;
  j->len = strlen(p);
  return 0;
}

static int write_whole(fs_job *j, int append) {
  int fd = open(j->path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0666);
  if (fd < 0) return -errno;
  size_t off = 0;
  while (off < j->len) {
    ssize_t w = write(fd, j->data + off, j->len - off);
    if (w < 0) { if (errno == EINTR) continue; int e = -errno; close(fd); return e; }
    off += (size_t)w;
  }
  return close(fd) == 0 ? 0 : -errno;
}

static int list_dir(fs_job *j) {
  DIR *d = opendir(j->path);
  if (!d) return -errno;
  size_t cap = 256, n = 0;
  char *buf = malloc(cap);
  struct dirent *e;
  j->count = 0;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    size_t l = strlen(e->d_name) + 1;
    while (n + l > cap) { cap *= 2; buf = realloc(buf, cap); }
    memcpy(buf + n, e->d_name, l);
    n += l;
    j->count++;
  }
  closedir(d);
  j->data = buf;
  j->len = n;
  return 0;
}

static void run_job(fs_job *j) {
  switch (j->op) {
    case OP_READ: j->err = read_whole(j); break;
    case OP_WRITE: j->err = write_whole(j, 0); break;
    case OP_APPEND: j->err = write_whole(j, 1); break;
    case OP_STAT: j->err = stat(j->path, &j->st) == 0 ? 0 : -errno; break;
    case OP_READDIR: j->err = list_dir(j); break;
    case OP_MKDIR: j->err = mkdir(j->path, (mode_t)j->len) == 0 ? 0 : -errno; break;
    case OP_UNLINK: j->err = unlink(j->path) == 0 ? 0 : -errno; break;
    case OP_RMDIR: j->err = rmdir(j->path) == 0 ? 0 : -errno; break;
    case OP_RENAME: j->err = rename(j->path, j->path2) == 0 ? 0 : -errno; break;
    case OP_LSTAT: j->err = lstat(j->path, &j->st) == 0 ? 0 : -errno; break;
    case OP_READ_RANGE: j->err = read_range(j); break;
    case OP_REALPATH: j->err = real_path(j); break;
  }
}

static void free_job(fs_job *j) {
  free(j->path);
  free(j->path2);
  free(j->data);
  free(j);
}

static void push_stat(lua_State *L, const struct stat *st) {
  lua_createtable(L, 0, 10);
  lua_pushnumber(L, (lua_Number)st->st_size); lua_setfield(L, -2, "size");
  lua_pushinteger(L, st->st_mode); lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st->st_uid); lua_setfield(L, -2, "uid");
  lua_pushinteger(L, (lua_Integer)st->st_gid); lua_setfield(L, -2, "gid");
  lua_pushnumber(L, (lua_Number)st->st_ino); lua_setfield(L, -2, "ino");
  lua_pushnumber(L, (lua_Number)st->st_nlink); lua_setfield(L, -2, "nlink");
  lua_pushnumber(L, st->st_mtim.tv_sec * 1e3 + st->st_mtim.tv_nsec / 1e6); lua_setfield(L, -2, "mtimeMs");
  lua_pushnumber(L, st->st_atim.tv_sec * 1e3 + st->st_atim.tv_nsec / 1e6); lua_setfield(L, -2, "atimeMs");
  lua_pushnumber(L, st->st_ctim.tv_sec * 1e3 + st->st_ctim.tv_nsec / 1e6); lua_setfield(L, -2, "ctimeMs");
  lua_pushboolean(L, S_ISREG(st->st_mode)); lua_setfield(L, -2, "isFile");
  lua_pushboolean(L, S_ISDIR(st->st_mode)); lua_setfield(L, -2, "isDirectory");
  lua_pushboolean(L, S_ISLNK(st->st_mode)); lua_setfield(L, -2, "isSymbolicLink");
}

/* Pushes (err, result): err is nil or a Node-shaped error table. */
static void push_result(lua_State *L, fs_job *j) {
  if (j->err) {
    int e = j->err;
    lstr_push_error(L, uv_err_name(e), "%s: %s, %s '%s'", uv_err_name(e), uv_strerror(e),
                    op_syscalls[j->op], j->path);
    if (lua_istable(L, -1)) {
      lua_pushstring(L, j->path); lua_setfield(L, -2, "path");
      lua_pushstring(L, op_syscalls[j->op]); lua_setfield(L, -2, "syscall");
      lua_pushinteger(L, e); lua_setfield(L, -2, "errno");
    }
    lua_pushnil(L);
    return;
  }
  lua_pushnil(L);
  switch (j->op) {
    case OP_READ: case OP_READ_RANGE: case OP_REALPATH: lua_pushlstring(L, j->data, j->len); break;
    case OP_STAT: case OP_LSTAT: push_stat(L, &j->st); break;
    case OP_READDIR: {
      lua_createtable(L, j->count, 0);
      const char *p = j->data;
      for (int i = 1; i <= j->count; i++) {
        lua_pushstring(L, p);
        lua_rawseti(L, -2, i);
        p += strlen(p) + 1;
      }
      break;
    }
    default: lua_pushboolean(L, 1);
  }
}

/* op(name, path[, data | path2 | mode]) -> job, from the Lua arguments */
static fs_job *job_from_args(lua_State *L) {
  fs_job *j = calloc(1, sizeof *j);
  j->op = luaL_checkoption(L, 1, NULL, op_names);
  j->path = strdup(luaL_checkstring(L, 2));
  j->cb_ref = LUA_NOREF;
  if (j->op == OP_WRITE || j->op == OP_APPEND) {
    size_t n;
    const char *d = luaL_checklstring(L, 3, &n);
    j->data = malloc(n ? n : 1);
    memcpy(j->data, d, n);
    j->len = n;
  } else if (j->op == OP_RENAME) {
    j->path2 = strdup(luaL_checkstring(L, 3));
  } else if (j->op == OP_MKDIR) {
    j->len = (size_t)luaL_optinteger(L, 3, 0777);
  } else if (j->op == OP_READ_RANGE) {
    lua_Number off = lua_tonumber(L, 3), len = lua_tonumber(L, 4);
    if (!lua_isnumber(L, 3) || !lua_isnumber(L, 4) || off < 0 || len < 0 || len > 64 * 1024 * 1024) {
      free_job(j); /* before raising: the job is not anyone's yet */
      luaL_argerror(L, 3, "offset >= 0 and 0 <= length <= 64 MiB expected");
    }
    j->offset = (off_t)off;
    j->len = (size_t)len;
  }
  return j;
}

/* sync(op, path, ...) -> result | raises */
static int fs_sync(lua_State *L) {
  fs_job *j = job_from_args(L);
  run_job(j);
  push_result(L, j);
  free_job(j);
  if (!lua_isnil(L, -2)) { lua_pop(L, 1); return lua_error(L); }
  return 1;
}

static void work_cb(uv_work_t *req) { run_job(req->data); }

static void after_work_cb(uv_work_t *req, int status) {
  fs_job *j = req->data;
  lua_State *L = j->s->L;
  if (j->s->L && j->cb_ref != LUA_NOREF) {
    lstr_push_ref(L, j->cb_ref);
    lstr_unref(L, &j->cb_ref);
    if (status == UV_ECANCELED) j->err = UV_ECANCELED;
    push_result(L, j);
    lstr_dispatch(j->s, 2);
  }
  free_job(j);
}

/* async(op, path, ..., cb): cb(err, result) runs later on the loop */
static int fs_async(lua_State *L) {
  int top = lua_gettop(L);
  luaL_checktype(L, top, LUA_TFUNCTION);
  fs_job *j = job_from_args(L);
  j->s = lstr_ctx(L);
  lua_pushvalue(L, top);
  j->cb_ref = lstr_ref(L);
  j->req.data = j;
  int rc = uv_queue_work(j->s->loop, &j->req, work_cb, after_work_cb);
  if (rc) { lstr_unref(L, &j->cb_ref); free_job(j); return lstr_uv_error(L, rc, "uv_queue_work"); }
  return 0;
}

static const luaL_Reg fs_funcs[] = {
  {"sync", fs_sync},
  {"async", fs_async},
  {NULL, NULL}
};

int luaopen_native_fs(lua_State *L) {
  luaL_register(L, "native.fs", fs_funcs);
  return 1;
}
