/* fuzz_secret.h - the HS256 secret of fuzz_jwt.c's key "k1", shared with
 * mkseeds.c so that its valid seed tokens verify. Header only. */
#ifndef TESTS_FUZZ_SECRET_H
#define TESTS_FUZZ_SECRET_H

#define FUZZ_SECRET "fuzz-secret-0123456789abcdef-0123456789"
#define FUZZ_ISSUER "likes"
#define FUZZ_AUDIENCE "edge"

#endif
