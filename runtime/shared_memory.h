/*
 * shared_memory.h — reference-counted memory blocks and the Atomics primitives.
 *
 * One `lstr_block` backs every SharedArrayBuffer and every ArrayBuffer.  Lua
 * never owns the bytes: each Lua handle (buffer or typed-array view) holds one
 * reference, released by its ffi.gc finalizer; a structured-clone message
 * holds one more while in flight.  The block (and its bytes) is freed when the
 * last reference goes, whichever thread that is on.
 *
 * Views read through the block header (data + length) on every access, so
 * detaching an ArrayBuffer (transfer) empties every view of it at once.
 *
 * A SharedArrayBuffer's bytes are a memfd mapped MAP_SHARED, so that they
 * can be sent to another process (the fd rides along with SCM_RIGHTS) and
 * mapped there: the same memory, in both.  The memfd ends with a small
 * control area (lstr_sab_ctrl) every process sees, used by Atomics.wait /
 * notify once the memory has crossed a process boundary.  The kernel keeps
 * the memory while any process maps it or holds the fd.
 *
 * The first four fields are mirrored by the ffi.cdef in lua/luster/buffers.lua
 * (as `struct lstr_blockh`); keep them in sync.
 */
#ifndef LSTR_SHARED_MEMORY_H
#define LSTR_SHARED_MEMORY_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include "lstr.h"

#define LSTR_BLOCK_DETACHED       1  /* bytes moved away by a transfer */
#define LSTR_BLOCK_UNTRANSFERABLE 2  /* worker_threads.markAsUntransferable */

/* Largest buffer we agree to allocate (as V8 on 64-bit: 2^53-1 is the spec
 * limit, but anything above this is an allocation failure in practice). */
#define LSTR_BLOCK_MAX ((size_t)1 << 40)

typedef struct lstr_waiter lstr_waiter;
typedef struct lstr_block lstr_block;

/* The last 64 bytes of a SharedArrayBuffer's memfd (at data + ctrl_at),
 * shared by every process that maps it.  `length` lets a receiver find the
 * bytes without trusting the message; `waiters` counts the Atomics.wait
 * callers asleep on a futex in this memory (any process), so notify only
 * makes the futex call when somebody may be there; `gen` moves when a
 * worker's terminate() wakes every futex waiter of a cell, so that the
 * others can tell that wake-up from a notify. */
typedef struct lstr_sab_ctrl {
  uint32_t magic;
  uint32_t waiters;
  uint64_t length;
  uint32_t gen;
  uint32_t pad[11];
} lstr_sab_ctrl;

struct lstr_block {
  /* ---- mirrored in Lua (read-only there) ---- */
  uint8_t *data;        /* never NULL unless detached (0-byte blocks get 1) */
  size_t length;        /* bytes; 0 once detached */
  int32_t shared;       /* 1: SharedArrayBuffer storage */
  int32_t flags;        /* LSTR_BLOCK_* */
  /* ---- private ---- */
  size_t refs;          /* atomic */
  pthread_mutex_t lock; /* guards `waiters` (Atomics.wait critical section) */
  lstr_waiter *waiters; /* FIFO of sync and async waiters, any offset */
  /* SharedArrayBuffer memory (fd < 0: plain heap bytes, this process only) */
  int fd;               /* the memfd mapped at data */
  size_t maplen;        /* bytes mapped at data: the bytes + the control area */
  lstr_sab_ctrl *ctrl;
  int ipc;              /* atomic: the memory has been sent to or received
                         * from another process (wait sleeps on a futex) */
  int registered;       /* in the process-wide list by inode (guarded by it) */
  uint64_t dev, ino;
  lstr_block *rnext, *rprev;
};

/* Returns a zeroed block with one reference, or NULL (size too big / OOM).
 * Shared blocks are backed by a memfd when the kernel gives one (otherwise
 * by the heap, and then they cannot cross processes). */
LSTR_EXPORT lstr_block *lstr_block_new(double nbytes, int shared);
LSTR_EXPORT lstr_block *lstr_block_retain(lstr_block *b);
LSTR_EXPORT void lstr_block_release(lstr_block *b);
LSTR_EXPORT void lstr_block_mark_untransferable(lstr_block *b);
/* memmove for typed-array :set() and copyWithin-like paths. */
LSTR_EXPORT void lstr_block_move(void *dst, const void *src, size_t n);

/* Transfer in two steps, so that encoding a message can fail without side
 * effects: lstr_block_new_header() makes an empty block (one reference, no
 * bytes) up front; lstr_block_steal() later moves `src`'s bytes into it and
 * leaves `src` detached (data NULL, length 0) for every handle and view. */
lstr_block *lstr_block_new_header(void);
void lstr_block_steal(lstr_block *dst, lstr_block *src);
/* A private copy of `src`'s bytes (for decoding a moved buffer twice). */
lstr_block *lstr_block_copy(const lstr_block *src);

/* ---- SharedArrayBuffers across processes (the cluster IPC channel) ----
 * Before a SharedArrayBuffer is sent: returns 0 once its memory is ready to
 * be mapped by another process (from then on Atomics.wait on it sleeps on a
 * process-shared futex), or -1 when it has no memfd. */
int lstr_block_export(lstr_block *b);
/* The block for a received memfd (takes `fd`): the one already in this
 * process when the memory came here before, else a new mapping.  NULL (fd
 * closed) when fd is not a sealed luster SharedArrayBuffer or on OOM. */
lstr_block *lstr_block_from_fd(int fd);
/* Returns fd, made known to ThreadSanitizer (in TSan builds) when it comes
 * from a call TSan does not intercept (memfd_create, fcntl F_DUPFD). */
int lstr_fd_made(int fd);

/* ---- Atomics: sequentially consistent, called through the FFI ----
 * lstr_atomic_<op>_<t>(p, ...) with t in i8 u8 i16 u16 i32 u32 i64 u64;
 * every read-modify-write returns the old value. */
#define LSTR_ATOMIC_DECLS(T, N)                                                \
  LSTR_EXPORT T lstr_atomic_load_##N(T *p);                                    \
  LSTR_EXPORT T lstr_atomic_store_##N(T *p, T v);                              \
  LSTR_EXPORT T lstr_atomic_add_##N(T *p, T v);                                \
  LSTR_EXPORT T lstr_atomic_sub_##N(T *p, T v);                                \
  LSTR_EXPORT T lstr_atomic_and_##N(T *p, T v);                                \
  LSTR_EXPORT T lstr_atomic_or_##N(T *p, T v);                                 \
  LSTR_EXPORT T lstr_atomic_xor_##N(T *p, T v);                                \
  LSTR_EXPORT T lstr_atomic_exchange_##N(T *p, T v);                           \
  LSTR_EXPORT T lstr_atomic_cas_##N(T *p, T expected, T v);
LSTR_ATOMIC_DECLS(int8_t, i8)
LSTR_ATOMIC_DECLS(uint8_t, u8)
LSTR_ATOMIC_DECLS(int16_t, i16)
LSTR_ATOMIC_DECLS(uint16_t, u16)
LSTR_ATOMIC_DECLS(int32_t, i32)
LSTR_ATOMIC_DECLS(uint32_t, u32)
LSTR_ATOMIC_DECLS(int64_t, i64)
LSTR_ATOMIC_DECLS(uint64_t, u64)

/* Atomics.wait / notify.  `off` is a byte offset into the block, `width` 4 or
 * 8.  timeout_ms < 0 or NaN/inf means forever.  Returns LSTR_WAIT_*. */
#define LSTR_WAIT_OK 0
#define LSTR_WAIT_NOT_EQUAL 1
#define LSTR_WAIT_TIMED_OUT 2
LSTR_EXPORT int lstr_atomic_wait(lstr_block *b, size_t off, int width,
                                 int64_t expected, double timeout_ms);
/* Wakes up to `count` waiters (count < 0 or inf: all) on (b, off), FIFO,
 * sync and async alike.  Returns how many were woken. */
LSTR_EXPORT int lstr_atomic_notify(lstr_block *b, size_t off, double count);

/* Atomics.waitAsync lives in `require('native.atomics')`.  Each pending async
 * waiter holds a uv_async_t (+ uv_timer_t) on its state's loop, keeping that
 * loop alive.  The core must call this when a state is torn down before its
 * handles are closed: it unhooks the state's pending waiters from every block
 * (so no other thread signals them again) and closes their handles itself. */
void lstr_atomics_forget_state(lstr_state *s);

/* Worker termination: wake `thread` if it is blocked in Atomics.wait (the
 * wait returns 'timed-out') and make its later waits return at once, so that
 * terminate() can stop a worker waiting forever.  Clear the mark when the
 * thread is done (or reused).  Safe to call from any thread. */
void lstr_atomics_interrupt(uv_thread_t thread);
void lstr_atomics_clear_interrupt(uv_thread_t thread);

int luaopen_native_atomics(lua_State *L);

#endif
