/* failpoint.c - the one armed crash point (failpoint.h).
 *
 * Owns the armed name and its countdown, written by failpoint_init before
 * any other thread exists and only read (the countdown decremented
 * atomically) afterwards.
 */
#include "failpoint.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define NAME_MAX_LEN 63

bool failpoint_armed;
static char armed_name[NAME_MAX_LEN + 1];
static atomic_long countdown;

bool failpoint_init(char *err, size_t errlen)
{
	const char *spec = getenv("LIKES_FAILPOINT");
	if (!spec || !*spec)
		return true;
	const char *colon = strchr(spec, ':');
	size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
	long n = 1;
	if (colon) {
		char *end;
		n = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end || n < 1) {
			snprintf(err, errlen, "LIKES_FAILPOINT: bad count in '%s'", spec);
			return false;
		}
	}
	if (nl == 0 || nl > NAME_MAX_LEN) {
		snprintf(err, errlen, "LIKES_FAILPOINT: bad name in '%s'", spec);
		return false;
	}
	memcpy(armed_name, spec, nl);
	armed_name[nl] = 0;
	atomic_store(&countdown, n);
	failpoint_armed = true;
	log_warn("failpoint armed: this process will kill itself; tests only", "point=%s pass=%ld",
	         armed_name, n);
	return true;
}

void failpoint_pass(const char *name)
{
	if (strcmp(name, armed_name) != 0)
		return;
	if (atomic_fetch_sub(&countdown, 1) != 1)
		return;
	log_warn("failpoint reached", "point=%s", name);
	raise(SIGKILL);
	_exit(137); /* not reached */
}
