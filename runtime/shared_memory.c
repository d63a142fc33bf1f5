/*
 * shared_memory.c — memory blocks behind (Shared)ArrayBuffers, and Atomics.
 *
 * Owns:
 *   - lstr_block: the bytes, their length, a reference count and the list of
 *     Atomics waiters.  Blocks are process-wide objects: any thread may retain
 *     or release them, the last release frees them.
 *   - the atomic read-modify-write primitives, as tiny exported functions so
 *     LuaJIT calls them through the FFI from compiled traces (a C call per op
 *     is what keeps Atomics.add competitive with V8).
 *   - Atomics.wait / notify (waitAsync: atomics_async.c).  The spec's "critical section" is one
 *     mutex per block: a waiter compares the cell and enqueues itself under it,
 *     a notifier dequeues under it, so no wake-up is lost.  Sync waiters sleep
 *     on their own condition variable; async waiters (waitAsync) are woken by
 *     a uv_async_t on their state's loop and resolve a promise there.
 *
 * Who owns what: a pending async waiter owns one block reference, a registry
 * ref to the promise's resolve function and two libuv handles; all are given
 * back when it resolves, times out or its state is forgotten.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create, F_ADD_SEALS (the fuzz build has no -D) */
#endif
#include "shared_memory_wait.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>


/* ---------------------------------------------------------------- blocks */

#define SAB_MAGIC 0x4241534cu /* "LSAB" */
#define CTRL_SIZE sizeof(lstr_sab_ctrl)

/* Where the control area starts: the bytes rounded up to its alignment. */
static size_t ctrl_offset(size_t n) { return (n + CTRL_SIZE - 1) / CTRL_SIZE * CTRL_SIZE; }

/* ThreadSanitizer tracks descriptors by number and sees only the calls it
 * intercepts: memfd_create and fcntl(F_DUPFD) are not among them, so the
 * first use of such a number "races" with whichever thread last used it.
 * In TSan builds the descriptor is therefore reopened through /proc (open
 * is intercepted: TSan starts the number afresh) and the unseen one closed
 * behind TSan's back. */
#if defined(__SANITIZE_THREAD__)
#define LSTR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LSTR_TSAN 1
#endif
#endif

int lstr_fd_made(int fd) {
#ifdef LSTR_TSAN
  if (fd < 0) return fd;
  char path[40];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int seen = open(path, O_RDWR | O_CLOEXEC);
  syscall(SYS_close, fd);
  return seen;
#else
  return fd;
#endif
}

/* SharedArrayBuffer bytes in a sealed memfd: nobody (not a peer that got
 * the fd either) can shrink it under another process's mapping, which
 * would turn that process's reads into SIGBUS.  0 or -1 (b untouched). */
static int sab_map_new(lstr_block *b, size_t n) {
  if (n > LSTR_BLOCK_MAX - CTRL_SIZE) return -1;
  size_t at = ctrl_offset(n), len = at + CTRL_SIZE;
  int fd = lstr_fd_made(memfd_create("luster-sab", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) return -1;
  if (ftruncate(fd, (off_t)len) != 0 ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    close(fd);
    return -1;
  }
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) { close(fd); return -1; }
  b->data = p;
  b->length = n;
  b->fd = fd;
  b->maplen = len;
  b->ctrl = (lstr_sab_ctrl *)((uint8_t *)p + at);
  b->ctrl->magic = SAB_MAGIC;
  b->ctrl->length = n;
  return 0;
}

lstr_block *lstr_block_new(double nbytes, int shared) {
  if (!(nbytes >= 0) || nbytes > (double)LSTR_BLOCK_MAX) return NULL;
  size_t n = (size_t)nbytes;
  lstr_block *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->fd = -1;
  /* Out of descriptors (or no memfd at all): heap bytes still serve every
   * thread; only sending them to another process is refused. */
  if (!shared || sab_map_new(b, n) != 0) {
    /* Never hand out a NULL data pointer for a live block: Lua tells a
     * detached buffer by data == NULL. */
    b->data = calloc(n ? n : 1, 1);
    if (!b->data) { free(b); return NULL; }
    b->length = n;
  }
  b->shared = shared ? 1 : 0;
  b->refs = 1;
  pthread_mutex_init(&b->lock, NULL);
  return b;
}

lstr_block *lstr_block_retain(lstr_block *b) {
  __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
  return b;
}

/* Received memory is found again by its inode, so that one memory is one
 * block per process however many times it arrives (and its waiters are in
 * one list).  A memfd block's last reference is dropped under this lock, so
 * a lookup never revives a block being freed. */
static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static lstr_block *g_reg;

static void block_free(lstr_block *b) {
  /* No waiter can be left: each one holds a reference. */
  pthread_mutex_destroy(&b->lock);
  if (b->fd >= 0) {
    munmap(b->data, b->maplen);
    close(b->fd);
  } else {
    free(b->data);
  }
  free(b);
}

void lstr_block_release(lstr_block *b) {
  if (!b) return;
  if (b->fd < 0) {
    if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) block_free(b);
    return;
  }
  size_t r = __atomic_load_n(&b->refs, __ATOMIC_RELAXED);
  while (r > 1)
    if (__atomic_compare_exchange_n(&b->refs, &r, r - 1, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
  pthread_mutex_lock(&g_reg_lock);
  int last = __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0;
  if (last && b->registered) {
    if (b->rprev) b->rprev->rnext = b->rnext; else g_reg = b->rnext;
    if (b->rnext) b->rnext->rprev = b->rprev;
  }
  pthread_mutex_unlock(&g_reg_lock);
  if (last) block_free(b);
}

/* Under g_reg_lock. */
static void reg_add(lstr_block *b) {
  b->registered = 1;
  b->rprev = NULL;
  b->rnext = g_reg;
  if (g_reg) g_reg->rprev = b;
  g_reg = b;
}

static void wake_sync_waiters_locked(lstr_block *b);

int lstr_block_export(lstr_block *b) {
  if (b->fd < 0) return -1;
  if (__atomic_load_n(&b->ipc, __ATOMIC_ACQUIRE)) return 0;
  struct stat st;
  if (fstat(b->fd, &st) != 0) return -1;
  pthread_mutex_lock(&g_reg_lock);
  if (!b->registered) {
    b->dev = (uint64_t)st.st_dev;
    b->ino = (uint64_t)st.st_ino;
    reg_add(b);
  }
  pthread_mutex_unlock(&g_reg_lock);
  /* Threads already asleep on this block's condition variables would not
   * hear a notify from another process: wake them to sleep on the futex. */
  pthread_mutex_lock(&b->lock);
  __atomic_store_n(&b->ipc, 1, __ATOMIC_RELEASE);
  wake_sync_waiters_locked(b);
  pthread_mutex_unlock(&b->lock);
  return 0;
}

lstr_block *lstr_block_from_fd(int fd) {
  struct stat st;
  int seals = fcntl(fd, F_GET_SEALS);
  if (fstat(fd, &st) != 0 || seals < 0 || !(seals & F_SEAL_SHRINK) ||
      st.st_size < (off_t)CTRL_SIZE || st.st_size % CTRL_SIZE || (uint64_t)st.st_size > LSTR_BLOCK_MAX) {
    close(fd);
    return NULL;
  }
  lstr_block *b = NULL;
  pthread_mutex_lock(&g_reg_lock);
  for (lstr_block *r = g_reg; r; r = r->rnext) {
    if (r->ino == (uint64_t)st.st_ino && r->dev == (uint64_t)st.st_dev) {
      b = lstr_block_retain(r);
      break;
    }
  }
  if (b) {
    pthread_mutex_unlock(&g_reg_lock);
    close(fd);
    return b;
  }
  size_t len = (size_t)st.st_size;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  lstr_sab_ctrl *c = p == MAP_FAILED ? NULL : (lstr_sab_ctrl *)((uint8_t *)p + len - CTRL_SIZE);
  /* The peer could still write the control area: read its length once. */
  uint64_t n = c ? __atomic_load_n(&c->length, __ATOMIC_RELAXED) : 0;
  if (c && (c->magic != SAB_MAGIC || n > len - CTRL_SIZE || ctrl_offset((size_t)n) != len - CTRL_SIZE)) {
    munmap(p, len);
    c = NULL;
  }
  if (c) b = calloc(1, sizeof *b);
  if (!b) {
    if (c) munmap(p, len);
    pthread_mutex_unlock(&g_reg_lock);
    close(fd);
    return NULL;
  }
  b->data = p;
  b->length = (size_t)n;
  b->shared = 1;
  b->refs = 1;
  b->fd = fd;
  b->maplen = len;
  b->ctrl = c;
  b->ipc = 1;
  b->dev = (uint64_t)st.st_dev;
  b->ino = (uint64_t)st.st_ino;
  pthread_mutex_init(&b->lock, NULL);
  reg_add(b);
  pthread_mutex_unlock(&g_reg_lock);
  return b;
}

void lstr_block_mark_untransferable(lstr_block *b) {
  b->flags |= LSTR_BLOCK_UNTRANSFERABLE;
}

void lstr_block_move(void *dst, const void *src, size_t n) {
  memmove(dst, src, n);
}

lstr_block *lstr_block_new_header(void) {
  lstr_block *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->fd = -1;
  b->refs = 1;
  pthread_mutex_init(&b->lock, NULL);
  return b;
}

void lstr_block_steal(lstr_block *dst, lstr_block *src) {
  dst->data = src->data;
  dst->length = src->length;
  dst->shared = src->shared;
  src->data = NULL;
  src->length = 0;
  src->flags |= LSTR_BLOCK_DETACHED;
}

lstr_block *lstr_block_copy(const lstr_block *src) {
  lstr_block *b = lstr_block_new((double)src->length, src->shared);
  if (b && src->length) memcpy(b->data, src->data, src->length);
  return b;
}

/* ---------------------------------------------------------------- atomics */

#define LSTR_ATOMIC_DEFS(T, N)                                                 \
  T lstr_atomic_load_##N(T *p) { return __atomic_load_n(p, SC); }              \
  T lstr_atomic_store_##N(T *p, T v) { __atomic_store_n(p, v, SC); return v; } \
  T lstr_atomic_add_##N(T *p, T v) { return __atomic_fetch_add(p, v, SC); }    \
  T lstr_atomic_sub_##N(T *p, T v) { return __atomic_fetch_sub(p, v, SC); }    \
  T lstr_atomic_and_##N(T *p, T v) { return __atomic_fetch_and(p, v, SC); }    \
  T lstr_atomic_or_##N(T *p, T v) { return __atomic_fetch_or(p, v, SC); }      \
  T lstr_atomic_xor_##N(T *p, T v) { return __atomic_fetch_xor(p, v, SC); }    \
  T lstr_atomic_exchange_##N(T *p, T v) { return __atomic_exchange_n(p, v, SC); } \
  T lstr_atomic_cas_##N(T *p, T expected, T v) {                               \
    /* returns the old value whether or not it swapped, as JS does */          \
    __atomic_compare_exchange_n(p, &expected, v, 0, SC, SC);                   \
    return expected;                                                           \
  }
LSTR_ATOMIC_DEFS(int8_t, i8)
LSTR_ATOMIC_DEFS(uint8_t, u8)
LSTR_ATOMIC_DEFS(int16_t, i16)
LSTR_ATOMIC_DEFS(uint16_t, u16)
LSTR_ATOMIC_DEFS(int32_t, i32)
LSTR_ATOMIC_DEFS(uint32_t, u32)
LSTR_ATOMIC_DEFS(int64_t, i64)
LSTR_ATOMIC_DEFS(uint64_t, u64)

/* ------------------------------------------------------ waiter queue (locked) */

void lstr_waiter_enqueue(lstr_block *b, lstr_waiter *w) {
  w->next = NULL;
  w->prev = NULL;
  if (!b->waiters) {
    b->waiters = w;
  } else {
    lstr_waiter *t = b->waiters;
    while (t->next) t = t->next;
    t->next = w;
    w->prev = t;
  }
  w->in_block = 1;
}

void lstr_waiter_dequeue(lstr_block *b, lstr_waiter *w) {
  if (w->prev) w->prev->next = w->next; else b->waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  w->next = w->prev = NULL;
  w->in_block = 0;
}

int64_t lstr_cell_load(lstr_block *b, size_t off, int width) {
  if (width == 8) return __atomic_load_n((int64_t *)(b->data + off), SC);
  return __atomic_load_n((int32_t *)(b->data + off), SC);
}

/* ------------------------------------------- futexes in shared memory */

/* Not FUTEX_PRIVATE_FLAG: the kernel then keys a waiter by the page and
 * offset in the memfd rather than by address, so a FUTEX_WAKE from any
 * process that maps the memory finds it.  Timeouts are absolute on
 * CLOCK_MONOTONIC (FUTEX_WAIT_BITSET), like the condition variables. */
static long futex_call(uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
  return syscall(SYS_futex, addr, op, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* The word the kernel compares: the cell, or a 64-bit cell's low half. */
static uint32_t *futex_word(lstr_block *b, size_t off) {
  return (uint32_t *)(void *)(b->data + off);
}

static void wake_sync_waiters_locked(lstr_block *b) {
  for (lstr_waiter *w = b->waiters; w; w = w->next)
    if (!w->async) pthread_cond_signal(&w->cond);
}

/* How long one futex sleep may last when the kernel's compare is not the
 * whole story: a 64-bit cell whose high half changed, or a worker thread
 * whose terminate() woke the futex just before it went to sleep. */
#define FUTEX_SLICE_NS 50000000

static int is_main_thread(void) { return getpid() == (pid_t)syscall(SYS_gettid); }

/* Atomics.wait on memory other processes map.  The kernel compares the
 * word and queues the waiter atomically: that is the critical section.  A
 * waiter is counted in ctrl->waiters before its compare, so a notifier that
 * reads 0 there ran before it, and skips the system call.  `slept`: the
 * waiter was already asleep (on its condition variable) before. */
int lstr_futex_wait(lstr_block *b, lstr_waiter *w, int width, int64_t expected,
                      int forever, const struct timespec *deadline, int slept) {
  lstr_sab_ctrl *c = b->ctrl;
  uint32_t *word = futex_word(b, w->off);
  uint32_t want = (uint32_t)(uint64_t)expected;
  int sliced = width == 8 || !is_main_thread();
  __atomic_add_fetch(&c->waiters, 1, SC);
  uint32_t gen = __atomic_load_n(&c->gen, SC);
  int r;
  for (;;) {
    if (__atomic_load_n(&w->interrupted, SC)) { r = LSTR_WAIT_TIMED_OUT; break; }
    /* Changed after we slept: somebody stored, and notifies (or did). */
    if (lstr_cell_load(b, w->off, width) != expected) { r = slept ? LSTR_WAIT_OK : LSTR_WAIT_NOT_EQUAL; break; }
    const struct timespec *ts = forever ? NULL : deadline;
    struct timespec slice;
    int is_slice = 0;
    if (sliced) {
      clock_gettime(CLOCK_MONOTONIC, &slice);
      int64_t at = (int64_t)slice.tv_sec * 1000000000 + slice.tv_nsec + FUTEX_SLICE_NS;
      if (forever || at < (int64_t)deadline->tv_sec * 1000000000 + deadline->tv_nsec) {
        slice.tv_sec = (time_t)(at / 1000000000);
        slice.tv_nsec = (long)(at % 1000000000);
        ts = &slice;
        is_slice = 1;
      }
    }
    long rc = futex_call(word, FUTEX_WAIT_BITSET, want, ts);
    int err = rc == 0 ? 0 : errno, had_slept = slept;
    slept = 1;
    if (__atomic_load_n(&w->interrupted, SC)) { r = LSTR_WAIT_TIMED_OUT; break; }
    if (rc == 0) {
      uint32_t g = __atomic_load_n(&c->gen, SC);
      if (g != gen) { gen = g; continue; } /* another thread's terminate() */
      r = LSTR_WAIT_OK;
      break;
    }
    /* The word changed between our compare and the kernel's: the first
     * time, as if we had come after the store (its notify may have found
     * nobody); after a sleep, as the compare above. */
    if (err == EAGAIN) { r = had_slept ? LSTR_WAIT_OK : LSTR_WAIT_NOT_EQUAL; break; }
    if (err == EINTR || (err == ETIMEDOUT && is_slice)) continue;
    r = LSTR_WAIT_TIMED_OUT;
    break;
  }
  __atomic_sub_fetch(&c->waiters, 1, SC);
  return r;
}

/* ---------------------------------------------------------- Atomics.wait */

/* Sync waiters are also listed process-wide, with the threads marked as
 * interrupted, so that a worker's terminate() can wake its thread.  Lock
 * order: g_sync_lock, then a block's lock. */
static pthread_mutex_t g_sync_lock = PTHREAD_MUTEX_INITIALIZER;
static lstr_waiter *g_sync;
static uv_thread_t *g_interrupted;
static size_t g_ninterrupted;

static int is_interrupted(uv_thread_t t) {
  for (size_t i = 0; i < g_ninterrupted; i++)
    if (uv_thread_equal(&g_interrupted[i], &t)) return 1;
  return 0;
}

void lstr_atomics_interrupt(uv_thread_t thread) {
  pthread_mutex_lock(&g_sync_lock);
  if (!is_interrupted(thread)) {
    uv_thread_t *n = realloc(g_interrupted, (g_ninterrupted + 1) * sizeof *n);
    if (n) {
      g_interrupted = n;
      g_interrupted[g_ninterrupted++] = thread;
    }
  }
  for (lstr_waiter *w = g_sync; w; w = w->snext) {
    if (!uv_thread_equal(&w->thread, &thread)) continue;
    pthread_mutex_lock(&w->sblk->lock);
    __atomic_store_n(&w->interrupted, 1, SC);
    if (w->in_block) {
      lstr_waiter_dequeue(w->sblk, w);
      pthread_cond_signal(&w->cond);
    } else if (w->futex) {
      /* wakes every waiter of the cell, in every process: `gen` tells the
       * others it was not a notify */
      __atomic_add_fetch(&w->sblk->ctrl->gen, 1, SC);
      futex_call(futex_word(w->sblk, w->off), FUTEX_WAKE, INT_MAX, NULL);
    }
    pthread_mutex_unlock(&w->sblk->lock);
  }
  pthread_mutex_unlock(&g_sync_lock);
}

void lstr_atomics_clear_interrupt(uv_thread_t thread) {
  pthread_mutex_lock(&g_sync_lock);
  for (size_t i = 0; i < g_ninterrupted; i++) {
    if (uv_thread_equal(&g_interrupted[i], &thread)) {
      g_interrupted[i] = g_interrupted[--g_ninterrupted];
      break;
    }
  }
  pthread_mutex_unlock(&g_sync_lock);
}

/* Enter (1) or leave (0) the process-wide list; entering fails (returns 0)
 * when this thread has been interrupted. */
static int sync_list(lstr_waiter *w, int enter) {
  int ok = 1;
  pthread_mutex_lock(&g_sync_lock);
  if (enter) {
    if (is_interrupted(w->thread)) {
      ok = 0;
    } else {
      w->snext = g_sync;
      if (g_sync) g_sync->sprev = w;
      g_sync = w;
    }
  } else {
    if (w->sprev) w->sprev->snext = w->snext; else g_sync = w->snext;
    if (w->snext) w->snext->sprev = w->sprev;
  }
  pthread_mutex_unlock(&g_sync_lock);
  return ok;
}

/* The deadline `timeout_ms` from now on CLOCK_MONOTONIC, or 0 when there is
 * none: no timeout (NaN, infinite) or one beyond what the clock can
 * represent (the kernel keeps its timers as signed 64-bit nanoseconds, so
 * anything past ~292 years is "forever" there too).  Computed in integer
 * nanoseconds: a double holding 2^63 ms has no room left for tv_nsec. */
int lstr_wait_deadline(double timeout_ms, struct timespec *deadline) {
  if (!(timeout_ms >= 0) || isinf(timeout_ms)) return 0;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
  double ns = ceil(timeout_ms * 1e6);
  if (ns >= (double)(INT64_MAX - now_ns)) return 0;
  int64_t at = now_ns + (int64_t)ns;
  deadline->tv_sec = (time_t)(at / 1000000000);
  deadline->tv_nsec = (long)(at % 1000000000);
  return 1;
}

static int deadline_passed(const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > deadline->tv_sec ||
         (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

int lstr_atomic_wait(lstr_block *b, size_t off, int width, int64_t expected,
                     double timeout_ms) {
  struct timespec deadline;
  int forever = !lstr_wait_deadline(timeout_ms, &deadline);

  lstr_waiter w;
  memset(&w, 0, sizeof w);
  w.off = off;
  w.thread = uv_thread_self();
  w.sblk = b;
  if (!sync_list(&w, 1)) return LSTR_WAIT_TIMED_OUT;

  pthread_mutex_lock(&b->lock);
  int r = LSTR_WAIT_OK, slept = 0, on_futex = 0;
  if (lstr_cell_load(b, off, width) != expected) {
    r = LSTR_WAIT_NOT_EQUAL;
  } else if ((!forever && timeout_ms == 0) || w.interrupted) {
    r = LSTR_WAIT_TIMED_OUT;
  } else if (__atomic_load_n(&b->ipc, __ATOMIC_ACQUIRE)) {
    w.futex = on_futex = 1;
  } else {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cond, &ca);
    pthread_condattr_destroy(&ca);
    slept = 1;
    lstr_waiter_enqueue(b, &w);
    /* lstr_block_export sets ipc under the lock and wakes us: from then on
     * a notify may come from another process, which only the futex hears */
    while (!w.notified && !w.interrupted && !b->ipc) {
      if (forever) {
        pthread_cond_wait(&w.cond, &b->lock);
      } else {
        int rc = pthread_cond_timedwait(&w.cond, &b->lock, &deadline);
        /* anything but a wake-up ends the wait: looping on an error (a
         * deadline the clock refuses) would spin holding the lock */
        if (rc != 0 && rc != EINTR) break;
      }
    }
    if (!w.notified) {
      if (w.in_block) lstr_waiter_dequeue(b, &w);
      if (!w.interrupted && b->ipc && (forever || !deadline_passed(&deadline)))
        w.futex = on_futex = 1;
      else
        r = LSTR_WAIT_TIMED_OUT;
    }
  }
  pthread_mutex_unlock(&b->lock);
  /* slept: moved over from the condition variable (see lstr_futex_wait) */
  if (on_futex) r = lstr_futex_wait(b, &w, width, expected, forever, &deadline, slept);
  sync_list(&w, 0);
  if (slept) pthread_cond_destroy(&w.cond);
  return r;
}

int lstr_atomic_notify(lstr_block *b, size_t off, double count) {
  int all = !(count >= 0) || isinf(count);
  int woken = 0;
  pthread_mutex_lock(&b->lock);
  lstr_waiter *w = b->waiters;
  while (w && (all || woken < count)) {
    lstr_waiter *next = w->next;
    if (w->off == off) {
      lstr_waiter_dequeue(b, w);
      w->notified = 1;
      /* Signal under the lock: the waiter cannot free itself before we are
       * done touching it. */
      if (w->async) uv_async_send(&w->wake);
      else pthread_cond_signal(&w->cond);
      woken++;
    }
    w = next;
  }
  pthread_mutex_unlock(&b->lock);
  /* Sync waiters of memory shared with other processes sleep on the futex,
   * wherever they are (this process included). */
  if ((all || woken < count) && __atomic_load_n(&b->ipc, __ATOMIC_ACQUIRE) &&
      __atomic_load_n(&b->ctrl->waiters, SC) > 0) {
    double left = all ? (double)INT_MAX : count - woken;
    long n = futex_call(futex_word(b, off), FUTEX_WAKE, left >= INT_MAX ? INT_MAX : (uint32_t)left, NULL);
    if (n > 0) woken += (int)n;
  }
  return woken;
}
