/* bearer.h - verification of JWT bearer tokens (RFC 7519 / 7515) against
 * a set of keys loaded from config at start-up.
 *
 * A key set holds keys selected by the token header's kid (a token with
 * no kid is accepted only when exactly one key is configured). Each key
 * has exactly one algorithm: HS256 (a secret file, raw bytes), RS256 or
 * ES256 (a PEM public key file). The token's alg must equal its key's;
 * "none" and every other algorithm are refused. Claims: exp required,
 * nbf optional (both with a leeway), iss and aud checked when configured,
 * sub required and a valid user id (item_user_valid), home optional and,
 * when present, a region name (item_edge_valid).
 *
 * A key set's keys are immutable once built, and any thread may verify
 * with it at once; it remembers (under its own locks) the tokens whose
 * signature it has checked, so a client's next request with the same
 * token skips the signature (the claims are checked every time). The caller owns it and frees it
 * after the last verification. A bearer_ring (below) holds the set of a daemon that reloads its
 * keys.
 */
#ifndef EDGE_BEARER_H
#define EDGE_BEARER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "item.h"

/* Longer tokens are refused before any decoding. */
#define BEARER_TOKEN_MAX 4096
/* Key files larger than this are refused at load. */
#define BEARER_KEYFILE_MAX 65536
/* Tokens whose signature a key set remembers having checked (32 bytes
 * each; edge/auth/tokcache.h): later requests with one skip the signature. */
#define BEARER_CACHE_ENTRIES 65536
/* An HS256 secret shorter than this is refused (RFC 7518 3.2). */
#define BEARER_HS_MIN 32

typedef struct bearer_keys bearer_keys;

/* Who a request's identity names: the user and, when the identity says,
 * the user's home region ("" when it names none) and since when it is
 * (wall ms of the user's last move; 0 when the identity does not say). */
typedef struct principal {
	char user[USER_MAX + 1];
	char home[EDGE_ID_MAX + 1];
	uint64_t home_since;
} principal;

/* Builds a key set from spec, a comma list of kid:ALG:path (ALG is HS256,
 * RS256 or ES256; kid is 1-64 bytes of [A-Za-z0-9._-]). issuer and
 * audience may be NULL or "" (not checked). leeway_s applies to exp and
 * nbf. NULL with err filled on an empty spec, a bad entry, a duplicate
 * kid, an unknown alg, or a key file that cannot be read or is not a key
 * of that alg. */
bearer_keys *bearer_keys_new(const char *spec, const char *issuer, const char *audience,
                             int64_t leeway_s, char *err, size_t errlen);

void bearer_keys_free(bearer_keys *k);

/* How many keys the set holds. */
size_t bearer_keys_count(const bearer_keys *k);

/* Verifies token (len bytes, need not be NUL-terminated) at wall time
 * now_s (seconds since the epoch). 0 with the sub claim copied into
 * who->user and the home claim into who->home (both NUL-terminated), or
 * ERR_INVAL with *reason set to a short static sentence saying why the
 * token is refused. */
int bearer_verify(const bearer_keys *k, const char *token, size_t len, int64_t now_s,
                  principal *who, const char **reason) WARN_UNUSED;

/* A reloadable key set (SIGHUP re-reads identity.jwt_keys). Thread
 * rules: bearer_ring_verify from any thread, at any time; it verifies
 * with the set that was current when it started, holding a reference,
 * so a reload never frees a set a verification is using (the last one
 * to let go of a replaced set frees it). bearer_ring_reload from one
 * thread at a time (the main loop's SIGHUP). new and free at start-up
 * and after every worker stopped. */
typedef struct bearer_ring bearer_ring;

/* As bearer_keys_new; the arguments are copied for reloads. */
bearer_ring *bearer_ring_new(const char *spec, const char *issuer, const char *audience,
                             int64_t leeway_s, char *err, size_t errlen);
/* Reads every key file of the spec again into a new set and makes it
 * current. ERR_CONFIG with the reason in err when the new set does not
 * load: the old one stays current. */
int bearer_ring_reload(bearer_ring *r, char *err, size_t errlen) WARN_UNUSED;
/* bearer_verify with the current set. */
int bearer_ring_verify(bearer_ring *r, const char *token, size_t len, int64_t now_s, principal *who,
                       const char **reason) WARN_UNUSED;
/* Keys in the current set. */
size_t bearer_ring_count(bearer_ring *r);
void bearer_ring_free(bearer_ring *r);

#endif
