/*
 * cli.c — the `luster` command line.
 *
 *   luster script.lua [args]     luster -e CODE [args]     luster -v | -h
 *   luster -i N|max [--kill-timeout MS] [--max-memory MB] [--name NAME] [--log DIR]
 *             [--log-max-size MB] [--log-keep N] [--log-date] [--watch]
 *             [--primary hooks.lua] script.lua
 *   luster ls|status|reload|restart|stop|logs|start ...  (instances_cli.lua)
 *   luster test [busted options] [paths]     (also --test; lua/luster/test.lua)
 *   luster --prof[=FILE] [--prof-format=text|folded] script.lua  (profiler.lua)
 *
 * Exit codes follow Node: 1 for a script that failed (missing, syntax error,
 * uncaught error), 9 for a bad option.  Scripts read from standard input
 * when none is named and stdin is not a terminal.
 */
#include "lstr.h"
#include "luster.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cluster mode (instances.c) */
int lstr_instances_main(int argc, char **argv, int first_script_arg, const char *count,
                        long kill_timeout_ms, long max_memory_mb, int nops, char **ops);

/* `luster ls|status|reload|restart|stop|logs|start ...` talk to running
 * `luster -i --name` primaries (lua/luster/instances_cli.lua). */
static const char *const control_commands[] = {
  "ls", "status", "reload", "restart", "stop", "logs", "start", NULL,
};

/* -i options handled in Lua (lua/luster/instances_ops.lua): name and
 * whether it takes a value; each is passed on as "name=value". */
static const struct { const char *name; int has_value; } ops_options[] = {
  {"--name", 1}, {"--log", 1}, {"--log-max-size", 1}, {"--log-keep", 1},
  {"--log-date", 0}, {"--watch", 0}, {"--primary", 1}, {NULL, 0},
};
#define MAX_OPS 16

static void usage(FILE *f) {
  fprintf(f,
    "Usage: luster [options] [script.lua | -e code] [arguments]\n"
    "       luster test [busted options] [paths]   (default path: spec/)\n"
    "       luster start luster.config.lua         start every app of a config file\n"
    "       luster ls|status [NAME] [--json]       apps started with -i --name\n"
    "       luster reload|restart|stop NAME        luster logs NAME [--lines N] [--follow]\n"
    "\n"
    "Options:\n"
    "  -e, --eval CODE         run CODE as the entry chunk\n"
    "  -i, --instances N|max   cluster mode: keep N copies of the script running,\n"
    "                          sharing its ports (restarts, SIGHUP reload, drain)\n"
    "      --kill-timeout MS   with -i: SIGKILL a worker that has not exited MS\n"
    "                          after being asked to (default 5000)\n"
    "      --max-memory MB     with -i: restart a worker whose RSS passes MB\n"
    "      --name NAME         with -i: a control socket for luster ls/status/\n"
    "                          reload/restart/stop/logs NAME\n"
    "      --log DIR           with -i: DIR/NAME-ID.out.log and .err.log per instance\n"
    "      --log-max-size MB   rotate a log file at MB (keep --log-keep N, default 5)\n"
    "      --log-date          prefix each log line with an ISO timestamp\n"
    "      --watch             rolling reload when a Lua file of the app changes\n"
    "      --primary HOOKS     with -i: HOOKS.lua receives process.send messages\n"
    "      --prof[=FILE]       sample the script with LuaJIT's profiler and write\n"
    "                          a report of the hottest functions and lines to FILE\n"
    "                          (default luster.prof; other processes and threads:\n"
    "                          FILE.<pid>.<threadId>)\n"
    "      --prof-format=F     text (default) or folded (stacks for flame graphs)\n"
    "      --prof-interval=MS  sampling interval (default 1)\n"
    "      --prof-thread=ID    the thread sampled in each process (default 0, the\n"
    "                          main thread; LuaJIT samples one state per process)\n"
    "  -v, --version           print the version\n"
    "  -h, --help              print this help\n"
    "\n"
    "Documentation: README.md and docs/API.md in the source tree.\n");
}

/* The whole of standard input as a string, or NULL when out of memory. */
static char *read_stdin(void) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  size_t r;
  while ((r = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
    n += r;
    if (cap - n <= 1) {
      char *bigger = realloc(buf, cap * 2);
      if (!bigger) { free(buf); return NULL; }
      buf = bigger;
      cap *= 2;
    }
  }
  buf[n] = 0;
  return buf;
}

/* {exe, argv[first..argc-1]}: what process.argv is made from (the entry
 * fills in the script's path); NULL when out of memory. */
static char **entry_args(int argc, char **argv, int first) {
  char **args = calloc((size_t)(argc - first) + 2, sizeof *args);
  if (!args) return NULL;
  args[0] = argv[0];
  for (int k = first; k < argc; k++) args[k - first + 1] = argv[k];
  return args;
}

static int out_of_memory(void) {
  fprintf(stderr, "luster: out of memory\n");
  return 1;
}

static int bad_option(const char *msg, const char *arg) {
  fprintf(stderr, "luster: %s: %s\n", msg, arg);
  return 9;
}

/* --prof options.  They travel in the environment, so that every state
 * that boots -- worker threads, and cluster workers, which are processes
 * -- finds them (lua/luster/profiler.lua reads them).  Returns 1 when `a`
 * was a --prof option, 0 when it is not one, -1 (and says why) when its
 * value is bad. */
static int prof_option(const char *a) {
  const char *v;
  if (!strcmp(a, "--prof")) v = "luster.prof";
  else if (!strncmp(a, "--prof=", 7)) v = a + 7;
  else v = NULL;
  if (v) {
    char pid[32];
    if (!*v) { fprintf(stderr, "luster: --prof= needs a file name\n"); return -1; }
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("LUSTER_PROF", v, 1);
    setenv("LUSTER_PROF_PID", pid, 1);
    return 1;
  }
  if (!strncmp(a, "--prof-format=", 14)) {
    v = a + 14;
    if (strcmp(v, "text") && strcmp(v, "folded")) {
      fprintf(stderr, "luster: --prof-format takes 'text' or 'folded': %s\n", v);
      return -1;
    }
    setenv("LUSTER_PROF_FORMAT", v, 1);
    return 1;
  }
  if (!strncmp(a, "--prof-interval=", 16) || !strncmp(a, "--prof-thread=", 14)) {
    int interval = a[7] == 'i';
    v = a + (interval ? 16 : 14);
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < (interval ? 1 : 0)) {
      fprintf(stderr, "luster: %.*s takes a %s number: %s\n", (int)(v - a - 1), a,
              interval ? "positive" : "non-negative", v);
      return -1;
    }
    setenv(interval ? "LUSTER_PROF_INTERVAL" : "LUSTER_PROF_THREAD", v, 1);
    return 1;
  }
  return 0;
}

/* The main thread's state is never closed (see the end of luster_main):
 * write its profile now.  Worker threads write theirs as their state
 * closes. */
static void prof_finish(lstr_state *s) {
  if (!getenv("LUSTER_PROF")) return;
  lua_State *L = s->L;
  if (luaL_dostring(L, "local p = package.loaded['luster.profiler'] if p then p.stop() end") != 0)
    lua_pop(L, 1);
}

LUSTER_API int luster_main(int argc, char **argv) {
  const char *eval = NULL, *instances = NULL, *eval_name = "=(command line)";
  long kill_timeout = 5000, max_memory = 0;
  char *ops[MAX_OPS];
  int nops = 0;
  int i = 1;
  signal(SIGPIPE, SIG_IGN); /* a closed socket is an EPIPE error, not death */

  /* `luster test` runs the builtin busted runner; a script named `test` is
   * still `luster ./test` or `luster -- test`. */
  if (argc > 1 && (!strcmp(argv[1], "test") || !strcmp(argv[1], "--test"))) {
    eval = "require('luster.test').run()";
    eval_name = "=luster test";
    i = 2;
  }
  for (int c = 0; argc > 1 && control_commands[c] && !eval; c++) {
    if (!strcmp(argv[1], control_commands[c])) {
      eval = "require('luster.instances_cli').run()";
      eval_name = "=luster control";
      i = 1; /* process.argv = {exe, command, args...} */
    }
  }

  for (; i < argc && !eval; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) break;
    if (strcmp(a, "--") == 0) { i++; break; }
    if (!strcmp(a, "-v") || !strcmp(a, "--version")) { printf("v%s\n", luster_version()); return 0; }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
    if (!strcmp(a, "-e") || !strcmp(a, "--eval")) {
      if (i + 1 >= argc) return bad_option("-e requires an argument", a);
      eval = argv[++i];
      i++;
      break;
    }
    if (!strcmp(a, "-i") || !strcmp(a, "--instances")) {
      if (i + 1 >= argc) return bad_option("-i requires an argument", a);
      instances = argv[++i];
      if (strcmp(instances, "max") != 0 && atoi(instances) <= 0)
        return bad_option("-i takes a positive number or 'max'", instances);
      continue;
    }
    if (!strcmp(a, "--kill-timeout") || !strcmp(a, "--max-memory")) {
      if (i + 1 >= argc) return bad_option("option requires an argument", a);
      long v = atol(argv[++i]);
      if (v <= 0) return bad_option("option takes a positive number", a);
      if (a[2] == 'k') kill_timeout = v; else max_memory = v;
      continue;
    }
    int prof = prof_option(a);
    if (prof < 0) return 9;
    if (prof > 0) continue;
    int op = 0;
    while (ops_options[op].name && strcmp(a, ops_options[op].name)) op++;
    if (ops_options[op].name) {
      if (ops_options[op].has_value && i + 1 >= argc) return bad_option("option requires an argument", a);
      if (nops >= MAX_OPS) return bad_option("too many options", a);
      const char *v = ops_options[op].has_value ? argv[++i] : "true";
      size_t len = strlen(a + 2) + strlen(v) + 2;
      if (!(ops[nops] = malloc(len))) return out_of_memory();
      snprintf(ops[nops++], len, "%s=%s", a + 2, v);
      continue;
    }
    return bad_option("bad option", a);
  }

  if (nops && !instances) { fprintf(stderr, "luster: --%.*s needs -i\n", (int)strcspn(ops[0], "="), ops[0]); return 9; }
  if (instances) {
    if (eval || i >= argc) { fprintf(stderr, "luster: -i needs a script\n"); return 9; }
    return lstr_instances_main(argc, argv, i, instances, kill_timeout, max_memory, nops, ops);
  }

  lstr_state_options o = { .is_main_thread = 1 };
  lstr_state *s = lstr_state_new(&o);
  if (!s) { fprintf(stderr, "luster: cannot create a Lua state\n"); return 1; }

  int rc;
  if (eval) {
    /* process.argv = {exe, args...} as in `node -e` */
    char **args = entry_args(argc, argv, i);
    if (!args) return out_of_memory();
    rc = lstr_run_string(s, eval, eval_name, argc - i + 1, args);
    free(args);
  } else if (i < argc && strcmp(argv[i], "-") != 0) {
    /* process.argv = {exe, script, args...} */
    char **args = entry_args(argc, argv, i);
    if (!args) return out_of_memory();
    rc = lstr_run_file(s, argv[i], argc - i + 1, args);
    free(args);
  } else if (i >= argc && isatty(0)) {
    usage(stderr);
    return 9;
  } else {
    /* `luster - args...` or a pipe: the script comes from stdin */
    char *code = read_stdin();
    int first = i < argc ? i + 1 : argc; /* skip the "-" */
    char **args = code ? entry_args(argc, argv, first) : NULL;
    if (!args) { free(code); return out_of_memory(); }
    rc = lstr_run_string(s, code, "=[stdin]", argc - first + 1, args);
    free(args);
    free(code);
  }
  (void)rc;
  int code = lstr_run_loop(s);
  prof_finish(s);
  fflush(stdout);
  /* The binary does not tear the state down: the OS does it faster, and
   * worker threads still running end with the process, as in Node. */
  return code;
}
