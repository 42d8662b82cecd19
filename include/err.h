/* err.h - the project's error codes.
 *
 * Fallible functions return 0 on success or one of these negative codes.
 * err_str() names a code for logs and error bodies; it never fails.
 */
#ifndef LIKES_ERR_H
#define LIKES_ERR_H

#define WARN_UNUSED __attribute__((warn_unused_result))

enum {
	ERR_OK = 0,
	ERR_INVAL = -1,     /* argument or input out of its contract */
	ERR_IO = -2,        /* the operating system or LevelDB failed */
	ERR_NOTFOUND = -3,  /* no such key, item or file */
	ERR_CORRUPT = -4,   /* bytes that do not decode */
	ERR_VERSION = -5,   /* a wire or store version we do not speak */
	ERR_TOOBIG = -6,    /* over a configured or wire limit */
	ERR_FULL = -7,      /* a budget is spent (disk, queue) */
	ERR_KAFKA = -8,     /* librdkafka refused */
	ERR_AGAIN = -9,     /* try later: nothing was done */
	ERR_CONFIG = -10,   /* a configuration file is wrong */
	ERR_TLS = -11,      /* OpenSSL refused */
	ERR_TIMEOUT = -12,  /* no answer within the deadline */
	ERR_CLOSED = -13,   /* the object was closed with the work outstanding */
	ERR_CONFLICT = -14, /* the same key names a different request */
	ERR_FENCED = -15,   /* another instance holds the log: this one may not write */
	ERR_CLOCK = -16,    /* a clock past the hybrid clock's bound: cannot be ordered */
};

const char *err_str(int code);

#endif
