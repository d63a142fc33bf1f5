/*
 * instances.c — `luster -i N|max script.lua`: cluster mode in the binary
 * (what PM2's cluster mode does for Node).
 *
 * The command line (cli.c) parses the options and calls here.  The primary
 * is ordinary luster: a state runs lua/luster/instances.lua, which keeps N
 * workers of the unmodified script alive with the cluster module (restarts
 * with backoff, SIGHUP rolling reload, SIGTERM/SIGINT drain, --max-memory).
 * Keeping the policy in Lua keeps it readable; nothing here is hot.
 */
#include "lstr.h"
#include <stdio.h>
#include <stdlib.h>

/* The chunk's arguments: nops, ops (name=value)..., count, kill timeout,
 * max memory, script, args...; the ops configure instances_ops first. */
static const char *const main_chunk =
  "local a = {...}\n"
  "local nops = tonumber(a[1])\n"
  "require('luster.instances_ops').configure({unpack(a, 2, nops + 1)})\n"
  "return require('luster.instances').main(unpack(a, nops + 2, select('#', ...)))\n";

int lstr_instances_main(int argc, char **argv, int first_script_arg, const char *count,
                        long kill_timeout_ms, long max_memory_mb, int nops, char **ops) {
  lstr_state_options o = { .is_main_thread = 1 };
  lstr_state *s = lstr_state_new(&o);
  if (!s) { fprintf(stderr, "luster: cannot create a Lua state\n"); return 1; }

  /* the chunk's arguments: count, kill timeout, max memory, script, args... */
  char kt[32], mm[32], no[16];
  snprintf(no, sizeof no, "%d", nops);
  snprintf(kt, sizeof kt, "%ld", kill_timeout_ms);
  snprintf(mm, sizeof mm, "%ld", max_memory_mb);
  int n = argc - first_script_arg;
  char **args = calloc((size_t)n + (size_t)nops + 6, sizeof *args);
  if (!args) { fprintf(stderr, "luster: out of memory\n"); lstr_state_free(s); return 1; }
  int k = 0;
  args[k++] = argv[0];
  args[k++] = no;
  for (int j = 0; j < nops; j++) args[k++] = ops[j];
  args[k++] = (char *)count;
  args[k++] = kt;
  args[k++] = mm;
  for (int j = 0; j < n; j++) args[k++] = argv[first_script_arg + j];
  lstr_run_string(s, main_chunk, "=luster -i", k, args);
  free(args);
  int code = lstr_run_loop(s);
  fflush(stdout);
  return code;
}
