/*
 * shared_memory_wait.h — what shared_memory.c (blocks, Atomics.wait and
 * notify) shares with atomics_async.c (Atomics.waitAsync): the waiter and
 * the queue and futex primitives, all used under the block's mutex as
 * shared_memory.c's header comment describes.  Internal to those two files.
 */
#ifndef LSTR_SHARED_MEMORY_WAIT_H
#define LSTR_SHARED_MEMORY_WAIT_H

#include "shared_memory.h"
#include <pthread.h>
#include <time.h>

#define SC __ATOMIC_SEQ_CST

struct lstr_waiter {
  lstr_waiter *next, *prev; /* in block->waiters, FIFO */
  size_t off;
  int in_block;             /* still queued on the block */
  int notified;
  int interrupted;          /* sync: woken by lstr_atomics_interrupt (atomic) */
  int futex;                /* sync: asleep on the futex, not on `cond` */
  int async;
  pthread_cond_t cond;      /* sync waiters only */
  uv_thread_t thread;       /* sync: the waiting thread */
  lstr_block *sblk;         /* sync: the block waited on */
  lstr_waiter *snext, *sprev; /* sync: in the process-wide list */
  /* async waiters only */
  lstr_state *s;
  lstr_block *blk;
  uv_async_t wake;
  uv_timer_t timer;
  int has_timer;
  int open_handles;
  int done;                 /* result delivered or state forgotten */
  int resolve_ref;
  lstr_waiter *gnext, *gprev; /* in the process-wide list of async waiters */
  /* async waiters on memory shared with other processes (see helper_main) */
  int helper;               /* its thread still runs (guarded by g_async_lock) */
  int helper_result;        /* LSTR_WAIT_*, set by the thread (same lock) */
  int width;
  int64_t expected;
  int forever;
  struct timespec deadline;
};

void lstr_waiter_enqueue(lstr_block *b, lstr_waiter *w);
void lstr_waiter_dequeue(lstr_block *b, lstr_waiter *w);
int64_t lstr_cell_load(lstr_block *b, size_t off, int width);
/* Sleep on the cell's process-shared futex (memory that left the process). */
int lstr_futex_wait(lstr_block *b, lstr_waiter *w, int width, int64_t expected,
                    int forever, const struct timespec *deadline, int slept);
/* 0 (wait forever) or 1 with *deadline set from a timeout in ms. */
int lstr_wait_deadline(double timeout_ms, struct timespec *deadline);

#endif
