/* opt.c - the parser of sim's option tables (opt.h): getopt_long over a
 * table of opt_spec, each value checked against its kind and stored
 * where the table points. Owns only the usage text's function, handed
 * over once by main.c. Main thread.
 */
#include "sim/opt.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "log.h"

_Static_assert(sizeof(int) == sizeof(uint32_t), "int options are stored as 32 bits");

static void (*usage_text)(FILE *f);

void opt_set_usage(void (*usage)(FILE *f))
{
	usage_text = usage;
}

int opt_usage_error(const char *what, const char *arg)
{
	if (what)
		fprintf(stderr, "sim: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	if (usage_text)
		usage_text(stderr);
	return 2;
}

int opt_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return ERR_INVAL;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return ERR_INVAL;
	*out = n;
	return 0;
}

/* Stores o's value v (checked against its kind); 0, or the exit status
 * of a usage error. */
static int store(const opt_spec *o, const char *v)
{
	switch (o->kind) {
	case OPTK_NUM: {
		uint64_t n;
		if (opt_parse_u64(v, o->lo, o->hi, &n))
			return opt_usage_error(o->bad, v);
		if (o->scale)
			n *= o->scale;
		if (o->size == sizeof(uint64_t))
			*(uint64_t *)o->dst = n;
		else
			*(uint32_t *)o->dst = (uint32_t)n; /* bounds keep it in range */
		return 0;
	}
	case OPTK_STR: *(const char **)o->dst = v; return 0;
	case OPTK_FLAG: *(bool *)o->dst = true; return 0;
	case OPTK_CALL: return o->call(o->dst, v);
	case OPTK_LOG: return log_set_level(v) < 0 ? opt_usage_error("bad --log-level", v) : 0;
	case OPTK_HELP: break;
	}
	return 0;
}

int opt_parse(int argc, char **argv, const opt_spec *opts, size_t n, bool args)
{
	struct option longopts[OPT_TABLE_MAX + 1];
	if (n > OPT_TABLE_MAX)
		abort(); /* a command's table past what opt.h allows for */
	for (size_t i = 0; i < n; i++) {
		bool takes = opts[i].kind != OPTK_FLAG && opts[i].kind != OPTK_HELP;
		longopts[i] = (struct option){opts[i].name, takes ? required_argument : no_argument,
		                              NULL, 256 + (int)i};
	}
	longopts[n] = (struct option){NULL, 0, NULL, 0};
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (c == ':')
			return opt_usage_error("option needs a value", argv[optind - 1]);
		if (c < 256 || c >= 256 + (int)n)
			return opt_usage_error("unknown option", argv[optind - 1]);
		const opt_spec *o = &opts[c - 256];
		if (o->kind == OPTK_HELP) {
			if (usage_text)
				usage_text(stdout);
			return 0;
		}
		int rc = store(o, optarg);
		if (rc)
			return rc;
	}
	if (!args && optind < argc)
		return opt_usage_error("unexpected argument", argv[optind]);
	return -1;
}
