/*
 * tcp.h — listening sockets and socket addresses, shared by http.c and the
 * `native.tcp` module (tcp.c).  File descriptors are plain ints so that they
 * can cross the cluster seam (lua/luster/net.lua) and SCM_RIGHTS.
 */
#ifndef LSTR_TCP_H
#define LSTR_TCP_H

#include "lstr.h"

/* socket() + SO_REUSEADDR (+ SO_REUSEPORT) + bind() + listen().
 * host NULL or "" means every address ("::" dual-stack, else "0.0.0.0").
 * Returns the listening fd (>= 0) or a negative libuv error code. */
int lstr_tcp_listen_socket(const char *host, int port, int backlog, int reuse_port);

/* Push {address=, port=, family='IPv4'|'IPv6'} for a socket's local
 * (peer = 0) or remote (peer = 1) end; pushes nil when unknown. */
void lstr_tcp_push_address(lua_State *L, int fd, int peer);

#endif
