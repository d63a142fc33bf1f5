/*
 * cluster.h — what the cluster's C files share (internal, not installed).
 *
 *   ipc_channel.c       the IPC channel between a primary and one worker
 *                       (ipc_channel.h)
 *   cluster_share.c     a listening socket the primary owns for a port that
 *                       workers share; in round-robin mode it accepts and
 *                       hands each connection to the next worker's channel
 *   cluster.c           spawning workers (uv_spawn + the channel on fd 3),
 *                       the worker's start-up, and require('native.cluster')
 *
 * Sockets are made and accepted by the socket layer (tcp.h).
 */
#ifndef LSTR_CLUSTER_H
#define LSTR_CLUSTER_H

#include "lstr.h"
#include "ipc_channel.h"

/* The file descriptor a worker finds its channel on (like NODE_CHANNEL_FD). */
#define LSTR_CLUSTER_CHANNEL_FD 3

/* Shares (cluster_share.c): adds share_bind() and its metatable. */
void lstr_share_open_lib(lua_State *L);

#endif
