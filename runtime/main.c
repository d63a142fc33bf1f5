/* main.c — the luster binary: the command line lives in cli.c so that
 * embedders can offer it too (luster_main in luster.h). */
#include "luster.h"

int main(int argc, char **argv) { return luster_main(argc, argv); }
