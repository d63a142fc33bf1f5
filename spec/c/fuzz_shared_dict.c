/*
 * fuzz_shared_dict.c — libFuzzer target for the shared dictionary.
 *
 * The input is a sequence of operations (set/add/replace/get/incr/cas/
 * delete/expire+ttl/flushAll/keys) on a small arena, so that large values
 * force eviction and fragmentation.  Each result is checked against a plain
 * model of what the dictionary must hold; after an operation that evicted
 * (forcible) or ran out of memory, the model forgets exactly the keys the
 * dictionary no longer has (and every key it still has must hold the
 * model's value).  After every operation lstr_sdict_check() walks the heap,
 * the chains and the LRU lists.  One operation is a crash: a thread starts
 * a store and exits holding the stripe and heap locks (robust mutexes then
 * answer EOWNERDEAD, as when a process dies), and the next operations must
 * repair both without the half-made entry showing.
 *
 *   scripts/fuzz fuzz_shared_dict 60
 */
#include "shared_dict.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA (192 * 1024)
#define NKEYS 24
#define MAXV 40000

typedef struct {
  int present, type;
  double num;
  char *s;
  size_t sl;
} model_entry;

static model_entry model[NKEYS];
static char keybuf[NKEYS][300];
static size_t keylen[NKEYS];
static char vbuf[MAXV], out[MAXV + 16];

static const uint8_t *in;
static size_t left;

static unsigned byte(void) {
  if (!left) return 0;
  left--;
  return *in++;
}
static unsigned u16(void) { return byte() | (byte() << 8); }

static void fail(const char *what, int k) {
  fprintf(stderr, "mismatch: %s (key %d)\n", what, k);
  abort();
}

static void forget(int k) {
  free(model[k].s);
  memset(&model[k], 0, sizeof model[k]);
}

static void remember(int k, int type, double num, const char *s, size_t sl) {
  forget(k);
  if (type == LSTR_SD_NIL) return;
  model[k].present = 1;
  model[k].type = type;
  model[k].num = num;
  if (type == LSTR_SD_STRING) {
    model[k].s = malloc(sl ? sl : 1);
    if (!model[k].s) abort();
    memcpy(model[k].s, s, sl);
    model[k].sl = sl;
  }
}

/* a value from the input: type, string (in vbuf) or number */
static int value(double *num, size_t *sl) {
  unsigned t = byte() % 4;
  *num = 0;
  *sl = 0;
  if (t == LSTR_SD_NUMBER) *num = (double)(int16_t)u16() / 4;
  else if (t == LSTR_SD_BOOLEAN) *num = byte() & 1;
  else if (t == LSTR_SD_STRING) {
    unsigned len = u16();
    if (len & 0x8000) len = (len & 0x7fff) + 1000; /* sometimes large: evictions */
    if (len > MAXV) len = MAXV;
    memset(vbuf, 'a' + byte() % 26, len);
    *sl = len;
  }
  return (int)t;
}

static int same(int k, int type, double num, const char *s, size_t sl) {
  const model_entry *m = &model[k];
  if (!m->present) return type == LSTR_SD_NIL;
  if (m->type != type) return 0;
  if (type == LSTR_SD_STRING) return m->sl == sl && memcmp(m->s, s, sl) == 0;
  return m->num == num;
}

static void check_get(lstr_sdict *d, int k) {
  lstr_sdict_res r;
  int t = lstr_sdict_get(d, keybuf[k], keylen[k], &r, out, sizeof out);
  if (t < 0) fail("get failed", k);
  if (!same(k, t, r.num, out, r.len)) fail("get", k);
}

/* after an eviction: the dictionary may have dropped keys, nothing else */
static void resync(lstr_sdict *d) {
  for (int k = 0; k < NKEYS; k++) {
    if (!model[k].present) continue;
    lstr_sdict_res r;
    int t = lstr_sdict_get(d, keybuf[k], keylen[k], &r, out, sizeof out);
    if (t == LSTR_SD_NIL) forget(k);
    else if (!same(k, t, r.num, out, r.len)) fail("value changed by an eviction", k);
  }
}

typedef struct { lstr_sdict *d; int k; int rc; } crash_arg;

static void *die_holding(void *p) {
  crash_arg *a = p;
  a->rc = lstr_sdict_debug_die_holding(a->d, keybuf[a->k], keylen[a->k]);
  return NULL; /* the thread ends holding the locks */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static void *mem;
  if (!mem && !(mem = aligned_alloc(4096, ARENA))) abort();
  if (lstr_sdict_format(mem, ARENA)) abort();
  lstr_sdict d;
  lstr_sdict_bind(&d, mem, ARENA);
  for (int k = 0; k < NKEYS; k++) {
    forget(k);
    /* short keys, and a few long ones that share a prefix */
    keylen[k] = k < 20 ? (size_t)snprintf(keybuf[k], sizeof keybuf[k], "key%d", k) : 250 + (size_t)k;
    if (k >= 20) { memset(keybuf[k], 'L', keylen[k]); keybuf[k][keylen[k] - 1] = (char)k; }
  }
  in = data;
  left = size;
  while (left) {
    unsigned op = byte() % 11;
    int k = (int)(byte() % NKEYS);
    const char *key = keybuf[k];
    size_t kl = keylen[k];
    lstr_sdict_res r = {0};
    double num;
    size_t sl;
    int rc, t;
    switch (op) {
    case 0: case 1: case 2: { /* set, add, replace */
      t = value(&num, &sl);
      int was = model[k].present;
      rc = lstr_sdict_store(&d, (int)op, key, kl, t, vbuf, sl, num, 0, &r);
      if (op == LSTR_SD_ADD && was) { if (rc != LSTR_SD_EEXISTS) fail("add on present", k); break; }
      if (op == LSTR_SD_REPLACE && !was) { if (rc != LSTR_SD_ENOTFOUND) fail("replace on absent", k); break; }
      if (rc == 0) remember(k, t, num, vbuf, sl);
      else if (rc == LSTR_SD_ENOMEM) forget(k); /* the old value went first */
      else fail("store", k);
      break;
    }
    case 3:
      check_get(&d, k);
      break;
    case 4: { /* incr */
      double delta = (double)(int8_t)byte();
      int has_init = byte() & 1;
      double init = (double)(int8_t)byte();
      rc = lstr_sdict_incr(&d, key, kl, delta, has_init, init, 0, &r);
      if (model[k].present && model[k].type != LSTR_SD_NUMBER) { if (rc != LSTR_SD_ENOTNUM) fail("incr on non-number", k); }
      else if (!model[k].present && !has_init) { if (rc != LSTR_SD_ENOTFOUND) fail("incr on absent", k); }
      else if (rc == 0) {
        double want = model[k].present ? model[k].num + delta : init + delta;
        if (r.num != want) fail("incr value", k);
        remember(k, LSTR_SD_NUMBER, want, NULL, 0);
      } else if (rc != LSTR_SD_ENOMEM) fail("incr", k);
      break;
    }
    case 5: { /* cas: old is the model's value or not, new from the input */
      int use_model = byte() & 1;
      int ot = model[k].present ? model[k].type : LSTR_SD_NIL;
      double onum = model[k].num;
      const char *os = model[k].s;
      size_t osl = model[k].sl;
      char other[8] = "zzzz";
      if (!use_model) { ot = LSTR_SD_STRING; os = other; osl = 4; }
      int expect = use_model || same(k, LSTR_SD_STRING, 0, other, 4);
      t = value(&num, &sl);
      rc = lstr_sdict_cas(&d, key, kl, ot, os, osl, onum, t, vbuf, sl, num, 0, &r);
      if (rc == LSTR_SD_ENOMEM) { forget(k); break; }
      if (rc != expect) fail("cas result", k);
      if (rc == 1) remember(k, t, num, vbuf, sl);
      break;
    }
    case 6:
      lstr_sdict_delete(&d, key, kl);
      forget(k);
      break;
    case 7: { /* expire far away or never, then ttl */
      double ttl = (byte() & 1) ? 1e6 : 0;
      rc = lstr_sdict_expire(&d, key, kl, ttl);
      if (rc != (model[k].present ? 0 : LSTR_SD_ENOTFOUND)) fail("expire", k);
      rc = lstr_sdict_ttl(&d, key, kl, &r);
      if (model[k].present && (rc != 0 || (ttl ? !(r.num > 1e5) : r.num != 0))) fail("ttl", k);
      break;
    }
    case 8:
      if (byte() % 4 == 1) { /* a crash in the middle of a store */
        crash_arg a = { &d, k, 0 };
        pthread_t t;
        if (pthread_create(&t, NULL, die_holding, &a) || pthread_join(t, NULL)) abort();
        if (a.rc == 0) check_get(&d, k); /* repairs; the key is as it was */
      } else if (byte() % 8 == 0) {
        lstr_sdict_flush_all(&d);
        for (int j = 0; j < NKEYS; j++) forget(j);
        if (lstr_sdict_free_space(&d) != (double)(d.h->heap_end - d.h->heap_off)) fail("free space after flush", k);
      }
      break;
    case 9: { /* keys: as many as the model has */
      int n = lstr_sdict_keys(&d, 0, out, sizeof out, &r), want = 0;
      for (int j = 0; j < NKEYS; j++) want += model[j].present;
      if (n != want) fail("keys count", n);
      break;
    }
    default: /* a value larger than the arena: refused before it is read */
      rc = lstr_sdict_store(&d, LSTR_SD_SET, key, kl, LSTR_SD_STRING, vbuf, 2 * ARENA, 0, 0, &r);
      if (rc != LSTR_SD_ENOMEM || r.forcible) fail("oversized value", k);
      forget(k);
      break;
    }
    if (r.forcible) resync(&d);
    int c = lstr_sdict_check(&d);
    if (c) { fprintf(stderr, "check failed: %d after op %u\n", c, op); abort(); }
  }
  for (int k = 0; k < NKEYS; k++) check_get(&d, k);
  return 0;
}
