/* cmdargs.h - the argument loop every command of central shares (cli.c,
 * tail.c): the config's own options (-c FILE, -s section.key=value)
 * taken on the way, and an option that takes a value given none
 * refused. Main thread.
 */
#ifndef CENTRAL_CMDARGS_H
#define CENTRAL_CMDARGS_H

#include "config.h"

/* Steps *i to the next argument that is the caller's to read (start with
 * *i at the command, argv[1]); -c and -s go into cl on the way. 1: there
 * is one; 0: none is left; -1: said why on stderr (a -c or -s without
 * its value, or one of valued, the caller's options that take a value
 * (NULL-terminated), at the end). The caller steps past a value it
 * reads (argv[++*i]). */
int cmdargs_next(cfg_cmdline *cl, int argc, char **argv, int *i, const char *const *valued);

#endif
