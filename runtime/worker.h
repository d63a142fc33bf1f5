/*
 * worker.h — private to worker.c / worker_interrupt.c: one worker thread.
 *
 * An lstr_worker is shared by the parent state (through the Worker's port
 * handle) and the worker thread; it is reference counted (one each) and the
 * fields marked "lock" are read and written under `lock`.  The worker's
 * lstr_state and loop belong to the worker thread alone: created and freed
 * there (the thread itself may go on to run other workers: worker_thread.c).
 */
#ifndef LSTR_WORKER_H
#define LSTR_WORKER_H

#include "message_port.h"
#include <signal.h>
#include <stdatomic.h>

struct lstr_worker {
  uv_mutex_t lock;
  int refs;                    /* lock: parent handle + thread */
  uv_thread_t tid;
  int thread_id;
  lstr_channel *ch;            /* end 0: parent, end 1: parentPort; one ref */
  lstr_msg *boot;              /* {kind, source, workerData, env...}; taken by the thread */
  size_t mem_limit;

  /* worker thread */
  lstr_state *s;               /* set before lua_live */
  uv_async_t ctl;              /* on the worker's loop: wakes it to stop */
  int ctl_open;                /* lock: ctl may be signalled */
  int error_posted;

  /* stopping (see worker_interrupt.c) */
  atomic_int terminating;      /* terminate() was called */
  atomic_int lua_live;         /* the state may run Lua (signal handler reads) */
  atomic_int parked;           /* the thread was stopped inside JIT code */
  int done;                    /* lock: the thread has posted EXIT */
  _Atomic(struct code_ranges *) code; /* executable ranges of loaded objects,
                                          published once, read by the handler */

  /* parent side */
  int joined;                  /* joined or detached */
  uv_timer_t *kick;            /* re-sends the interrupt until the thread stops */
};

void worker_release(lstr_worker *w);

/* The thread's C stack (resourceLimits.stackSizeMb): at least what the
 * runtime's own C frames need, at most what is sane to reserve. */
#define WORKER_STACK_MIN ((size_t)512 << 10)
#define WORKER_STACK_MAX ((size_t)1 << 30)
#define WORKER_STACK_DEFAULT ((size_t)4 << 20)

/* worker.c, on the worker's thread: run w in its freshly booted state s
 * (NULL: none could be created) until its loop ends; returns the exit code.
 * Then lstr_worker_report_exit tells the parent; the state is freed after. */
int lstr_worker_run(lstr_worker *w, lstr_state *s);
void lstr_worker_report_exit(lstr_worker *w, int code);

/* worker_thread.c: run w (w->tid set) on a spare thread or a new one with
 * this stack size; 0 or a libuv error. */
int lstr_worker_thread_start(lstr_worker *w, size_t stack);

/* worker_interrupt.c: the executable segments of every loaded object */
typedef struct code_ranges { int n; uintptr_t r[][2]; } code_ranges;

/* worker_interrupt.c */
void lstr_interrupt_init(void);
void lstr_interrupt_enter(lstr_worker *w);  /* on the worker thread */
void lstr_interrupt_leave(void);
/* From the parent, under w->lock: make the thread stop running Lua. */
void lstr_interrupt_send(lstr_worker *w);

#endif
