/* prom_util.c - a checker and readers of the Prometheus text format, for
 * tests that scrape /metrics (prom_util.h). */
#include "tests/support/prom_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_MAX_FAMILIES 256

/* Does name end with suffix? Then *stem gets name without it. */
static bool strip_suffix(const char *name, const char *suffix, char *stem, size_t cap)
{
	size_t n = strlen(name), s = strlen(suffix);
	if (n <= s || n - s >= cap || strcmp(name + n - s, suffix) != 0)
		return false;
	memcpy(stem, name, n - s);
	stem[n - s] = 0;
	return true;
}

bool prom_util_check(const char *text, char *why, size_t cap)
{
	static char families[PROM_MAX_FAMILIES][128];
	size_t nfam = 0;
	char help[128] = "", cur[128] = "", curkind[16] = "";
	int lineno = 0;
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		if (!nl) {
			snprintf(why, cap, "the last line has no newline");
			return false;
		}
		char line[1024];
		size_t n = (size_t)(nl - l) < sizeof line - 1 ? (size_t)(nl - l) : sizeof line - 1;
		memcpy(line, l, n);
		line[n] = 0;
		l = nl + 1;
		lineno++;
		char name[128], kind[16];
		if (strncmp(line, "# HELP ", 7) == 0) {
			if (sscanf(line + 7, "%127s", help) != 1 || !strchr(line + 7, ' ')) {
				snprintf(why, cap, "line %d: HELP without text", lineno);
				return false;
			}
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			if (sscanf(line + 7, "%127s %15s", name, kind) != 2 ||
			    strcmp(name, help) != 0) {
				snprintf(why, cap, "line %d: TYPE not right after its HELP: %.80s",
				         lineno, line);
				return false;
			}
			if (strcmp(kind, "counter") && strcmp(kind, "gauge") &&
			    strcmp(kind, "histogram")) {
				snprintf(why, cap, "line %d: unknown type %s", lineno, kind);
				return false;
			}
			for (size_t i = 0; i < nfam; i++)
				if (strcmp(families[i], name) == 0) {
					snprintf(why, cap, "line %d: family %s twice", lineno,
					         name);
					return false;
				}
			if (nfam < PROM_MAX_FAMILIES)
				snprintf(families[nfam++], sizeof families[0], "%s", name);
			snprintf(cur, sizeof cur, "%s", name);
			snprintf(curkind, sizeof curkind, "%s", kind);
			help[0] = 0;
			continue;
		}
		if (line[0] == '#' || !line[0]) {
			snprintf(why, cap, "line %d: stray line '%.80s'", lineno, line);
			return false;
		}
		size_t nn = strcspn(line, "{ ");
		if (nn == 0 || nn >= sizeof name) {
			snprintf(why, cap, "line %d: no metric name", lineno);
			return false;
		}
		memcpy(name, line, nn);
		name[nn] = 0;
		const char *rest = line + nn;
		if (*rest == '{') {
			bool inq = false;
			for (rest++; *rest && (inq || *rest != '}'); rest++)
				if (*rest == '"' && rest[-1] != '\\')
					inq = !inq;
			if (*rest != '}') {
				snprintf(why, cap, "line %d: labels not closed", lineno);
				return false;
			}
			rest++;
		}
		char stem[128];
		bool ok = strcmp(name, cur) == 0;
		if (!ok && strcmp(curkind, "histogram") == 0)
			ok = (strip_suffix(name, "_bucket", stem, sizeof stem) ||
			      strip_suffix(name, "_sum", stem, sizeof stem) ||
			      strip_suffix(name, "_count", stem, sizeof stem)) &&
			     strcmp(stem, cur) == 0;
		if (!ok) {
			snprintf(why, cap,
			         "line %d: sample %.60s outside its family (HELP/TYPE of %.60s)",
			         lineno, name, cur[0] ? cur : "none");
			return false;
		}
		if (*rest != ' ' || !rest[1]) {
			snprintf(why, cap, "line %d: no value", lineno);
			return false;
		}
		char *end;
		strtod(rest + 1, &end);
		if (*end && strcmp(rest + 1, "+Inf") && strcmp(rest + 1, "-Inf") &&
		    strcmp(rest + 1, "NaN")) {
			snprintf(why, cap, "line %d: bad value '%.40s'", lineno, rest + 1);
			return false;
		}
	}
	return true;
}

bool prom_util_value(const char *text, const char *series, double *v)
{
	size_t n = strlen(series);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, series, n) == 0 && l[n] == ' ') {
			*v = strtod(l + n + 1, NULL);
			return true;
		}
	}
	return false;
}

double prom_util_get(const char *text, const char *series)
{
	double v;
	return prom_util_value(text, series, &v) ? v : -1;
}

double prom_util_sum(const char *text, const char *family)
{
	size_t n = strlen(family);
	double sum = 0;
	bool any = false;
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, family, n) != 0 || (l[n] != ' ' && l[n] != '{'))
			continue;
		const char *v = l + n;
		if (*v == '{') {
			bool inq = false;
			for (v++; *v && *v != '\n' && (inq || *v != '}'); v++)
				if (*v == '"' && v[-1] != '\\')
					inq = !inq;
			if (*v != '}')
				continue;
			v++;
		}
		sum += strtod(v, NULL);
		any = true;
	}
	return any ? sum : -1;
}

bool prom_util_empty_family(const char *text, char *name, size_t cap)
{
	const char *t = text;
	while ((t = strstr(t, "# TYPE ")) != NULL) {
		t += 7;
		size_t n = strcspn(t, " \n");
		const char *nl = strchr(t, '\n');
		const char *next = nl ? nl + 1 : t + strlen(t);
		/* A family's samples follow its TYPE line and start with its name. */
		if (strncmp(next, t, n) != 0) {
			snprintf(name, cap, "%.*s", (int)n, t);
			return true;
		}
	}
	return false;
}
