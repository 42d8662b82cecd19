/* httpget.h - a small blocking HTTP/1.1 client for sim's checks and
 * samples (one request per call, its own connection, a deadline).
 * Any thread.
 */
#ifndef SIM_HTTPGET_H
#define SIM_HTTPGET_H

#include <stddef.h>

#include "err.h"

#define HTTPGET_BODY_MAX (4u << 20)

/* GET http://127.0.0.1:port{path} with an optional bearer token. 0 with
 * the status and the body (malloc'ed, NUL-terminated) when an answer
 * came; ERR_TIMEOUT, ERR_IO or ERR_TOOBIG otherwise (*body NULL). */
int httpget(int port, const char *path, const char *bearer, unsigned timeout_ms, int *status,
            char **body, size_t *len) WARN_UNUSED;

#endif
