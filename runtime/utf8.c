/*
 * utf8.c — UTF-8 validation for the Lua side, called through LuaJIT's FFI
 * (lua/luster/ws_frame.lua: text frames, close reasons, and send()'s
 * choice of a text or a binary frame).  In Lua the check needs two cdata
 * pointers over the string, which a trace cannot always sink: two
 * allocations per message on the WebSocket echo path.  An FFI call with a
 * string argument allocates nothing.
 */
#include "lstr.h"
#include <stdint.h>
#include <string.h>

/* 1 if s[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), else 0. */
LSTR_EXPORT int lstr_utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) { /* ASCII runs, eight bytes at a time */
      uint64_t w;
      memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ull) == 0) { i += 8; continue; }
    }
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    if (c < 0xC2) return 0;
    if (c < 0xE0) {
      if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) return 0;
      i += 2;
    } else if (c < 0xF0) {
      if (i + 2 >= n) return 0;
      unsigned c1 = s[i + 1], c2 = s[i + 2];
      if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80) return 0;
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return 0;
      i += 3;
    } else if (c < 0xF5) {
      if (i + 3 >= n) return 0;
      unsigned c1 = s[i + 1], c2 = s[i + 2], c3 = s[i + 3];
      if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80 || (c3 & 0xC0) != 0x80) return 0;
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) return 0;
      i += 4;
    } else {
      return 0;
    }
  }
  return 1;
}
