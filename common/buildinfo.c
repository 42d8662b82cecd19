/* buildinfo.c - the build's identity (buildinfo.h). LIKES_VERSION,
 * LIKES_COMMIT and LIKES_DATE come from the Makefile; a build without
 * them (an IDE, a stray cc) still links and says so. */
#include "buildinfo.h"

#include <string.h>

#ifndef LIKES_VERSION
#define LIKES_VERSION "0.0.0-dev"
#endif
#ifndef LIKES_COMMIT
#define LIKES_COMMIT "unknown"
#endif
#ifndef LIKES_DATE
#define LIKES_DATE "unknown"
#endif

const char build_version[] = LIKES_VERSION;
const char build_commit[] = LIKES_COMMIT;
const char build_date[] = LIKES_DATE;

/* Options whose next argument is their value, never a flag. */
static int takes_value(const char *a)
{
	return strcmp(a, "-c") == 0 || strcmp(a, "-s") == 0 || strcmp(a, "--format") == 0 ||
	       strcmp(a, "--to") == 0;
}

int build_help_version(int argc, char **argv, int first, const char *prog, void (*usage)(FILE *out))
{
	for (int i = first; i < argc; i++) {
		if (takes_value(argv[i])) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s (commit %s, built %s)\n", prog, build_version, build_commit,
			       build_date);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	}
	return -1;
}
