/* buildinfo.h - which build this is, and the --help and --version that
 * every command and subcommand answers the same way.
 *
 * The Makefile compiles common/buildinfo.c with the release version (the
 * VERSION file), the git commit of the tree and the build date (UTC, from
 * SOURCE_DATE_EPOCH when set, so a package build is reproducible). The
 * daemons log them at start-up and export them as likes_build_info.
 * Pure data; any thread.
 */
#ifndef LIKES_BUILDINFO_H
#define LIKES_BUILDINFO_H

#include <stdio.h>

extern const char build_version[]; /* "0.9.0" */
extern const char build_commit[];  /* 12 hex digits, or "unknown" */
extern const char build_date[];    /* "2026-11-23" */

/* Looks through argv[first..argc) for --version (prints "PROG VERSION
 * (commit C, built D)" to stdout) or --help / -h (calls usage(stdout)),
 * skipping the value that follows -c, -s, --format and --to. Returns 0
 * when it printed one (the command then exits 0), -1 when neither was
 * asked for. */
int build_help_version(int argc, char **argv, int first, const char *prog,
                       void (*usage)(FILE *out));

#endif
