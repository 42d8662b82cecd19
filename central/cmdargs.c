/* cmdargs.c - the argument loop central's commands share (cmdargs.h). */
#include "central/cmdargs.h"

#include <stdio.h>
#include <string.h>

int cmdargs_next(cfg_cmdline *cl, int argc, char **argv, int *i, const char *const *valued)
{
	char err[512];
	while (++*i < argc) {
		int took = cfg_cmdline_take(cl, argc, argv, i, err, sizeof err);
		if (took < 0) {
			fprintf(stderr, "central: %s\n", err);
			return -1;
		}
		if (took)
			continue;
		for (const char *const *v = valued; *v; v++)
			if (strcmp(argv[*i], *v) == 0 && *i + 1 >= argc) {
				fprintf(stderr, "central: %s needs a value\n", argv[*i]);
				return -1;
			}
		return 1;
	}
	return 0;
}
