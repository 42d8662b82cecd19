/* cpustat.h - the machine's CPU time from /proc/stat, to say in a drill's
 * report how much of the CPU the hypervisor took (steal) while the load
 * ran. On a shared virtual machine a stolen share of tens of percent
 * stalls every process for milliseconds at a time: client latencies then
 * measure the host as much as the code, and the report should say so.
 *
 * Pure but for cpustat_read. Any thread.
 */
#ifndef SIM_CPUSTAT_H
#define SIM_CPUSTAT_H

#include <stdbool.h>
#include <stdint.h>

/* Jiffies of all CPUs since boot. */
typedef struct cpustat {
	uint64_t total; /* user .. steal */
	uint64_t idle;  /* idle + iowait */
	uint64_t steal;
} cpustat;

/* Parses the "cpu " line of a /proc/stat text; false when it has none
 * or it is malformed. */
bool cpustat_parse(const char *text, cpustat *out);
/* Reads /proc/stat; false (and *out zeroed) when it cannot. */
bool cpustat_read(cpustat *out);
/* Of the CPU time between a and b: the stolen and the busy (neither idle
 * nor stolen) shares, 0..1; false when no time passed. */
bool cpustat_shares(const cpustat *a, const cpustat *b, double *steal, double *busy);

#endif
