/* prom_check.h - a small checker of Prometheus text (version 0.0.4) for
 * tests: every sample line is `name{labels} value` or `name value`, and
 * its family (the name, less _bucket/_sum/_count for a histogram) was
 * described by # HELP and # TYPE lines before it. Header-only.
 */
#ifndef TESTS_PROM_CHECK_H
#define TESTS_PROM_CHECK_H

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_FAMILIES_MAX 512

/* 0 when text parses; else the 1-based number of the first bad line,
 * with why filled. */
static inline int prom_check(const char *text, char *why, size_t whylen)
{
	static char fams[PROM_FAMILIES_MAX][128];
	static char types[PROM_FAMILIES_MAX][16];
	size_t nf = 0;
	bool helped = false;
	char helpname[128] = "";
	int lineno = 0;
	const char *p = text;
	while (*p) {
		lineno++;
		const char *e = strchr(p, '\n');
		if (!e) {
			snprintf(why, whylen, "last line has no newline");
			return lineno;
		}
		char line[2048];
		size_t n = (size_t)(e - p);
		if (n >= sizeof line) {
			snprintf(why, whylen, "line too long");
			return lineno;
		}
		memcpy(line, p, n);
		line[n] = 0;
		p = e + 1;
		char name[128], rest[128];
		if (strncmp(line, "# HELP ", 7) == 0) {
			if (sscanf(line + 7, "%127s %127[^\n]", name, rest) != 2) {
				snprintf(why, whylen, "HELP without text: %.150s", line);
				return lineno;
			}
			snprintf(helpname, sizeof helpname, "%.120s", name);
			helped = true;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char type[32];
			if (sscanf(line + 7, "%127s %31s", name, type) != 2 || !helped ||
			    strcmp(name, helpname) != 0 ||
			    (strcmp(type, "counter") && strcmp(type, "gauge") &&
			     strcmp(type, "histogram"))) {
				snprintf(why, whylen, "TYPE not after its HELP, or bad: %.150s", line);
				return lineno;
			}
			for (size_t i = 0; i < nf; i++)
				if (strcmp(fams[i], name) == 0) {
					snprintf(why, whylen, "family described twice: %.100s", name);
					return lineno;
				}
			if (nf == PROM_FAMILIES_MAX) {
				snprintf(why, whylen, "too many families");
				return lineno;
			}
			snprintf(fams[nf], sizeof fams[nf], "%.120s", name);
			snprintf(types[nf], sizeof types[nf], "%.15s", type);
			nf++;
			helped = false;
			continue;
		}
		if (line[0] == '#' || line[0] == 0) {
			snprintf(why, whylen, "stray line: %.150s", line);
			return lineno;
		}
		/* name */
		size_t i = 0;
		while (isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == ':')
			i++;
		if (i == 0 || i >= sizeof name || isdigit((unsigned char)line[0])) {
			snprintf(why, whylen, "bad metric name: %.150s", line);
			return lineno;
		}
		memcpy(name, line, i);
		name[i] = 0;
		/* labels: name="value" pairs, values without raw quotes or newlines */
		if (line[i] == '{') {
			i++;
			while (line[i] != '}') {
				size_t j = i;
				while (isalnum((unsigned char)line[j]) || line[j] == '_')
					j++;
				if (j == i || line[j] != '=' || line[j + 1] != '"') {
					snprintf(why, whylen, "bad label: %.150s", line);
					return lineno;
				}
				j += 2;
				while (line[j] && line[j] != '"') {
					if (line[j] == '\\' && line[j + 1])
						j++;
					j++;
				}
				if (line[j] != '"') {
					snprintf(why, whylen, "unterminated label value: %.150s", line);
					return lineno;
				}
				j++;
				if (line[j] == ',')
					j++;
				else if (line[j] != '}') {
					snprintf(why, whylen, "bad label list: %.150s", line);
					return lineno;
				}
				i = j;
			}
			i++;
		}
		if (line[i] != ' ') {
			snprintf(why, whylen, "no space before the value: %.150s", line);
			return lineno;
		}
		const char *v = line + i + 1;
		char *end;
		if (strcmp(v, "+Inf") && strcmp(v, "-Inf") && strcmp(v, "NaN")) {
			strtod(v, &end);
			if (end == v || *end) {
				snprintf(why, whylen, "bad value: %.150s", line);
				return lineno;
			}
		}
		/* its family */
		bool found = false;
		for (size_t f = 0; f < nf && !found; f++) {
			size_t fl = strlen(fams[f]);
			if (strcmp(name, fams[f]) == 0 && strcmp(types[f], "histogram") != 0)
				found = true;
			else if (strcmp(types[f], "histogram") == 0 && strncmp(name, fams[f], fl) == 0 &&
				 (!strcmp(name + fl, "_bucket") || !strcmp(name + fl, "_sum") ||
				  !strcmp(name + fl, "_count")))
				found = true;
		}
		if (!found) {
			snprintf(why, whylen, "sample of an undescribed family: %.150s", line);
			return lineno;
		}
	}
	return 0;
}

/* The value of the sample line that starts with `series ` (name and
 * labels exactly as rendered), or -1 when there is none. */
static inline double prom_value(const char *text, const char *series)
{
	size_t sl = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, sl) == 0 && p[sl] == ' ')
			return strtod(p + sl + 1, NULL);
	}
	return -1;
}

#endif
