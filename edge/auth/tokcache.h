/* tokcache.h - the tokens whose signature a key set has already checked.
 *
 * Verifying a signature costs about 120 us for ES256 and 47 us for
 * RS256 on the development machine (one core, keys parsed at load),
 * against a few microseconds for the rest of a request. A client sends the same token with every
 * request until it expires, so a key set remembers the SHA-256 of each token whose signature it
 * verified; the claims (exp, nbf, iss, aud, sub) are still checked on every request. A
 * cryptographic digest, not a fast hash: nobody can make another token land on a remembered one.
 *
 * Fixed size (sets of 4 digests in lock stripes; a full set forgets its
 * oldest). Any thread.
 */
#ifndef EDGE_TOKCACHE_H
#define EDGE_TOKCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKCACHE_DIGEST 32

typedef struct tokcache tokcache;

/* About entries digests (rounded up to whole sets; at least one set). */
tokcache *tokcache_new(size_t entries);
void tokcache_free(tokcache *c);
/* The SHA-256 of token. */
void tokcache_digest(const char *token, size_t len, unsigned char d[TOKCACHE_DIGEST]);
bool tokcache_has(tokcache *c, const unsigned char d[TOKCACHE_DIGEST]);
void tokcache_put(tokcache *c, const unsigned char d[TOKCACHE_DIGEST]);

/* The heap bytes c holds: its struct, and of its sets (calloc'ed whole,
 * zero pages until written) the pages the sets filled so far have
 * written (memacct_touched). Grows with the tokens seen, to the table's
 * size. Atomics only: any thread. */
uint64_t tokcache_bytes(const tokcache *c);
/* tokcache_bytes summed over every cache alive in the process (each key
 * set has one; a reload makes a new set while the old one lives on
 * until its last verification ends). For the memory gauge: the key-set
 * ring's lock, which every verification takes, is not needed to read
 * it. Any thread. */
uint64_t tokcache_total_bytes(void);
/* The same as a memory holder (telemetry.h): ctx unused, always true. */
bool tokcache_holds(void *ctx, uint64_t *out);

#endif
