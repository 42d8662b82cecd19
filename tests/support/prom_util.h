/* prom_util.h - for tests that scrape /metrics: a small checker of the
 * Prometheus text format (each family's HELP then TYPE before its
 * samples, once per family, samples of a family together, values that
 * parse), a lookup of one sample's value, the sum of a family's
 * samples and the first family without any. Compiled once into the
 * test support library (tests/support/prom_util.c); test processes
 * only. prom_util_check keeps its family names in static storage, so one
 * thread at a time.
 */
#ifndef TESTS_SUPPORT_PROM_UTIL_H
#define TESTS_SUPPORT_PROM_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* true when text is well formed; else false with the first fault in why. */
bool prom_util_check(const char *text, char *why, size_t cap);

/* The value of the sample whose name and labels are exactly series
 * ("x_total" or "x{partition=\"0\"}"); false when there is none. */
bool prom_util_value(const char *text, const char *series, double *v);

/* prom_util_value's number, or -1 when the sample is not there. */
double prom_util_get(const char *text, const char *series);

/* The sum of every sample of one family, labelled or not ("x_total"
 * sums x_total and x_total{...}), as PromQL's sum(x_total); -1 when the
 * family has no sample. */
double prom_util_sum(const char *text, const char *family);

/* The first family of text that has HELP and TYPE but no sample, copied
 * into name; false when every family has at least one. */
bool prom_util_empty_family(const char *text, char *name, size_t cap);

#endif
