/* faketime.c - a daemon's clock under libfaketime (faketime.h). */
#include "sim/drill/faketime.h"

#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmem.h"

extern char **environ;

#define LIB_GLOB "/usr/lib/*/faketime/libfaketimeMT.so.1"

int faketime_lib(char *out, size_t cap, char *err, size_t errlen)
{
	const char *own = getenv("SIM_FAKETIME_LIB");
	if (own && *own) {
		if (access(own, R_OK) == 0 && strlen(own) < cap) {
			snprintf(out, cap, "%s", own);
			return 0;
		}
		snprintf(err, errlen, "SIM_FAKETIME_LIB=%s: %s", own,
		         strlen(own) < cap ? strerror(errno) : "path too long");
		return ERR_NOTFOUND;
	}
	glob_t g;
	int rc = glob(LIB_GLOB, 0, NULL, &g);
	if (rc == 0 && g.gl_pathc > 0 && strlen(g.gl_pathv[0]) < cap) {
		snprintf(out, cap, "%s", g.gl_pathv[0]);
		globfree(&g);
		return 0;
	}
	if (rc == 0)
		globfree(&g);
	snprintf(err, errlen,
	         "a clock step needs libfaketime: no %s (apt-get install libfaketime, or "
	         "make deps; SIM_FAKETIME_LIB names another)",
	         LIB_GLOB);
	return ERR_NOTFOUND;
}

void faketime_text(int64_t offset_ms, char *out, size_t cap)
{
	uint64_t abs = offset_ms < 0 ? (uint64_t)-offset_ms : (uint64_t)offset_ms;
	char sign = offset_ms < 0 ? '-' : '+';
	/* No unit letter: seconds are libfaketime's default, and an 'm'
	 * anywhere in the text would make them minutes. */
	if (abs % 1000)
		snprintf(out, cap, "%c%" PRIu64 ".%03" PRIu64, sign, abs / 1000, abs % 1000);
	else
		snprintf(out, cap, "%c%" PRIu64, sign, abs / 1000);
}

int faketime_write(const char *file, int64_t offset_ms, char *err, size_t errlen)
{
	char tmp[600], text[32];
	snprintf(tmp, sizeof tmp, "%s.new", file);
	faketime_text(offset_ms, text, sizeof text);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) || rename(tmp, file)) {
		snprintf(err, errlen, "cannot write %s: %s", file, strerror(errno));
		return ERR_IO;
	}
	return 0;
}

/* The variables faketime sets; a parent's own value of one is dropped. */
static const char *const names[] = {
    "LD_PRELOAD",        "FAKETIME_TIMESTAMP_FILE", "FAKETIME_DONT_FAKE_MONOTONIC",
    "FAKETIME_NO_CACHE", "FAKETIME_CACHE_DURATION", "NO_FAKE_STAT",
    "FAKETIME",          "FAKETIME_SHARED",         "FAKETIME_FORCE_MONOTONIC_FIX",
};
#define NNAMES (sizeof names / sizeof names[0])

static bool ours(const char *var)
{
	for (size_t i = 0; i < NNAMES; i++) {
		size_t n = strlen(names[i]);
		if (strncmp(var, names[i], n) == 0 && var[n] == '=')
			return true;
	}
	return false;
}

static char *var(const char *name, const char *value)
{
	size_t n = strlen(name) + 1 + strlen(value) + 1;
	char *s = xmalloc(n);
	snprintf(s, n, "%s=%s", name, value);
	return s;
}

char **faketime_env(const char *lib, const char *shim, const char *file)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = xcalloc(n + 7, sizeof *env), **e = env;
	for (size_t i = 0; i < n; i++)
		if (!ours(environ[i]))
			*e++ = xstrdup(environ[i]);
	size_t n_pre = strlen(shim) + 1 + strlen(lib) + 1;
	char *pre = xmalloc(n_pre);
	snprintf(pre, n_pre, "%s %s", shim, lib); /* the shim first: its call finds libfaketime */
	*e++ = var("LD_PRELOAD", pre);
	free(pre);
	*e++ = var("FAKETIME_TIMESTAMP_FILE", file);
	*e++ = xstrdup("FAKETIME_DONT_FAKE_MONOTONIC=1");
	*e++ = xstrdup("FAKETIME_CACHE_DURATION=0");
	*e++ = xstrdup("NO_FAKE_STAT=1");
	*e++ = xstrdup("FAKETIME_FORCE_MONOTONIC_FIX=0");
	*e = NULL;
	return env;
}

void faketime_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* Appends the decimal digits of v to p (async-signal-safe). */
static char *put_num(char *p, unsigned long v)
{
	char d[24];
	size_t n = 0;
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof d);
	while (n)
		*p++ = d[--n];
	return p;
}

static void unlink_named(const char *prefix, pid_t pid)
{
	char path[64];
	size_t n = strlen(prefix);
	memcpy(path, prefix, n);
	*put_num(path + n, (unsigned long)pid) = '\0';
	unlink(path);
}

void faketime_litter(pid_t pid)
{
	if (pid <= 0)
		return;
	/* sem_open("/faketime_sem_P") and shm_open("/faketime_shm_P") on
	 * glibc. */
	unlink_named("/dev/shm/sem.faketime_sem_", pid);
	unlink_named("/dev/shm/faketime_shm_", pid);
}
