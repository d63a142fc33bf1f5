/*
 * embed_static.c — an embedder linked against libluster.a (not the .so):
 * runs the script given as argv[1] with the embedding API, on the runtime's
 * own loop, and exits with its exit code.  spec/c/embed_static.sh builds it
 * with `pkg-config --static luster` and drives it; the script uses http and
 * a worker thread, the modules a weakly linked archive used to lose.
 */
#include <luster.h>
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: embed_static script.lua\n"); return 2; }
  luster_runtime *rt = luster_new(NULL);
  if (!rt) return 1;
  int code = luster_run_file(rt, argv[1], argc - 2, argv + 2);
  if (code == 0) code = luster_run(rt);
  luster_free(rt);
  return code;
}
