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

int lstr_instances_main(int argc, char **argv, int first_script_arg, const char *count,
                        long kill_timeout_ms, long max_memory_mb) {
  lstr_state_options o = { .is_main_thread = 1 };
  lstr_state *s = lstr_state_new(&o);
  if (!s) { fprintf(stderr, "luster: cannot create a Lua state\n"); return 1; }

  /* the chunk's arguments: count, kill timeout, max memory, script, args... */
  char kt[32], mm[32];
  snprintf(kt, sizeof kt, "%ld", kill_timeout_ms);
  snprintf(mm, sizeof mm, "%ld", max_memory_mb);
  int n = argc - first_script_arg;
  char **args = calloc((size_t)n + 5, sizeof *args);
  if (!args) { fprintf(stderr, "luster: out of memory\n"); lstr_state_free(s); return 1; }
  args[0] = argv[0];
  args[1] = (char *)count;
  args[2] = kt;
  args[3] = mm;
  for (int k = 0; k < n; k++) args[4 + k] = argv[first_script_arg + k];
  lstr_run_string(s, "return require('luster.instances').main(...)", "=luster -i", n + 4, args);
  free(args);
  int code = lstr_run_loop(s);
  fflush(stdout);
  return code;
}
