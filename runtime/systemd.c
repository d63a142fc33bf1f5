/*
 * systemd.c — native.systemd: the two things a service needs from systemd's
 * side without linking libsystemd (the protocols are a few lines each):
 *
 *   notify(state) -> true | nil, code, message
 *       sd_notify(3): `state` ("READY=1", ...) as one datagram to the
 *       AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the
 *       abstract namespace).  Without NOTIFY_SOCKET it does nothing and
 *       returns false.  "RELOADING=1" gains MONOTONIC_USEC=, as
 *       Type=notify-reload wants.
 *   listen_fds() -> n
 *       sd_listen_fds(3): how many sockets were passed from fd 3 on, when
 *       LISTEN_PID is this process; LISTEN_* are removed from the
 *       environment so that children do not take them for theirs.
 */
#include "lstr.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int sd_notify_lua(lua_State *L) {
  size_t len;
  const char *state = luaL_checklstring(L, 1, &len);
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) { lua_pushboolean(L, 0); return 1; }
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  size_t plen = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || plen >= sizeof sa.sun_path)
    return lstr_push_fail(L, UV_EINVAL, "sendto");   /* not a socket path */
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@') sa.sun_path[0] = 0; /* abstract namespace */
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);

  char buf[512];
  if (!strncmp(state, "RELOADING=1", 11) && len + 64 < sizeof buf) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    len = (size_t)snprintf(buf, sizeof buf, "%s\nMONOTONIC_USEC=%llu", state,
                           (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)(ts.tv_nsec / 1000));
    state = buf;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return lstr_push_fail(L, -errno, "socket");
  ssize_t n = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  int err = errno;
  close(fd);
  if (n < 0) return lstr_push_fail(L, -err, "sendto");
  lua_pushboolean(L, 1);
  return 1;
}

static int sd_listen_fds_lua(lua_State *L) {
  const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
  int n = 0;
  if (pid && fds && strtol(pid, NULL, 10) == (long)getpid()) {
    n = (int)strtol(fds, NULL, 10);
    if (n < 0) n = 0;
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  lua_pushinteger(L, n);
  return 1;
}

static const luaL_Reg systemd_funcs[] = {
  {"notify", sd_notify_lua},
  {"listen_fds", sd_listen_fds_lua},
  {NULL, NULL}
};

int luaopen_native_systemd(lua_State *L) {
  luaL_register(L, "native.systemd", systemd_funcs);
  return 1;
}
