/* host.h - what sim asks of this machine besides processes: a loopback
 * port free now, and a tree of files removed. Any thread.
 */
#ifndef SIM_PROC_HOST_H
#define SIM_PROC_HOST_H

/* Where host_free_port's picks lie: below the kernel's ephemeral range
 * and below the integration tests' ports (tests/support/proc.h). */
#define HOST_PORT_FLOOR 10000
#define HOST_PORT_CEIL 20000
/* The ports a process handed out last, never handed out again. */
#define HOST_PORTS_KEPT 256

/* A TCP port free on 127.0.0.1 of the caller's network namespace right
 * now, or -1: drawn at random from HOST_PORT_FLOOR up to HOST_PORT_CEIL
 * (or the start of the kernel's ephemeral range, if lower), so that no
 * outgoing connection takes it (the kernel's pick from that range when
 * there is no room below it), and none of the last HOST_PORTS_KEPT this
 * process was given. Another process that binds it explicitly may still
 * take it before the caller does. */
int host_free_port(void);

/* n host_free_port picks into ports, all different: 0, or -1 when a
 * pick failed or n exceeds HOST_PORTS_KEPT. One process picking every
 * port that several children will bind keeps them apart: another
 * process's picks are its own. */
int host_free_ports(int *ports, int n);

/* Removes path and everything below it (links not followed); a path
 * that is not there is no error. 0, or -1 with errno. */
int host_rm_tree(const char *path);

#endif
