/*
 * clone_wire.h — private to clone.c / clone_decode.c / clone_lua.c: the
 * message struct and the byte format.
 *
 * Format: 'L' <version> <value>.  A value is a one-byte tag and its payload;
 * counts and lengths are LEB128 varints.  Objects (tables, buffers, views,
 * ports) are numbered 0, 1, 2... in the order they are first met, so a later
 * T_REF <id> restores shared references and cycles.  A view's id is taken
 * before its buffer's.
 *
 *   T_NIL T_FALSE T_TRUE T_NULL            no payload
 *   T_INT  zigzag varint (integer-valued doubles below 2^53, not -0)
 *   T_NUM  8 raw bytes of a double
 *   T_STR  len, bytes
 *   T_TABLE narr, narr values (T_NIL for holes), key/value pairs..., T_END
 *   T_TABLEH narr, hint (1 raw byte: how many pairs follow, 255 = 255 or
 *          more), then as T_TABLE.  What the encoders write: the decoder
 *          sizes the table's hash part once instead of growing it per key.
 *          Only a hint: the pairs up to T_END are what counts.
 *   T_REF  object id
 *   T_I64 T_U64  8 raw bytes
 *   T_AB   len, bytes                ArrayBuffer, copied
 *   T_ABMOVED block index            ArrayBuffer, moved (thread messages)
 *   T_SAB  block index               SharedArrayBuffer (thread messages)
 *   T_VIEW kind(1 byte, 1..10), byteOffset, length, buffer value
 *          (T_AB | T_ABMOVED | T_SAB | T_REF to a buffer)
 *   T_PORT port index                object claimed by a transfer hook
 *
 * The bytes live in the sender's address space only as long as the message:
 * block indexes point into lstr_msg.blocks, never at raw addresses.
 */
#ifndef LSTR_CLONE_WIRE_H
#define LSTR_CLONE_WIRE_H

#include "clone.h"
#include "shared_memory.h"

#define LSTR_TCDATA 10 /* lua_type() of an FFI cdata in LuaJIT */
#define CLONE_MAGIC 'L'
#define CLONE_VERSION 1
/* registry key of {classify=, make=} set by luster.buffers */
#define CLONE_HOOKS_KEY "luster.clone.cdata"

enum {
  T_NIL, T_FALSE, T_TRUE, T_NULL, T_INT, T_NUM, T_STR, T_TABLE, T_END,
  T_REF, T_I64, T_U64, T_AB, T_ABMOVED, T_SAB, T_VIEW, T_PORT, T_TABLEH, T_LAST
};

/* element sizes of view kinds 1..10, in luster.buffers' order */
static const unsigned char clone_kind_size[11] = {0, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8};

typedef struct clone_port {
  const lstr_transfer_hook *hook;
  void *payload;
  int delivered;
} clone_port;

struct lstr_msg {
  unsigned char *buf;    /* `inline_buf`, or malloc'ed (the full encoder) */
  size_t len, cap;
  lstr_block **blocks;   /* one reference each */
  unsigned char *handed; /* moved ArrayBuffer already given to a decoder */
  size_t nblocks, capblocks;
  clone_port *ports;
  size_t nports;
  lstr_msg *next;        /* link in a lstr_msg_cache */
  unsigned char inline_buf[];
};

/* the registered transfer hooks (clone.c) */
extern const lstr_transfer_hook *clone_hooks[];
extern int clone_nhooks;

/* clone.c: a message whose bytes (at least cap of them) live in the same
 * block, taken from c (may be NULL) when it has one */
lstr_msg *clone_msg_new(size_t cap, lstr_msg_cache *c);
/* clone.c: push luster.buffers' {classify=, make=} (registry
 * CLONE_HOOKS_KEY), loading the module through the state's load_buffers
 * hook the first time.  Returns 1 with the table pushed, or 0 with nothing
 * pushed (no typed arrays in this state). */
int clone_push_cdata_hooks(lua_State *L);
/* clone_fast.c: encode plain values without a Lua call; NULL when the value
 * needs the full encoder (which then raises or succeeds). */
lstr_msg *clone_encode_fast(lua_State *L, int value_idx, lstr_msg_cache *c);
/* clone.c: the full encoder alone (lstr_msg_encode tries the fast path
 * first); same contract as lstr_msg_encode */
lstr_msg *clone_encode_full(lua_State *L, int value_idx, int transfer_idx, int mode);
/* clone_decode.c: the fast decoder pushes the value and returns 1, or
 * returns 0 with nothing pushed when the message needs the full decoder
 * (which has lstr_msg_decode's contract).  The two must agree: specs and
 * the fuzzer compare them, and the fast encoder against the full one. */
int clone_decode_fast(lua_State *L, const lstr_msg *m);
int clone_decode_full(lua_State *L, lstr_msg *m);

/* LEB128: 7 bits a byte, low first, high bit = more.  Writes at most 10
 * bytes to out; returns how many. */
static inline size_t wire_varint(unsigned char out[10], uint64_t v) {
  size_t n = 0;
  do {
    out[n] = (unsigned char)(v & 0x7f);
    v >>= 7;
    if (v) out[n] |= 0x80;
    n++;
  } while (v);
  return n;
}

#endif
