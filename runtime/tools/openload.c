/*
 * openload.c — a fixed-rate (open-loop) HTTP/1.1 load generator for
 * scripts/bench: `luster-openload PORT PATH RATE SECONDS [CONNS]`.
 *
 * wrk keeps CONNS requests in flight and sends the next one when an answer
 * comes back, so a faster server gets more load than a slower one and two
 * servers' latencies are not measured at the same load.  Here request i is
 * due at start + i / RATE, whatever the answers do; connection i % CONNS
 * sends it (one request in flight per connection, keep-alive; a request
 * due while its connection waits goes when the answer is in), and its
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
  size_t next;     /* the request it sends next: i, i + CONNS, ... */
  uint64_t due;    /* when the one in flight was due */
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
 * broke it: what was in flight is lost, the later requests go on a new
 * connection (none, when it cannot be opened again). */
static void reopen(int ep, conn *c, int i, int port) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (open_conn(ep, c, i, port) != 0) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
  }
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
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (!lat || !cs || ep < 0) { fprintf(stderr, "openload: out of memory\n"); return 1; }
  for (int i = 0; i < nconn; i++) {
    if (open_conn(ep, &cs[i], i, port) != 0) {
      fprintf(stderr, "openload: connect: %s\n", strerror(errno));
      return 1;
    }
  }

  uint64_t start = now_ns(), interval = (uint64_t)(1e9 / rate);
  uint64_t deadline = start + (uint64_t)(seconds * 1e9) + 5000000000u; /* answers get 5 s more */
  size_t sent = 0, done = 0;
  char buf[65536];
  for (int i = 0; i < nconn; i++) cs[i].next = (size_t)i;
  for (;;) {
    /* every idle connection sends its next request once it is due; the
     * loop ends when no connection has one left (or the time is up) */
    uint64_t t = now_ns(), next_due = UINT64_MAX;
    int active = 0;
    for (int i = 0; i < nconn; i++) {
      conn *c = &cs[i];
      if (c->fd < 0 || (!c->busy && c->next >= total)) continue;
      active = 1;
      if (c->busy) continue;
      uint64_t due = start + c->next * interval;
      if (due > t) {
        if (due < next_due) next_due = due;
        continue;
      }
      c->next += (size_t)nconn;
      if (write(c->fd, req, (size_t)reqlen) != reqlen) { reopen(ep, c, i, port); continue; }
      c->due = due;
      c->busy = 1;
      sent++;
    }
    if (!active || t >= deadline) break;
    /* Requests due less than a millisecond apart make this poll without
     * waiting: the generator spends its own core, as wrk does. */
    uint64_t t2 = now_ns();
    int timeout_ms = next_due == UINT64_MAX ? 10 : next_due > t2 ? (int)((next_due - t2) / 1000000) : 0;
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      conn *c = &cs[i];
      if (c->fd < 0) continue;
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        reopen(ep, c, i, port);
        continue;
      }
      const char *p = buf, *end = buf + r;
      while (p < end) {
        llhttp_errno_t e = llhttp_execute(&c->parser, p, (size_t)(end - p));
        if (e == HPE_PAUSED) {
          p = llhttp_get_error_pos(&c->parser);
          llhttp_resume(&c->parser);
        } else if (e != HPE_OK) { /* not HTTP: give this connection up */
          reopen(ep, c, i, port);
          break;
        } else {
          p = end;
        }
        if (c->done) {
          c->done = 0;
          if (c->busy) lat[done++] = now_ns() - c->due;
          c->busy = 0;
          /* Connection: close: the next request goes on a new connection
           * (written here, it would race the server's close and be lost) */
          if (!c->keep_alive) {
            reopen(ep, c, i, port);
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
