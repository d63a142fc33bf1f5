/*
 * openload.c — a fixed-rate (open-loop) HTTP/1.1 load generator for
 * scripts/bench: `luster-openload PORT PATH RATE SECONDS [CONNS]`.
 *
 * wrk keeps CONNS requests in flight and sends the next one when an answer
 * comes back, so a faster server gets more load than a slower one and two
 * servers' latencies are not measured at the same load.  Here request i is
 * due at start + i / RATE, whatever the answers do; connection i % CONNS
 * sends it (one request in flight per connection, keep-alive), and its
 * latency counts from when it was due, not from when it could be sent
 * (a late server is charged for the wait, as wrk2 does).  Responses are
 * delimited by llhttp.  Prints one line:
 *   sent N done N missing N p50 MS p99 MS p999 MS max MS
 * (missing: due but not answered, a connection lost or the time up).
 * 127.0.0.1 only.
 */
#include <llhttp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
  int fd;
  llhttp_t parser;
  llhttp_settings_t settings;
  int busy;        /* a request is in flight */
  int done;        /* the parser saw the end of its response */
  int keep_alive;  /* ... and whether the connection stays open after it */
} conn;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int on_complete(llhttp_t *p) {
  conn *c = p->data;
  c->done = 1;
  c->keep_alive = llhttp_should_keep_alive(p);
  return HPE_PAUSED; /* stop at the end of this response */
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
  return fd;
}

/* Each connection keeps a queue of due times: requests become due at a
 * fixed rate, but a connection sends one at a time. */
typedef struct dueq { uint64_t *v; size_t head, n, cap; } dueq;

static int dueq_push(dueq *q, uint64_t t) {
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 16;
    uint64_t *v = malloc(cap * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < q->n; i++) v[i] = q->v[(q->head + i) % q->cap];
    free(q->v);
    q->v = v;
    q->head = 0;
    q->cap = cap;
  }
  q->v[(q->head + q->n++) % q->cap] = t;
  return 0;
}

static uint64_t dueq_pop(dueq *q) {
  uint64_t t = q->v[q->head];
  q->head = (q->head + 1) % q->cap;
  q->n--;
  return t;
}

/* (Re)open connection i and watch it; -1 when it cannot be opened. */
static int open_conn(int ep, conn *c, int i, int port) {
  c->fd = connect_to(port);
  if (c->fd < 0) return -1;
  llhttp_settings_init(&c->settings);
  c->settings.on_message_complete = on_complete;
  llhttp_init(&c->parser, HTTP_RESPONSE, &c->settings);
  c->parser.data = c;
  c->busy = c->done = 0;
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
  return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* The server closed connection i (nginx does after keepalive_requests) or
 * broke it: what was in flight is lost (returns 1 then), the queued
 * requests go on a new connection.  A connection that cannot be opened
 * again loses its queue too. */
static size_t reopen(int ep, conn *c, dueq *q, int i, int port) {
  size_t lost = (size_t)c->busy;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (open_conn(ep, c, i, port) != 0) {
    lost += q->n;
    q->n = 0;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
  }
  return lost;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s PORT PATH RATE SECONDS [CONNS]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  const char *path = argv[2];
  double rate = atof(argv[3]), seconds = atof(argv[4]);
  int nconn = argc > 5 ? atoi(argv[5]) : 64;
  if (port <= 0 || rate <= 0 || seconds <= 0 || nconn <= 0) {
    fprintf(stderr, "openload: bad arguments\n");
    return 2;
  }
  char req[512];
  int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
  size_t total = (size_t)(rate * seconds);
  uint64_t *lat = malloc(total * sizeof *lat);
  conn *cs = calloc((size_t)nconn, sizeof *cs);
  dueq *qs = calloc((size_t)nconn, sizeof *qs);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (!lat || !cs || !qs || ep < 0) { fprintf(stderr, "openload: out of memory\n"); return 1; }
  for (int i = 0; i < nconn; i++) {
    if (open_conn(ep, &cs[i], i, port) != 0) {
      fprintf(stderr, "openload: connect: %s\n", strerror(errno));
      return 1;
    }
  }

  uint64_t start = now_ns(), interval = (uint64_t)(1e9 / rate);
  uint64_t deadline = start + (uint64_t)(seconds * 1e9) + 5000000000u; /* answers get 5 s more */
  size_t scheduled = 0, sent = 0, done = 0, errors = 0;
  uint64_t *sent_due = calloc((size_t)nconn, sizeof *sent_due);
  if (!sent_due) { fprintf(stderr, "openload: out of memory\n"); return 1; }
  char buf[65536];
  while (done + errors < total && now_ns() < deadline) { /* errors: given up on */
    uint64_t t = now_ns();
    /* every request due by now joins its connection's queue */
    while (scheduled < total && start + scheduled * interval <= t) {
      size_t i = scheduled % (size_t)nconn;
      if (cs[i].fd < 0) errors++; /* its connection is lost */
      else if (dueq_push(&qs[i], start + scheduled * interval) != 0) return 1;
      scheduled++;
    }
    for (int i = 0; i < nconn; i++) {
      conn *c = &cs[i];
      if (c->busy || qs[i].n == 0 || c->fd < 0) continue;
      if (write(c->fd, req, (size_t)reqlen) != reqlen) { errors += reopen(ep, c, &qs[i], i, port); continue; }
      sent_due[i] = dueq_pop(&qs[i]);
      c->busy = 1;
      sent++;
    }
    /* Requests due less than a millisecond apart make this poll without
     * waiting: the generator spends its own core, as wrk does. */
    int timeout_ms = 0;
    if (scheduled < total) {
      uint64_t next = start + scheduled * interval, t2 = now_ns();
      timeout_ms = next > t2 ? (int)((next - t2) / 1000000) : 0;
    } else {
      timeout_ms = 10;
    }
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      conn *c = &cs[i];
      if (c->fd < 0) continue;
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        errors += reopen(ep, c, &qs[i], i, port);
        continue;
      }
      const char *p = buf, *end = buf + r;
      while (p < end) {
        llhttp_errno_t e = llhttp_execute(&c->parser, p, (size_t)(end - p));
        if (e == HPE_PAUSED) {
          p = llhttp_get_error_pos(&c->parser);
          llhttp_resume(&c->parser);
        } else if (e != HPE_OK) { /* not HTTP: give this connection up */
          errors += reopen(ep, c, &qs[i], i, port);
          break;
        } else {
          p = end;
        }
        if (c->done) {
          c->done = 0;
          if (c->busy && done < total) lat[done++] = now_ns() - sent_due[i];
          c->busy = 0;
          /* Connection: close: the next request goes on a new connection
           * (written here, it would race the server's close and be lost) */
          if (!c->keep_alive) {
            errors += reopen(ep, c, &qs[i], i, port);
            break;
          }
        }
      }
    }
  }
  qsort(lat, done, sizeof *lat, cmp_u64);
#define PCT(q) (done ? lat[(size_t)((double)(done - 1) * (q))] / 1e6 : 0.0)
  printf("sent %zu done %zu missing %zu p50 %.3f p99 %.3f p999 %.3f max %.3f\n", sent, done, total - done,
         PCT(0.5), PCT(0.99), PCT(0.999), PCT(1.0));
  return 0;
}
