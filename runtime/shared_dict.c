/*
 * shared_dict.c — where a dictionary's arena lives and how every process of
 * one scope finds it.
 *
 * Scope: the process whose lifetime a dictionary shares — the cluster
 * primary (of `cluster.fork` or of `luster -i`) for its workers, which are
 * its direct children, else the process itself.  The arena is a POSIX shared
 * memory object named /luster-dict-<scope pid>-<scope start time>-<dict name>:
 * the start time (from /proc) keeps a reused pid from meeting an old run's
 * objects, so two unrelated runs never share a dictionary.
 *
 * The first process to ask creates the object (O_EXCL), sizes it, lays it
 * out and publishes the magic word last; others attach and wait for the
 * magic.  A scope process unlinks the names it used when it exits (atexit);
 * the memory itself lives while anything maps it.  Objects whose scope
 * process is gone (a primary killed, or an -i primary that never opened the
 * dictionary itself) are unlinked by the next process that opens any
 * dictionary.
 *
 * Each process maps an arena once, whatever number of Lua states (threads)
 * use it: a registry of mappings by name, reference counted, behind a mutex.
 */
#include "shared_dict.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define LSTR_EXPORT __attribute__((visibility("default")))
#define PREFIX "luster-dict-"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static lstr_sdict *registry;
static int scope_pid;                 /* atomic; 0 = not decided yet */
static pthread_once_t sweep_once = PTHREAD_ONCE_INIT;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

/* ---- scope ---- */

/* The process's original environment (unsetenv does not change it): a
 * cluster worker is started with LUSTER_PRIMARY_PID = its primary. */
static int primary_from_environ(void) {
  int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  static const char key[] = "LUSTER_PRIMARY_PID=";
  char buf[8192];
  int pid = 0;
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0) break;
    have += (size_t)n;
    buf[have] = 0;
    size_t start = 0;
    for (size_t i = 0; i < have; i++) {
      if (buf[i]) continue;
      if (strncmp(buf + start, key, sizeof key - 1) == 0) pid = atoi(buf + start + sizeof key - 1);
      start = i + 1;
    }
    memmove(buf, buf + start, have - start);
    have -= start;
    if (have == sizeof buf - 1) have = 0; /* one huge variable: skip it */
  }
  close(fd);
  return pid;
}

LSTR_EXPORT int lstr_sdict_scope(int is_main, int is_cluster_worker) {
  int v = __atomic_load_n(&scope_pid, __ATOMIC_ACQUIRE);
  if (is_main) v = is_cluster_worker ? (int)getppid() : (int)getpid();
  else if (!v) {
    /* a worker thread asking before its main thread did */
    int p = primary_from_environ();
    v = p && p == (int)getppid() ? p : (int)getpid();
  }
  __atomic_store_n(&scope_pid, v, __ATOMIC_RELEASE);
  return v;
}

/* Field 22 of /proc/<pid>/stat (clock ticks after boot); 0 if gone. */
static unsigned long long start_time_of(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p++;
  for (int field = 3; field < 22 && p; field++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* ---- stale objects ---- */
static void sweep_stale(void) {
  DIR *dir = opendir("/dev/shm");
  if (!dir) return;
  struct dirent *de;
  while ((de = readdir(dir))) {
    int pid;
    unsigned long long start;
    if (sscanf(de->d_name, PREFIX "%d-%llu-", &pid, &start) != 2) continue;
    if (start_time_of(pid) == start) continue;
    char name[300];
    snprintf(name, sizeof name, "/%s", de->d_name);
    shm_unlink(name);
  }
  closedir(dir);
}

static void unlink_own(void) {
  pthread_mutex_lock(&registry_lock);
  for (lstr_sdict *d = registry; d; d = d->next)
    if (d->own_scope) shm_unlink(d->shm_name);
  pthread_mutex_unlock(&registry_lock);
}
static void register_atexit(void) { atexit(unlink_own); }

/* ---- layout ---- */
void lstr_sdict_bind(lstr_sdict *d, void *mem, size_t size) {
  d->base = mem;
  d->size = size;
  d->h = mem;
  d->stripes = (sd_stripe *)((char *)mem + ((sizeof(sd_header) + 63) & ~(size_t)63));
  d->buckets = (uint64_t *)((char *)mem + d->h->buckets_off);
}

int lstr_sdict_format(void *mem, size_t size) {
  sd_header *h = mem;
  memset(h, 0, sizeof *h);
  size_t stripes_off = (sizeof(sd_header) + 63) & ~(size_t)63;
  size_t buckets_off = stripes_off + LSTR_SD_STRIPES * sizeof(sd_stripe);
  uint64_t nb = 256;
  while (nb * 512 < size && nb < (1ULL << 30)) nb <<= 1;
  size_t heap_off = (buckets_off + nb * 8 + SD_HEAP_RESERVED + 15) & ~(size_t)15;
  if (heap_off + 4096 > size) return -1;
  h->size = size;
  h->nbuckets = nb;
  h->buckets_off = buckets_off;
  h->heap_off = heap_off;
  h->heap_end = size & ~(size_t)15;
  if (sd_mutex_init(&h->heap_lock)) return -1;
  lstr_sdict d;
  lstr_sdict_bind(&d, mem, size);
  for (int s = 0; s < LSTR_SD_STRIPES; s++) {
    memset(&d.stripes[s], 0, sizeof d.stripes[s]);
    if (sd_mutex_init(&d.stripes[s].lock)) return -1;
    d.stripes[s].oldest = UINT64_MAX;
  }
  memset(d.buckets, 0, nb * 8);
  sd_heap_init(&d);
  __atomic_store_n(&h->magic, LSTR_SD_MAGIC, __ATOMIC_RELEASE);
  return 0;
}

/* ---- create or attach ---- */
static void sleep_ms(int ms) {
  struct timespec t = { 0, ms * 1000000L };
  nanosleep(&t, NULL);
}

/* Map the named object, creating it when absent; 0 or an errno. */
static int map_arena(const char *shm, size_t size, void **mem, size_t *mapped) {
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      /* reserve every page now: a full /dev/shm is then an error here
       * rather than a SIGBUS on some later write */
      void *m = MAP_FAILED;
      struct statvfs vfs;
      int err = fstatvfs(fd, &vfs) == 0 && (double)vfs.f_bavail * (double)vfs.f_frsize < (double)size
                    ? ENOSPC /* before reserving pages we would have to give back */
                    : posix_fallocate(fd, 0, (off_t)size);
      if (err == 0) {
        m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) err = errno;
      }
      close(fd);
      if (m == MAP_FAILED || lstr_sdict_format(m, size)) {
        if (m != MAP_FAILED) munmap(m, size);
        shm_unlink(shm);
        return m == MAP_FAILED ? err : EINVAL;
      }
      *mem = m;
      *mapped = size;
      return 0;
    }
    if (errno != EEXIST) return errno;
    fd = shm_open(shm, O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == ENOENT) continue; /* its creator just gave up */
      return errno;
    }
    /* the creator may not have sized or formatted it yet */
    struct stat st;
    int waited = 0;
    while (fstat(fd, &st) == 0 && st.st_size == 0 && waited < 2000) { sleep_ms(1); waited++; }
    void *m = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    close(fd);
    if (m != MAP_FAILED) {
      sd_header *h = m;
      while (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != LSTR_SD_MAGIC && waited < 2000) { sleep_ms(1); waited++; }
      if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == LSTR_SD_MAGIC && h->size == (uint64_t)st.st_size) {
        *mem = m;
        *mapped = (size_t)st.st_size;
        return 0;
      }
      munmap(m, (size_t)st.st_size);
    }
    shm_unlink(shm); /* its creator died before finishing: start over */
  }
  return EAGAIN;
}

static void shm_name_of(char *out, size_t cap, int scope, const char *name) {
  int n = snprintf(out, cap, "/" PREFIX "%d-%llu-", scope, start_time_of(scope));
  for (const unsigned char *p = (const unsigned char *)name; *p && (size_t)n + 4 < cap; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.')
      out[n++] = (char)*p;
    else
      n += snprintf(out + n, cap - (size_t)n, "-%02x", *p);
  }
  out[n] = 0;
}

LSTR_EXPORT lstr_sdict *lstr_sdict_open(const char *name, double size, int scope, char *err, size_t errlen) {
  if (strlen(name) > 180) { snprintf(err, errlen, "the name is longer than 180 bytes"); return NULL; }
  if (!(size >= 65536) || size > 1e12) { snprintf(err, errlen, "size must be between 64k and 1t"); return NULL; }
  pthread_once(&sweep_once, sweep_stale);
  char shm[256];
  shm_name_of(shm, sizeof shm, scope, name);
  pthread_mutex_lock(&registry_lock);
  lstr_sdict *d = registry;
  while (d && strcmp(d->shm_name, shm) != 0) d = d->next;
  if (d && d->refs > 0) {
    d->refs++;
    pthread_mutex_unlock(&registry_lock);
    return d;
  }
  void *mem = NULL;
  size_t mapped = 0;
  int rc = map_arena(shm, ((size_t)size + 4095) & ~(size_t)4095, &mem, &mapped);
  if (rc) {
    pthread_mutex_unlock(&registry_lock);
    snprintf(err, errlen, "cannot map %s: %s", shm, strerror(rc));
    return NULL;
  }
  if (!d) {
    d = calloc(1, sizeof *d);
    char *copy = strdup(shm);
    if (!d || !copy) {
      free(d);
      free(copy);
      munmap(mem, mapped);
      pthread_mutex_unlock(&registry_lock);
      snprintf(err, errlen, "out of memory");
      return NULL;
    }
    d->shm_name = copy;
    d->own_scope = scope == (int)getpid();
    d->next = registry;
    registry = d;
  }
  lstr_sdict_bind(d, mem, mapped);
  d->refs = 1;
  pthread_mutex_unlock(&registry_lock);
  if (d->own_scope) pthread_once(&atexit_once, register_atexit);
  return d;
}

/* Drop one reference; the last unmaps (the entry stays, its name is still
 * unlinked at exit). */
LSTR_EXPORT void lstr_sdict_close(lstr_sdict *d) {
  pthread_mutex_lock(&registry_lock);
  if (--d->refs == 0) {
    munmap(d->base, d->size);
    d->base = NULL;
  }
  pthread_mutex_unlock(&registry_lock);
}
