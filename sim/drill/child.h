/* child.h - ending a child process sim started: SIGTERM, then SIGKILL if
 * it has not exited within its grace, reaped either way. Main thread.
 */
#ifndef SIM_DRILL_CHILD_H
#define SIM_DRILL_CHILD_H

#include <sys/types.h>

void child_end(pid_t pid, unsigned grace_ms);

#endif
