/* host.h - what sim asks of this machine besides processes: a loopback
 * port free now, and a tree of files removed. Any thread.
 */
#ifndef SIM_PROC_HOST_H
#define SIM_PROC_HOST_H

/* A TCP port free on 127.0.0.1 of the caller's network namespace right
 * now (the kernel's pick from its ephemeral range), or -1. Another
 * process may take it before the caller binds it. */
int host_free_port(void);

/* Removes path and everything below it (links not followed); a path
 * that is not there is no error. 0, or -1 with errno. */
int host_rm_tree(const char *path);

#endif
