/* config.h - table-driven INI configuration.
 *
 * Each daemon describes its options in one table of cfg_opt: section,
 * name, type, where the value lives in the daemon's config struct, its
 * default and bounds. cfg_load() fills the struct with the defaults, then
 * reads the file; an unknown key or a bad value stops the load with
 * "file:line: reason". A section marked CFG_PASSTHROUGH collects every key
 * unchanged (the [kafka], [kafka.producer] and [kafka.consumer] sections:
 * librdkafka properties). A section name may hold dots.
 *
 * Values: CFG_INT is a decimal integer with an optional k, m or g suffix
 * (powers of 1024: "64k" is 65536); CFG_BOOL is true/false, yes/no,
 * on/off or 1/0 in any case. Each key may appear once in a file; a second
 * one is an error, not an override. Lines hold at most 199 bytes (inih's
 * buffer); ';' or '#' starts a comment line, " ;" a trailing comment.
 *
 * Strings are malloc'ed and owned by the struct; cfg_free() releases them.
 * A CFG_STR option is never NULL after cfg_defaults()/cfg_load(): an empty
 * value is "". Not thread-safe: call at start-up.
 */
#ifndef LIKES_CONFIG_H
#define LIKES_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

typedef enum cfg_type {
	CFG_STR,         /* char *                                */
	CFG_INT,         /* int64_t, within [min, max]            */
	CFG_BOOL,        /* bool: true/false, yes/no, on/off, 1/0 */
	CFG_PASSTHROUGH, /* cfg_kv list: every key of the section */
} cfg_type;

typedef struct cfg_kv {
	char *key;
	char *value;
	char *where; /* "file:line" it was read from, or "-s" for an override */
	struct cfg_kv *next;
} cfg_kv;

typedef struct cfg_opt {
	const char *section;
	const char *name; /* NULL for CFG_PASSTHROUGH */
	cfg_type type;
	size_t offset;    /* offsetof(the daemon's struct, field) */
	const char *def;  /* default, as it would be written in the file;
	                   * NULL means "", 0 or false; unused for
	                   * CFG_PASSTHROUGH (starts empty) */
	int64_t min, max; /* bounds for CFG_INT */
	bool secret;      /* masked when the effective config is logged */
	const char *help;
} cfg_opt;

/* Sets every option to its default. out must hold no allocations (zeroed,
 * or after cfg_free()): nothing in it is freed. A default that does not
 * parse or is out of bounds is a bug in the table: logged, then abort(). */
void cfg_defaults(const cfg_opt *table, size_t n, void *out);
/* Defaults, then the file. 0, or ERR_CONFIG with "file:line: reason" in
 * err (an unknown section or key, a bad or repeated value, a syntax
 * error; "file: reason" when it cannot be opened). On error out has
 * already been released with cfg_free(). */
int cfg_load(const cfg_opt *table, size_t n, void *out, const char *path, char *err,
             size_t errlen) WARN_UNUSED;
/* Applies one "section.name=value" override (command line) on top of a
 * loaded config. The section is the longest one of the table the key
 * starts with, followed by a dot, and the first '=' ends the name, so
 * "kafka.bootstrap.servers=a:1" is key "bootstrap.servers" of [kafka] and
 * "kafka.producer.linger.ms=5" key "linger.ms" of [kafka.producer]: it
 * replaces that passthrough key or appends it. Whitespace
 * around name and value is dropped. 0, or ERR_CONFIG with a reason in err
 * and out unchanged. */
int cfg_set(const cfg_opt *table, size_t n, void *out, const char *assignment, char *err,
            size_t errlen) WARN_UNUSED;
/* The daemons' command line: "-c FILE [-s section.key=value]... [-t]".
 * Loads the defaults, the file, then the overrides in order. 0;
 * CFG_ARGS_USAGE when -h asked for usage; CFG_ARGS_CHECK when -t asked
 * only to check the config (it loaded: the caller says so and exits 0,
 * after cfg_free); ERR_CONFIG with the reason in err (usage errors
 * included). */
#define CFG_ARGS_USAGE 1
#define CFG_ARGS_CHECK 2
int cfg_load_args(const cfg_opt *table, size_t n, void *out, int argc, char **argv, char *err,
                  size_t errlen) WARN_UNUSED;
/* For commands with flags of their own (central verify, edge inspect):
 * collects -c FILE and -s section.key=value while the caller walks argv,
 * then loads them as cfg_load_args does. */
#define CFG_CMDLINE_SETS 64
typedef struct cfg_cmdline {
	const char *file;
	const char *sets[CFG_CMDLINE_SETS];
	int nsets;
} cfg_cmdline;
/* argv[*i] is -c or -s: takes it and its value (advancing *i) and returns
 * 1; 0 when it is neither; ERR_CONFIG with the reason in err when the
 * value is missing or there are too many -s. */
int cfg_cmdline_take(cfg_cmdline *cl, int argc, char **argv, int *i, char *err, size_t errlen);
/* Defaults, cl->file, then cl->sets in order. 0, or ERR_CONFIG with the
 * reason in err ("-c FILE is needed" without a file); on error out is
 * released. */
int cfg_cmdline_load(const cfg_opt *table, size_t n, void *out, const cfg_cmdline *cl, char *err,
                     size_t errlen) WARN_UNUSED;

/* Every option as a Markdown table (key, default, allowed values,
 * meaning), in table order: what docs/config.md holds. */
void cfg_write_markdown(const cfg_opt *table, size_t n, FILE *out);

/* Logs every option's effective value at info level, one line each
 * (msg="config" key=section.name value=...), secret options as "***".
 * Passthrough keys containing "password" or "secret" are masked too. */
void cfg_log(const cfg_opt *table, size_t n, const void *cfg);
/* Frees strings and passthrough lists and sets them to NULL, so a second
 * call is harmless. */
void cfg_free(const cfg_opt *table, size_t n, void *out);

/* Parses "host:port"; host may be empty (any address), a name or IPv4
 * address, or [v6] (written back without the brackets). port is 0..65535,
 * 0 meaning an ephemeral port. 0, ERR_INVAL for malformed input, or
 * ERR_TOOBIG when the host does not fit hostcap; outputs are untouched on
 * error. */
int cfg_parse_hostport(const char *s, char *host, size_t hostcap, int *port) WARN_UNUSED;

#endif
