/* opcmd.c - what the daemons' operator commands share (opcmd.h). */
#include "opcmd.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

bool opcmd_load_config(const char *prog, const cfg_opt *table, size_t n, void *out,
                       const cfg_cmdline *cl)
{
	char err[512];
	if (cfg_cmdline_load(table, n, out, cl, err, sizeof err)) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return false;
	}
	return true;
}

int opcmd_ask(const char *prog, const char *whom, const hclient_req *r, hclient_answer *a)
{
	char err[512];
	if (hclient_do(r, a, err, sizeof err) == 0)
		return OPCMD_OK;
	if (strncmp(err, "connect", 7) == 0)
		fprintf(stderr,
		        "%s: cannot reach %s (%s); is it running? When it is stopped, use "
		        "--offline\n",
		        prog, whom, err);
	else
		fprintf(stderr, "%s: %s\n", prog, err);
	return OPCMD_UNREACHABLE;
}

store *opcmd_open_store(const char *prog, const char *data_dir, const char *data_key,
                        const char *daemon)
{
	char path[4096], err[512] = "";
	struct stat st;
	snprintf(path, sizeof path, "%s/store/CURRENT", data_dir);
	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: no store at %s/store (%s)\n", prog, data_dir, data_key);
		return NULL;
	}
	store_opts so;
	store_opts_default(&so);
	so.cache_bytes = 8u << 20;
	store *db = store_open_dir(data_dir, &so, err, sizeof err);
	if (db)
		return db;
	if (strstr(err, "lock") || strstr(err, "LOCK"))
		fprintf(stderr,
		        "%s: the store is locked: is %s running? use it without --offline "
		        "(%s/store: %s)\n",
		        prog, daemon, data_dir, err);
	else
		fprintf(stderr, "%s: cannot open the store at %s/store: %s\n", prog, data_dir, err);
	return NULL;
}
