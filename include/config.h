/* config.h - table-driven INI configuration.
 *
 * Each daemon describes its options in one table of cfg_opt: section,
 * name, type, where the value lives in the daemon's config struct, its
 * default and bounds. cfg_load() fills the struct with the defaults, then
 * reads the file; an unknown key or a bad value stops the load with
 * "file:line: reason". A section marked CFG_PASSTHROUGH collects every key
 * unchanged (the [kafka] section: librdkafka properties).
 *
 * Strings are malloc'ed and owned by the struct; cfg_free() releases them.
 * Not thread-safe: call at start-up.
 */
#ifndef LIKES_CONFIG_H
#define LIKES_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	struct cfg_kv *next;
} cfg_kv;

typedef struct cfg_opt {
	const char *section;
	const char *name; /* NULL for CFG_PASSTHROUGH */
	cfg_type type;
	size_t offset;    /* offsetof(the daemon's struct, field) */
	const char *def;  /* default, as it would be written in the file */
	int64_t min, max; /* bounds for CFG_INT */
	bool secret;      /* masked when the effective config is logged */
	const char *help;
} cfg_opt;

/* Sets every option to its default. */
void cfg_defaults(const cfg_opt *table, size_t n, void *out);
/* Defaults, then the file. 0, or ERR_CONFIG with "file:line: reason" in
 * err. */
int cfg_load(const cfg_opt *table, size_t n, void *out, const char *path,
	     char *err, size_t errlen) WARN_UNUSED;
/* Applies one "section.name=value" override (command line). */
int cfg_set(const cfg_opt *table, size_t n, void *out, const char *assignment,
	    char *err, size_t errlen) WARN_UNUSED;
/* Logs every option's effective value at info level, secrets masked. */
void cfg_log(const cfg_opt *table, size_t n, const void *cfg);
void cfg_free(const cfg_opt *table, size_t n, void *out);

/* Parses "host:port"; host may be empty (any address) or [v6]. */
int cfg_parse_hostport(const char *s, char *host, size_t hostcap, int *port) WARN_UNUSED;

#endif
