/*
 * clone.h — the one structured-clone serializer (worker messages, workerData,
 * cluster IPC).
 *
 * A message is flat bytes plus, for thread messages, the memory blocks it
 * carries (SharedArrayBuffers, retained; transferred ArrayBuffers, owned)
 * and the transferred objects claimed by a transfer hook (MessagePort).
 * Encoding reads the sender's state; decoding builds the value in any other
 * state, on any thread.  A message is owned by whoever holds the pointer and
 * is freed with lstr_msg_free (decoded or not: undelivered blocks and ports
 * are released there).
 *
 * Values: nil, booleans, numbers (exact, NaN/inf/-0 included), strings
 * (binary-safe), tables (array and hash parts, keys of any clonable type,
 * shared references and cycles preserved, metatables dropped),
 * SharedArrayBuffer and views over it (shared), ArrayBuffer and views
 * (copied; moved when the buffer is in the transfer list: the source is
 * detached), int64_t/uint64_t cdata, json.null (lightuserdata NULL).
 * Anything else raises DataCloneError naming its path (`value.handlers[2]`).
 */
#ifndef LSTR_CLONE_H
#define LSTR_CLONE_H

#include <stddef.h>
#include "lstr.h"

typedef struct lstr_msg lstr_msg;

#define LSTR_CLONE_THREAD 0  /* SABs shared, ArrayBuffers transferable */
#define LSTR_CLONE_PROCESS 1 /* bytes + SABs' memfds: transfers -> DataCloneError */

/* Nesting deeper than this is refused (encode) or rejected (decode). */
#define LSTR_CLONE_MAX_DEPTH 512

/* Encode the value at value_idx.  transfer_idx: a Lua array of objects to
 * move (ArrayBuffers, hook-claimed objects), or 0 / nil for none.
 * Returns NULL on error with a DataCloneError table pushed; then nothing was
 * detached or taken.  On success the stack is as it was. */
lstr_msg *lstr_msg_encode(lua_State *L, int value_idx, int transfer_idx, int mode);

/* Push the value (returns 0), or push an error table (returns -1): a
 * DataCloneError for malformed bytes.  A message may be decoded more than
 * once (e.g. broadcast); a moved ArrayBuffer is handed over by the first
 * decode and copied by later ones; transferred ports go to the first only. */
int lstr_msg_decode(lua_State *L, lstr_msg *m);

void lstr_msg_free(lstr_msg *m);

/* Message blocks kept for reuse.  A message is one malloc'ed block; when
 * the thread that sent it frees it, the next message simply takes it back,
 * but blocks freed by the receiving thread would go back to the sender's
 * malloc arena one by one under its lock, while the sender allocates new
 * ones from it: on a busy channel that malloc traffic was the larger part
 * of a post.  So a receiver keeps the blocks it is done with in a cache,
 * the channel hands them back to the sender in bulk (message_port.c), and
 * the sender encodes into them.  A cache belongs to one thread at a time. */
typedef struct lstr_msg_cache { lstr_msg *head, *tail; size_t n; } lstr_msg_cache;
/* A cache takes recycled blocks while it holds fewer than this, and moves
 * while it holds fewer than this too: a move takes all that is offered, so
 * the channel's caches stay within a small multiple of it. */
#define LSTR_MSG_CACHE_MAX 512
/* lstr_msg_encode, taking the block from `c` when one is big enough. */
lstr_msg *lstr_msg_encode_cached(lua_State *L, int value_idx, int transfer_idx, int mode,
                                 lstr_msg_cache *c);
/* Free m, or keep its block in c (plain messages, while c has room). */
void lstr_msg_recycle(lstr_msg *m, lstr_msg_cache *c);
/* Move all of src to the end of dst (src is left empty), unless dst holds
 * LSTR_MSG_CACHE_MAX already (then nothing moves). */
void lstr_msg_cache_move(lstr_msg_cache *dst, lstr_msg_cache *src);
void lstr_msg_cache_clear(lstr_msg_cache *c);

/* The flat bytes (for process IPC).  Only meaningful for messages encoded
 * with LSTR_CLONE_PROCESS (thread messages refer to their blocks), together
 * with the descriptors of lstr_msg_dup_fds. */
const char *lstr_msg_bytes(const lstr_msg *m, size_t *len);
/* A message from bytes (copied).  Nothing is trusted: decode validates. */
lstr_msg *lstr_msg_from_bytes(const char *p, size_t len);

/* A process message carries each SharedArrayBuffer as the memfd behind it,
 * to be sent with the bytes (SCM_RIGHTS) in this order; the bytes name them
 * by index.  At most LSTR_MSG_MAX_FDS distinct ones (the kernel's limit on
 * descriptors in one sendmsg, less one for a connection's).
 * lstr_msg_dup_fds: close-on-exec copies in out[0..n), the caller's to
 * close; returns n, or -1 (none left open) when out of descriptors.
 * lstr_msg_attach_fds: the received message takes fds[0..n) (all closed
 * whatever happens) and maps them; 0, or -1 when one is not a luster
 * SharedArrayBuffer's (then decoding would fail anyway). */
#define LSTR_MSG_MAX_FDS 252
size_t lstr_msg_nfds(const lstr_msg *m);
int lstr_msg_dup_fds(const lstr_msg *m, int *out);
int lstr_msg_attach_fds(lstr_msg *m, const int *fds, size_t n);

/* ---- extension point: transferable objects (MessagePort) ----
 * worker_threads registers one hook per transferable type at startup.  For
 * each transferList entry that is not an ArrayBuffer the encoder asks every
 * hook's `claim`; the same question is asked of objects met in the value that
 * are not in the transfer list (a claimed one there is a DataCloneError:
 * "must be listed in transferList").  Objects keep their identity: the same
 * port twice in a value arrives as one port.
 *
 *   claim(L, idx): 1 = mine and transferable now, 0 = not mine,
 *                  -1 = mine but not transferable (closed, already moved).
 *                  Must not raise and must have no side effects.
 *   take(L, idx):  called only once encoding has succeeded; detaches the
 *                  object from the sender and returns an opaque payload.
 *                  Must not raise.
 *   push(L, payload): in the receiving state, push the object; takes the
 *                  payload.  Returns 0, or -1 to fail the decode.
 *   drop(payload): the message is freed without the payload delivered.
 */
typedef struct lstr_transfer_hook {
  const char *name; /* for messages: "MessagePort" */
  int (*claim)(lua_State *L, int idx);
  void *(*take)(lua_State *L, int idx);
  int (*push)(lua_State *L, void *payload);
  void (*drop)(void *payload);
} lstr_transfer_hook;

/* Process-wide; call before any state exists.  Returns 0, or -1 when the
 * (small, fixed) table is full.  The hook struct must outlive the process. */
int lstr_clone_register_transfer(const lstr_transfer_hook *hook);

/* require('native.clone'): encode(value, transferList[, 'process']) ->
 * message userdata; decode(msg); bytes(msg) -> string; from_bytes(s) ->
 * msg; set_cdata_hooks(classify, make) (used by luster.buffers). */
int luaopen_native_clone(lua_State *L);

#endif
