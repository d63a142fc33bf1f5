/*
 * tcp.h — the socket layer: TCP sockets as plain file descriptors.
 *
 * Every server and client sits on these (http.c, the cluster's shared
 * listening sockets, `native.tcp`): one place resolves addresses, makes
 * listening sockets, accepts, and reads socket addresses.  Descriptors are
 * plain ints so that they can cross the cluster seam (lua/luster/net.lua)
 * and SCM_RIGHTS; libuv takes one over with uv_tcp_open.
 *
 * Errors are negative libuv codes (UV_EADDRINUSE...), never errno.
 */
#ifndef LSTR_TCP_H
#define LSTR_TCP_H

#include "lstr.h"
#include <sys/socket.h>

/* A numeric IPv4/IPv6 address or a name (blocking getaddrinfo: for
 * listen, called once) with `port`, into *ss.  0 or UV_EAI_NONAME. */
int lstr_tcp_resolve(const char *host, int port, struct sockaddr_storage *ss);

/* socket() + SO_REUSEADDR (+ SO_REUSEPORT) + bind() + listen(), non-blocking
 * and close-on-exec.  host NULL or "" means every address ("::" dual-stack,
 * else "0.0.0.0"); backlog <= 0 means 511.
 * Returns the listening fd (>= 0) or a negative libuv error code. */
int lstr_tcp_listen_socket(const char *host, int port, int backlog, int reuse_port);

/* Accept one connection: non-blocking, close-on-exec, TCP_NODELAY.
 * Returns its fd, or a negative libuv code: UV_EAGAIN when none waits.
 * At the descriptor limit (UV_EMFILE/UV_ENFILE) the waiting connections
 * are accepted and closed at once (libuv's reserve-descriptor trick), so
 * clients are told instead of hanging and a level-triggered poll does not
 * spin; the caller just tries again on the next wake-up. */
int lstr_tcp_accept(int listen_fd);

/* Push {address=, port=, family='IPv4'|'IPv6'} for a socket's local
 * (peer = 0) or remote (peer = 1) end; pushes nil when unknown. */
void lstr_tcp_push_address(lua_State *L, int fd, int peer);

#endif
