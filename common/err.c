/* err.c - names for the error codes of err.h. */
#include "err.h"

const char *err_str(int code)
{
	switch (code) {
	case ERR_OK: return "ok";
	case ERR_INVAL: return "invalid argument";
	case ERR_IO: return "i/o error";
	case ERR_NOTFOUND: return "not found";
	case ERR_CORRUPT: return "corrupt data";
	case ERR_VERSION: return "unsupported version";
	case ERR_TOOBIG: return "over a limit";
	case ERR_FULL: return "budget spent";
	case ERR_KAFKA: return "kafka error";
	case ERR_AGAIN: return "try again";
	case ERR_CONFIG: return "configuration error";
	case ERR_TLS: return "tls error";
	case ERR_TIMEOUT: return "timed out";
	case ERR_CLOSED: return "closed";
	case ERR_CONFLICT: return "conflict";
	case ERR_FENCED: return "fenced";
	case ERR_CLOCK: return "clock out of bound";
	}
	return "unknown error";
}
