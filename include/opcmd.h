/* opcmd.h - what the daemons' operator commands share (`central verify`,
 * `stats`, `get`, `export`, `backup`, `prune`; `edge inspect`): their
 * exit codes, loading the daemon's config from the command line, asking
 * the running daemon over HTTP, and opening the store of a stopped one
 * (--offline). Each says what went wrong on stderr, prefixed with the
 * program's name, in the same words for both daemons. Main thread only.
 */
#ifndef LIKES_OPCMD_H
#define LIKES_OPCMD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "hclient.h"
#include "store.h"

#define OPCMD_OK 0
#define OPCMD_USAGE 2       /* a usage or config error */
#define OPCMD_UNREACHABLE 3 /* the daemon or its store cannot be reached */

/* Loads the config cl names (with its -s overrides) into out through
 * table; false after saying why on stderr. */
bool opcmd_load_config(const char *prog, const cfg_opt *table, size_t n, void *out,
                       const cfg_cmdline *cl);

/* hclient_do(r, a): 0 with the answer in a (whatever its status; the
 * caller frees a->body), or OPCMD_UNREACHABLE after saying why on
 * stderr; whom names what was asked ("the edge"), for the message that
 * it may not be running. */
int opcmd_ask(const char *prog, const char *whom, const hclient_req *r, hclient_answer *a);

/* Opens the store in data_dir (the setting data_key) of a stopped daemon
 * (named daemon in messages) for reading, with a small block cache.
 * NULL after saying why on stderr: there is no store, it is locked (the
 * daemon runs: ask it without --offline), or it cannot be opened. */
store *opcmd_open_store(const char *prog, const char *data_dir, const char *data_key,
                        const char *daemon);

#endif
