/* main.c — the luster binary: the command line lives in cli.c so that
 * embedders can offer it too (luster_main in luster.h). */
#include "luster.h"

#ifdef LSTR_JEMALLOC
/* jemalloc's defaults, read once at its start (MALLOC_CONF still
 * overrides).  No dedicated arena for allocations over 8 MiB: that arena
 * gives pages back at once, so every scrypt (16 MiB of scratch for
 * N=16384) faulted its memory in afresh, ~10% of its time.  In the usual
 * arenas they are reused, and handed back by lstr_heap_trim or after
 * jemalloc's decay like the rest.  Only the binary sets this: an
 * embedder's program may define its own. */
const char *malloc_conf = "oversize_threshold:0";
#endif

int main(int argc, char **argv) { return luster_main(argc, argv); }
