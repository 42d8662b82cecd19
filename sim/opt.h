/* opt.h - the option tables of sim's commands, and the one parser that
 * reads them (opt.c). A command lists its options as an array of
 * opt_spec, built with the OPT_* macros below, each naming the field its
 * value lands in; opt_parse walks argv with getopt_long over that array.
 *
 * A usage error prints "sim: WHAT: ARG" and the usage text on stderr and
 * makes the command exit 2; --help prints the usage text on stdout and
 * exits 0. The usage text is main.c's: it hands it over once with
 * opt_set_usage before any command runs, so this layer calls nothing
 * above it. Main thread.
 */
#ifndef SIM_OPT_H
#define SIM_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* What an option does with its value. */
typedef enum {
	OPTK_NUM,  /* a whole number in [lo, hi], times scale, into a 4- or 8-byte field */
	OPTK_STR,  /* the value itself, into a const char * field */
	OPTK_FLAG, /* no value; sets a bool field */
	OPTK_CALL, /* the value handed to call(dst, value) */
	OPTK_LOG,  /* --log-level LEVEL */
	OPTK_HELP  /* --help: usage on stdout, exit 0 */
} opt_kind;

/* One option of a command: its long name, kind and where it goes. The
 * table borrows dst (the caller's storage) for the parse only. */
typedef struct opt_spec {
	const char *name;
	opt_kind kind;
	void *dst;
	size_t size;     /* OPTK_NUM: the field's size */
	uint64_t lo, hi; /* OPTK_NUM: bounds */
	uint64_t scale;  /* OPTK_NUM: 0 = 1 */
	const char *bad; /* OPTK_NUM: the usage message for a bad value */
	/* OPTK_CALL: 0, or the exit status of a usage error it reported */
	int (*call)(void *dst, const char *arg);
} opt_spec;

#define OPT_NUM(n, l, h, field, sc)                                                                \
	{                                                                                          \
		.name = (n), .kind = OPTK_NUM, .dst = &(field), .size = sizeof(field), .lo = (l),  \
		.hi = (h), .scale = (sc), .bad = "bad --" n                                        \
	}
#define OPT_STR(n, field)                                                                          \
	{                                                                                          \
		.name = (n), .kind = OPTK_STR, .dst = &(field)                                     \
	}
#define OPT_FLAG(n, field)                                                                         \
	{                                                                                          \
		.name = (n), .kind = OPTK_FLAG, .dst = &(field)                                    \
	}
#define OPT_CALL(n, fn, ctx)                                                                       \
	{                                                                                          \
		.name = (n), .kind = OPTK_CALL, .dst = (ctx), .call = (fn)                         \
	}
#define OPT_LOG                                                                                    \
	{                                                                                          \
		.name = "log-level", .kind = OPTK_LOG                                              \
	}
#define OPT_HELP                                                                                   \
	{                                                                                          \
		.name = "help", .kind = OPTK_HELP                                                  \
	}
#define OPT_TABLE_MAX 32 /* options in one table, at most */
/* Table t's options; a table past OPT_TABLE_MAX does not compile (it
 * would abort in opt_parse at every run of its command). */
#define OPT_COUNT(t)                                                                               \
	(sizeof(t) / sizeof((t)[0]) +                                                              \
	 0 * sizeof(struct {                                                                       \
		 _Static_assert(sizeof(t) / sizeof((t)[0]) <= OPT_TABLE_MAX,                       \
		                "an option table past OPT_TABLE_MAX");                             \
		 int unused;                                                                       \
	 }))

/* The usage text, printed by every usage error and by --help; main.c's,
 * set once before any command runs. */
void opt_set_usage(void (*usage)(FILE *f));

/* Reports a usage error: "sim: WHAT[: ARG]" (nothing when what is NULL)
 * and the usage text on stderr. Returns 2, the exit status it calls for. */
int opt_usage_error(const char *what, const char *arg);

/* Parses a command's options (argv[0] is the command) with the table
 * opts[0..n), n at most OPT_TABLE_MAX. -1 when every option was good and
 * the command goes on (with args, optind indexes its other arguments;
 * without, any is an error); otherwise the command's exit status: 0
 * after --help, 2 after a usage error (reported). */
int opt_parse(int argc, char **argv, const opt_spec *opts, size_t n, bool args) WARN_UNUSED;

/* A whole decimal number in [lo, hi] into *out: 0, or ERR_INVAL (err.h)
 * with *out untouched. */
int opt_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) WARN_UNUSED;

#endif
