/* test_identity.c - bearer tokens at the edge: keys made in the test
 * (HS256 secrets, RSA 2048 and EC P-256 pairs with OpenSSL), tokens
 * signed with libjwt, checked by bearer_verify and identity_user; then
 * through api_handle over a real ledger, that a refused token answers 401
 * with the JSON error and www-authenticate and records nothing. Each test
 * has its own temp dir.
 */
#include <criterion/criterion.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/support/testdir.h"
#include "tests/support/api_util.h"
#include "tests/support/ledger_sink.h"
#include "edge/api/api.h"
#include "edge/auth/bearer.h"
#include "edge/auth/identity.h"
#include "edge/ledger/ledger.h"
#include "log.h"
#include "partition.h"
#include "wire.h"

#define NOW 1700000000

static struct {
	char dir[64];
	char hs1[128], hs2[128], rs[128], es[128], rs_priv_other[128];
	char *rs_priv, *es_priv, *rs_other_priv;
	bearer_keys *k;
	char home[EDGE_ID_MAX + 1]; /* the last verified token's home claim */
} T;

static const char SECRET1[] = "0123456789abcdef0123456789abcdef-one";
static const char SECRET2[] = "0123456789abcdef0123456789abcdef-two";

static void write_bytes(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(b, 1, n, f), n);
	fclose(f);
}

/* Makes a key pair; writes its public PEM to pub_path (if not NULL) and
 * returns its private PEM (malloc'ed). */
static char *keypair(const char *type, const char *pub_path)
{
	EVP_PKEY *pk = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
	                                        : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cr_assert_not_null(pk);
	if (pub_path) {
		FILE *f = fopen(pub_path, "w");
		cr_assert_not_null(f);
		cr_assert(PEM_write_PUBKEY(f, pk));
		fclose(f);
	}
	BIO *bio = BIO_new(BIO_s_mem());
	cr_assert(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL));
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *out = malloc((size_t)n + 1);
	memcpy(out, data, (size_t)n);
	out[n] = 0;
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return out;
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
	memset(&T, 0, sizeof T);
	testdir_make(T.dir, sizeof T.dir, "test_identity");
	snprintf(T.hs1, sizeof T.hs1, "%s/hs1.key", T.dir);
	snprintf(T.hs2, sizeof T.hs2, "%s/hs2.key", T.dir);
	snprintf(T.rs, sizeof T.rs, "%s/rs.pub", T.dir);
	snprintf(T.es, sizeof T.es, "%s/es.pub", T.dir);
	write_bytes(T.hs1, SECRET1, strlen(SECRET1));
	write_bytes(T.hs2, SECRET2, strlen(SECRET2));
	T.rs_priv = keypair("RSA", T.rs);
	T.es_priv = keypair("EC", T.es);
}

static void teardown(void)
{
	bearer_keys_free(T.k);
	free(T.rs_priv);
	free(T.es_priv);
	free(T.rs_other_priv);
	testdir_remove(T.dir);
}

TestSuite(identity, .init = setup, .fini = teardown, .timeout = 60);

/* Key set over the test's files: "k1" HS256, "k2" HS256 (second
 * secret), "r1" RS256, "e1" ES256, as named in which. */
static void keys(const char *which, const char *iss, const char *aud)
{
	char spec[1024] = "";
	if (strstr(which, "k1"))
		snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "k1:HS256:%s,", T.hs1);
	if (strstr(which, "k2"))
		snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "k2:HS256:%s,", T.hs2);
	if (strstr(which, "r1"))
		snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "r1:RS256:%s,", T.rs);
	if (strstr(which, "e1"))
		snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "e1:ES256:%s", T.es);
	char err[256];
	bearer_keys_free(T.k);
	T.k = bearer_keys_new(spec, iss, aud, 30, err, sizeof err);
	cr_assert_not_null(T.k, "%s", err);
}

typedef struct claims {
	const char *kid; /* NULL: no kid header */
	const char *sub; /* NULL: no sub */
	long exp;        /* 0: no exp */
	long nbf;        /* 0: no nbf */
	const char *iss;
	const char *aud;       /* a string aud */
	const char *aud_json;  /* an aud array as JSON */
	const char *home_json; /* a home claim as JSON */
	const char *more_json; /* more claims, a JSON object */
} claims;

/* Signs claims with alg and key (secret bytes or private PEM). */
static char *sign(jwt_alg_t alg, const void *key, size_t keylen, const claims *c)
{
	jwt_t *j;
	cr_assert_eq(jwt_new(&j), 0);
	if (c->sub)
		cr_assert_eq(jwt_add_grant(j, "sub", c->sub), 0);
	if (c->exp)
		cr_assert_eq(jwt_add_grant_int(j, "exp", c->exp), 0);
	if (c->nbf)
		cr_assert_eq(jwt_add_grant_int(j, "nbf", c->nbf), 0);
	if (c->iss)
		cr_assert_eq(jwt_add_grant(j, "iss", c->iss), 0);
	if (c->aud)
		cr_assert_eq(jwt_add_grant(j, "aud", c->aud), 0);
	if (c->aud_json) {
		char buf[256];
		snprintf(buf, sizeof buf, "{\"aud\":%s}", c->aud_json);
		cr_assert_eq(jwt_add_grants_json(j, buf), 0);
	}
	if (c->home_json) {
		char buf[256];
		snprintf(buf, sizeof buf, "{\"home\":%s}", c->home_json);
		cr_assert_eq(jwt_add_grants_json(j, buf), 0);
	}
	if (c->more_json)
		cr_assert_eq(jwt_add_grants_json(j, c->more_json), 0);
	if (c->kid)
		cr_assert_eq(jwt_add_header(j, "kid", c->kid), 0);
	cr_assert_eq(jwt_set_alg(j, alg, key, (int)keylen), 0);
	char *s = jwt_encode_str(j);
	cr_assert_not_null(s);
	jwt_free(j);
	return s;
}

static char *hs(const char *secret, const claims *c)
{
	return sign(JWT_ALG_HS256, secret, strlen(secret), c);
}

/* Verifies tok at NOW: the reason on refusal, "" and the user on success
 * (and its home in T.home). */
static const char *verify(const char *tok, char *user)
{
	principal p;
	const char *why = "";
	int rc = bearer_verify(T.k, tok, strlen(tok), NOW, &p, &why);
	if (rc == 0) {
		if (user)
			strcpy(user, p.user);
		strcpy(T.home, p.home);
		return "";
	}
	cr_assert_eq(rc, ERR_INVAL);
	return why;
}

/* verify, then frees tok. */
static const char *verify_free(char *tok, char *user)
{
	const char *r = verify(tok, user);
	free(tok);
	return r;
}

#define OK_CLAIMS(k)                                                                               \
	{                                                                                          \
		.kid = k, .sub = "alice", .exp = NOW + 600                                         \
	}

Test(identity, valid_tokens_of_each_algorithm_give_their_sub)
{
	keys("k1,r1,e1", NULL, NULL);
	char user[USER_MAX + 1];
	claims c = OK_CLAIMS("k1");
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), user), "");
	cr_assert_str_eq(user, "alice");
	c = (claims){.kid = "r1", .sub = "bob", .exp = NOW + 600};
	cr_assert_str_eq(verify_free(sign(JWT_ALG_RS256, T.rs_priv, strlen(T.rs_priv), &c), user),
	                 "");
	cr_assert_str_eq(user, "bob");
	c = (claims){.kid = "e1", .sub = "carol", .exp = NOW + 600};
	cr_assert_str_eq(verify_free(sign(JWT_ALG_ES256, T.es_priv, strlen(T.es_priv), &c), user),
	                 "");
	cr_assert_str_eq(user, "carol");
}

Test(identity, a_token_seen_before_skips_its_signature_but_not_its_claims)
{
	keys("e1", NULL, NULL);
	char user[USER_MAX + 1];
	claims c = {.kid = "e1", .sub = "carol", .exp = NOW + 600};
	char *tok = sign(JWT_ALG_ES256, T.es_priv, strlen(T.es_priv), &c);
	cr_assert_str_eq(verify(tok, user), "");
	cr_assert_str_eq(verify(tok, user), "", "the remembered token is accepted again");
	cr_assert_str_eq(user, "carol");
	/* Its claims still count: past exp it is refused though remembered. */
	const char *why = "";
	principal p;
	cr_assert_eq(bearer_verify(T.k, tok, strlen(tok), NOW + 3600, &p, &why), ERR_INVAL);
	cr_assert_str_eq(why, "token expired");
	/* A token differing in one signature byte is a different token. */
	size_t n = strlen(tok);
	tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
	cr_assert_str_eq(verify(tok, user), "bad signature");
	cr_assert_str_eq(verify(tok, user), "bad signature", "a refusal is not remembered");
	free(tok);
	/* A new key set (a reload) remembers nothing of the old one's. */
	c = (claims){.kid = "e1", .sub = "dave", .exp = NOW + 600};
	tok = sign(JWT_ALG_ES256, T.es_priv, strlen(T.es_priv), &c);
	cr_assert_str_eq(verify(tok, user), "");
	keys("k1", NULL, NULL);
	cr_assert_str_eq(verify(tok, user), "unknown key id");
	free(tok);
}

Test(identity, two_keys_at_once_are_selected_by_kid)
{
	keys("k1,k2", NULL, NULL);
	claims c1 = OK_CLAIMS("k1"), c2 = OK_CLAIMS("k2");
	cr_assert_str_eq(verify_free(hs(SECRET1, &c1), NULL), "");
	cr_assert_str_eq(verify_free(hs(SECRET2, &c2), NULL), "");
	/* the old key's token under the new kid is a forgery */
	cr_assert_str_eq(verify_free(hs(SECRET1, &c2), NULL), "bad signature");
	claims none = OK_CLAIMS(NULL);
	cr_assert_str_eq(verify_free(hs(SECRET1, &none), NULL), "token has no key id");
}

Test(identity, a_token_without_kid_uses_the_only_key)
{
	keys("k1", NULL, NULL);
	claims c = OK_CLAIMS(NULL);
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "");
}

Test(identity, expiry_is_checked_with_the_leeway)
{
	keys("k1", NULL, NULL);
	claims c = OK_CLAIMS("k1");
	c.exp = NOW - 31;
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "token expired");
	c.exp = NOW - 30;
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "token expired");
	c.exp = NOW - 29; /* expired, but within the 30 s leeway */
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "");
	c.exp = 0;
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "token has no exp");
}

Test(identity, a_token_not_yet_valid_is_refused)
{
	keys("k1", NULL, NULL);
	claims c = OK_CLAIMS("k1");
	c.nbf = NOW + 31;
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "token not yet valid");
	c.nbf = NOW + 30;
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "");
}

Test(identity, issuer_and_audience_must_match_when_configured)
{
	keys("k1", "https://auth.example", "likes");
	claims c = OK_CLAIMS("k1");
	c.iss = "https://auth.example";
	c.aud = "likes";
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "");
	c.iss = "https://evil.example";
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "wrong issuer");
	c.iss = NULL;
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "wrong issuer");
	c.iss = "https://auth.example";
	c.aud = "photos";
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "wrong audience");
	c.aud = NULL;
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "wrong audience");
	c.aud_json = "[\"photos\",\"likes\"]";
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "");
	c.aud_json = "[\"photos\",\"comments\"]";
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "wrong audience");
}

Test(identity, a_token_signed_by_another_key_with_the_same_kid_is_refused)
{
	keys("k1,r1,e1", NULL, NULL);
	claims c = OK_CLAIMS("k1");
	cr_assert_str_eq(verify_free(hs(SECRET2, &c), NULL), "bad signature");
	T.rs_other_priv = keypair("RSA", NULL);
	c.kid = "r1";
	cr_assert_str_eq(
	    verify_free(sign(JWT_ALG_RS256, T.rs_other_priv, strlen(T.rs_other_priv), &c), NULL),
	    "bad signature");
	char *ec_other = keypair("EC", NULL);
	c.kid = "e1";
	cr_assert_str_eq(verify_free(sign(JWT_ALG_ES256, ec_other, strlen(ec_other), &c), NULL),
	                 "bad signature");
	free(ec_other);
}

Test(identity, an_unknown_kid_is_refused)
{
	keys("k1", NULL, NULL);
	claims c = OK_CLAIMS("k9");
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "unknown key id");
}

/* The classic confusion: an HS256 token whose secret is the RSA public
 * key PEM, sent under the RSA key's kid. */
Test(identity, an_algorithm_other_than_the_keys_is_refused)
{
	keys("k1,r1", NULL, NULL);
	FILE *f = fopen(T.rs, "rb");
	char pem[4096];
	size_t n = fread(pem, 1, sizeof pem - 1, f);
	fclose(f);
	pem[n] = 0;
	claims c = OK_CLAIMS("r1");
	cr_assert_str_eq(verify_free(sign(JWT_ALG_HS256, pem, n, &c), NULL),
	                 "token algorithm does not match its key");
	c.kid = "k1";
	cr_assert_str_eq(verify_free(sign(JWT_ALG_RS256, T.rs_priv, strlen(T.rs_priv), &c), NULL),
	                 "token algorithm does not match its key");
	c.kid = "k1";
	cr_assert_str_eq(verify_free(sign(JWT_ALG_HS384, SECRET1, strlen(SECRET1), &c), NULL),
	                 "token algorithm is not accepted");
}

Test(identity, alg_none_is_refused)
{
	keys("k1", NULL, NULL);
	claims c = OK_CLAIMS("k1");
	cr_assert_str_eq(verify_free(sign(JWT_ALG_NONE, NULL, 0, &c), NULL),
	                 "token algorithm is not accepted");
	/* eyJhbGciOiJub25lIn0 = {"alg":"none"}; claims sub=alice exp=far */
	cr_assert_str_eq(
	    verify("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.", NULL),
	    "token algorithm is not accepted");
}

Test(identity, malformed_tokens_are_refused)
{
	keys("k1", NULL, NULL);
	cr_assert_str_eq(verify("abc.def", NULL), "token is not three segments");
	cr_assert_str_eq(verify("a.b.c.d", NULL), "token is not three segments");
	cr_assert_str_eq(verify("", NULL), "empty bearer token");
	cr_assert_str_eq(verify("e$J.e30.x", NULL), "token header is not base64url JSON");
	cr_assert_str_eq(verify("eyJhbGciOiJIUzI1NiIs.e30.x", NULL),
	                 "token header is not base64url JSON"); /* {"alg":"HS256", cut */
	cr_assert_str_eq(verify("W10.e30.x", NULL), "token header is not base64url JSON"); /* [] */
	cr_assert_str_eq(verify("e30.e30.x", NULL), "token header has no alg");            /* {} */
	claims c = OK_CLAIMS("k1");
	char *tok = hs(SECRET1, &c);
	char *big = malloc(BEARER_TOKEN_MAX + 2);
	memset(big, 'A', BEARER_TOKEN_MAX + 1);
	big[BEARER_TOKEN_MAX + 1] = 0;
	memcpy(big, tok, strlen(tok));
	cr_assert_str_eq(verify(big, NULL), "token too long");
	free(big);
	/* a flipped signature byte */
	char *sig = strrchr(tok, '.') + 1;
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	cr_assert_str_eq(verify(tok, NULL), "bad signature");
	free(tok);
}

/* A copy of tok with its signature segment replaced by sig64. */
static char *with_signature(const char *tok, const char *sig64)
{
	size_t head = (size_t)(strrchr(tok, '.') + 1 - tok);
	char *out = malloc(head + strlen(sig64) + 1);
	memcpy(out, tok, head);
	strcpy(out + head, sig64);
	return out;
}

/* The signature check is the project's own (OpenSSL on keys parsed at
 * load): every algorithm must refuse a changed signature, changed
 * claims, and a signature of the wrong length or encoding. */
Test(identity, changed_signatures_and_claims_are_refused_for_every_algorithm)
{
	keys("k1,r1,e1", NULL, NULL);
	struct {
		const char *kid;
		char *tok;
	} t[3];
	claims c = OK_CLAIMS("k1");
	t[0].kid = "k1";
	t[0].tok = hs(SECRET1, &c);
	c.kid = t[1].kid = "r1";
	t[1].tok = sign(JWT_ALG_RS256, T.rs_priv, strlen(T.rs_priv), &c);
	c.kid = t[2].kid = "e1";
	t[2].tok = sign(JWT_ALG_ES256, T.es_priv, strlen(T.es_priv), &c);
	for (int i = 0; i < 3; i++) {
		char *tok = t[i].tok;
		cr_assert_str_eq(verify(tok, NULL), "", "%s: the untouched token", t[i].kid);
		char *sig = strrchr(tok, '.') + 1;
		size_t sl = strlen(sig);

		/* One bit of the middle of the signature. */
		char *x = strdup(tok);
		char *m = strrchr(x, '.') + 1 + sl / 2;
		*m = *m == 'A' ? 'B' : 'A';
		cr_assert_str_eq(verify(x, NULL), "bad signature", "%s: changed signature",
		                 t[i].kid);
		free(x);

		/* Another user in the claims, the signature kept. */
		char claims_b64[] = "eyJzdWIiOiJtYWxsb3J5IiwiZXhwIjo0MDAwMDAwMDAwfQ";
		const char *d1 = strchr(tok, '.');
		size_t hl = (size_t)(d1 - tok) + 1;
		x = malloc(strlen(tok) + sizeof claims_b64);
		memcpy(x, tok, hl);
		sprintf(x + hl, "%s.%s", claims_b64, sig); /* {"sub":"mallory",...} */
		cr_assert_str_eq(verify(x, NULL), "bad signature", "%s: changed claims", t[i].kid);
		free(x);

		/* The signature cut short by one byte (4 base64url characters
		 * carry 3 bytes: drop the last group and re-pad nothing). */
		char *cut = strndup(sig, sl - (sl % 4 ? sl % 4 : 4));
		x = with_signature(tok, cut);
		cr_assert_str_eq(verify(x, NULL), "bad signature", "%s: short signature", t[i].kid);
		free(x);
		free(cut);

		/* No signature, and one far longer than any key's. */
		x = with_signature(tok, "");
		cr_assert_str_eq(verify(x, NULL), "bad signature", "%s: empty signature", t[i].kid);
		free(x);
		char longsig[1200];
		memset(longsig, 'A', sizeof longsig - 1);
		longsig[sizeof longsig - 1] = 0;
		x = with_signature(tok, longsig);
		cr_assert_str_eq(verify(x, NULL), "bad signature", "%s: long signature", t[i].kid);
		free(x);
		free(tok);
	}
}

/* ES256 signatures are R||S (64 bytes), not DER: a DER signature of the
 * same token, valid as ECDSA, is refused. */
Test(identity, an_es256_signature_in_der_is_refused)
{
	keys("e1", NULL, NULL);
	claims c = OK_CLAIMS("e1");
	char *tok = sign(JWT_ALG_ES256, T.es_priv, strlen(T.es_priv), &c);
	cr_assert_str_eq(verify(tok, NULL), "");
	/* Sign header.claims with the private key directly, in DER. */
	const char *d2 = strrchr(tok, '.');
	BIO *bio = BIO_new_mem_buf(T.es_priv, -1);
	EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	cr_assert_not_null(pk);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[128];
	size_t dl = sizeof der;
	cr_assert_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk), 1);
	cr_assert_eq(EVP_DigestSign(ctx, der, &dl, (const unsigned char *)tok, (size_t)(d2 - tok)),
	             1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	char b64[256];
	int n = EVP_EncodeBlock((unsigned char *)b64, der, (int)dl);
	/* base64 to unpadded base64url */
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = 0;
	for (int i = 0; i < n; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	char *x = with_signature(tok, b64);
	cr_assert_str_eq(verify(x, NULL), "bad signature");
	free(x);
	free(tok);
}

Test(identity, sub_must_be_present_and_a_valid_user_id)
{
	keys("k1", NULL, NULL);
	claims c = OK_CLAIMS("k1");
	c.sub = NULL;
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "token has no sub");
	c.sub = "has space";
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "token sub is not a valid user id");
	char longsub[USER_MAX + 2];
	memset(longsub, 'u', USER_MAX + 1);
	longsub[USER_MAX + 1] = 0;
	c.sub = longsub;
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), NULL), "token sub is not a valid user id");
	longsub[USER_MAX] = 0;
	char user[USER_MAX + 1];
	cr_assert_str_eq(verify_free(hs(SECRET1, &c), user), "");
	cr_assert_str_eq(user, longsub);
}

Test(identity, bad_key_configs_stop_start_up)
{
	char err[256], spec[512];
	cr_assert_null(bearer_keys_new("", NULL, NULL, 30, err, sizeof err));
	snprintf(spec, sizeof spec, "k1:HS256:%s,k1:HS256:%s", T.hs1, T.hs2);
	cr_assert_null(bearer_keys_new(spec, NULL, NULL, 30, err, sizeof err));
	cr_assert(strstr(err, "twice"), "%s", err);
	snprintf(spec, sizeof spec, "k1:none:%s", T.hs1);
	cr_assert_null(bearer_keys_new(spec, NULL, NULL, 30, err, sizeof err));
	cr_assert(strstr(err, "unknown algorithm"), "%s", err);
	snprintf(spec, sizeof spec, "k1:HS256:%s/missing", T.dir);
	cr_assert_null(bearer_keys_new(spec, NULL, NULL, 30, err, sizeof err));
	snprintf(spec, sizeof spec, "r1:RS256:%s", T.hs1); /* not a PEM */
	cr_assert_null(bearer_keys_new(spec, NULL, NULL, 30, err, sizeof err));
	snprintf(spec, sizeof spec, "e1:ES256:%s", T.rs); /* RSA where EC is due */
	cr_assert_null(bearer_keys_new(spec, NULL, NULL, 30, err, sizeof err));
	char shortk[128];
	snprintf(shortk, sizeof shortk, "%s/short.key", T.dir);
	write_bytes(shortk, "tooshort", 8);
	snprintf(spec, sizeof spec, "k1:HS256:%s", shortk);
	cr_assert_null(bearer_keys_new(spec, NULL, NULL, 30, err, sizeof err));
	cr_assert_null(bearer_keys_new("k1-HS256", NULL, NULL, 30, err, sizeof err));
}

/* --- identity_user: which header, which mode --------------------------------- */

static int who_home(const identity_config *ic, const char *auth, const char *devuser,
                    const char *devhome, principal *p, const char **why)
{
	http_header h[3];
	size_t nh = 0;
	if (auth)
		h[nh++] = (http_header){"authorization", 13, auth, strlen(auth)};
	if (devuser)
		h[nh++] = (http_header){"x-user-id", 9, devuser, strlen(devuser)};
	if (devhome)
		h[nh++] = (http_header){"x-user-home", 11, devhome, strlen(devhome)};
	http_request rq = {.method = "POST", .path = "/", .headers = h, .nheaders = nh};
	return identity_user(ic, &rq, NOW, p, why);
}

static int who(const identity_config *ic, const char *auth, const char *devuser, char *user,
               const char **why)
{
	principal p;
	int rc = who_home(ic, auth, devuser, NULL, &p, why);
	if (rc == 0)
		strcpy(user, p.user);
	return rc;
}

Test(identity, the_home_region_comes_from_the_token_or_the_dev_header)
{
	keys("k1", NULL, NULL);
	identity_config ic = {.dev_header = true, .keys = T.k};
	claims c = OK_CLAIMS("k1");
	c.home_json = "\"eu-west\"";
	char *tok = hs(SECRET1, &c);
	char auth[4200];
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	principal p;
	const char *why;
	/* The token's claim; a dev header beside a token counts for nothing. */
	cr_assert_eq(who_home(&ic, auth, "mallory", "us", &p, &why), 0);
	cr_assert_str_eq(p.user, "alice");
	cr_assert_str_eq(p.home, "eu-west");
	free(tok);
	c.home_json = NULL; /* a token without one: no home */
	tok = hs(SECRET1, &c);
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	cr_assert_eq(who_home(&ic, auth, NULL, NULL, &p, &why), 0);
	cr_assert_str_eq(p.home, "");
	free(tok);
	/* The development headers. */
	cr_assert_eq(who_home(&ic, NULL, "bob", "ap", &p, &why), 0);
	cr_assert_str_eq(p.user, "bob");
	cr_assert_str_eq(p.home, "ap");
	cr_assert_eq(who_home(&ic, NULL, "bob", NULL, &p, &why), 0);
	cr_assert_str_eq(p.home, "");
	cr_assert_eq(who_home(&ic, NULL, "bob", "EU", &p, &why), ERR_NOTFOUND);
	cr_assert(strstr(why, "X-User-Home"), "%s", why);
	cr_assert_eq(who_home(&ic, NULL, "bob", "", &p, &why), ERR_NOTFOUND);
}

Test(identity, a_home_claim_that_is_not_a_region_name_refuses_the_token)
{
	keys("k1", NULL, NULL);
	const char *bad[] = {
	    "\"\"", "\"EU\"",
	    "7",    "[\"eu\"]",
	    "null", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		claims c = OK_CLAIMS("k1");
		c.home_json = bad[i];
		char *tok = hs(SECRET1, &c);
		cr_assert_str_eq(verify(tok, NULL), "token home is not a region name", "%s",
		                 bad[i]);
		free(tok);
	}
	claims c = OK_CLAIMS("k1");
	c.home_json = "\"us_2-b\"";
	char *tok = hs(SECRET1, &c);
	cr_assert_str_eq(verify(tok, NULL), "");
	cr_assert_str_eq(T.home, "us_2-b");
	free(tok);
}

/* The principal of a token with claims more (JSON) beside the usual
 * ones: 0, or the refusal's reason in *why. */
static int with_claims(const char *more, principal *p, const char **why)
{
	claims c = OK_CLAIMS("k1");
	c.more_json = more;
	char *tok = hs(SECRET1, &c);
	int rc = bearer_verify(T.k, tok, strlen(tok), NOW, p, why);
	free(tok);
	return rc;
}

Test(identity, home_since_says_when_the_user_moved_and_needs_a_home)
{
	keys("k1", NULL, NULL);
	principal p;
	const char *why = "";
	cr_assert_eq(with_claims("{\"home\":\"eu\",\"home_since\":1764201600000}", &p, &why), 0);
	cr_assert_str_eq(p.home, "eu");
	cr_assert_eq(p.home_since, UINT64_C(1764201600000));
	cr_assert_eq(with_claims("{\"home\":\"eu\"}", &p, &why), 0);
	cr_assert_eq(p.home_since, 0, "no move said");
	cr_assert_eq(with_claims("{\"home_since\":5}", &p, &why), ERR_INVAL);
	cr_assert_str_eq(why, "token home_since without home");
	const char *bad[] = {"\"5\"", "0", "-5", "1.5", "9007199254740993", "null", "[5]"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char more[128];
		snprintf(more, sizeof more, "{\"home\":\"eu\",\"home_since\":%s}", bad[i]);
		cr_assert_eq(with_claims(more, &p, &why), ERR_INVAL, "%s", bad[i]);
		cr_assert_str_eq(why, "token home_since is not a time in ms", "%s", bad[i]);
	}
	/* The development headers. */
	identity_config ic = {.dev_header = true};
	http_header h[3] = {{"x-user-id", 9, "bob", 3},
	                    {"x-user-home", 11, "ap", 2},
	                    {"x-user-home-since", 17, "1764201600000", 13}};
	http_request rq = {.method = "GET", .path = "/", .headers = h, .nheaders = 3};
	cr_assert_eq(identity_user(&ic, &rq, NOW, &p, &why), 0);
	cr_assert_eq(p.home_since, UINT64_C(1764201600000));
	const char *bad_dev[] = {"0", "12a", "", "1234567890123456", "-1"};
	for (size_t i = 0; i < sizeof bad_dev / sizeof *bad_dev; i++) {
		h[2].value = bad_dev[i];
		h[2].valuelen = strlen(bad_dev[i]);
		cr_assert_eq(identity_user(&ic, &rq, NOW, &p, &why), ERR_NOTFOUND, "%s",
		             bad_dev[i]);
		cr_assert(strstr(why, "X-User-Home-Since"), "%s", why);
	}
	h[1] = h[2]; /* without X-User-Home */
	h[1].value = "5";
	h[1].valuelen = 1;
	rq.nheaders = 2;
	cr_assert_eq(identity_user(&ic, &rq, NOW, &p, &why), ERR_NOTFOUND);
	cr_assert_str_eq(why, "X-User-Home-Since needs X-User-Home");
}

Test(identity, the_bearer_token_wins_over_the_dev_header)
{
	keys("k1", NULL, NULL);
	identity_config ic = {.dev_header = true, .keys = T.k};
	claims c = OK_CLAIMS("k1");
	char *tok = hs(SECRET1, &c);
	char auth[4200], user[USER_MAX + 1];
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	const char *why;
	cr_assert_eq(who(&ic, auth, "mallory", user, &why), 0);
	cr_assert_str_eq(user, "alice");
	cr_assert_eq(who(&ic, NULL, "mallory", user, &why), 0);
	cr_assert_str_eq(user, "mallory");
	snprintf(auth, sizeof auth, "Bearer %sx", tok);
	cr_assert_eq(who(&ic, auth, "mallory", user, &why), ERR_INVAL);
	ic.dev_header = false;
	cr_assert_eq(who(&ic, NULL, "mallory", user, &why), ERR_NOTFOUND);
	cr_assert_str_eq(why, "missing bearer token");
	cr_assert_eq(who(&ic, "Basic YTpi", NULL, user, &why), ERR_NOTFOUND);
	snprintf(auth, sizeof auth, "bearer %s", tok);
	cr_assert_eq(who(&ic, auth, NULL, user, &why), 0);
	free(tok);
}

/* --- through the API ------------------------------------------------------------ */

static struct {
	char dir[128];
	store *db;
	ledger *l;
	api a;
	http_response r;
} A;

static void api_setup(void)
{
	setup();
	memset(&A, 0, sizeof A);
	snprintf(A.dir, sizeof A.dir, "%s/store", T.dir);
	A.db = testdir_open_store(A.dir);
	ledger_opts o = api_util_ledger_opts(4);
	char err[256];
	A.l = ledger_open(A.db, &o, err, sizeof err);
	cr_assert_not_null(A.l, "%s", err);
	keys("r1", NULL, "likes");
	cr_assert_eq(api_util_prepare(&A.a, A.l, "post,reel", "likes,saves", "views",
	                              api_util_config(), err, sizeof err),
	             0, "%s", err);
	A.a.ic.dev_header = false; /* bearer tokens only */
	A.a.ic.keys = T.k;
	cr_assert_eq(api_init(&A.a), 0);
	/* the edge knows post:1 has 41 likes, as central would tell it */
	wire_count wc = {wire_cstr("likes", 5), wire_cstr("post:1", 6), 41};
	wire_snapshot s = {.source = wire_cstr("c", 1),
	                   .partition = partition_of("post:1", 6, 4),
	                   .offset = 7,
	                   .produced_ms = 1234,
	                   .last = true,
	                   .ncounts = 1,
	                   .counts = &wc};
	cr_assert_eq(ledger_apply_snapshot(A.l, &s, 0), 0);
}

static void api_teardown(void)
{
	free(A.r.body);
	api_util_free(&A.a);
	ledger_free(A.l);
	store_close(A.db);
	teardown();
}

TestSuite(identity_api, .init = api_setup, .fini = api_teardown, .timeout = 60);

static int like(const char *auth)
{
	http_header h[1];
	size_t nh = 0;
	if (auth)
		h[nh++] = (http_header){"authorization", 13, auth, strlen(auth)};
	http_request rq = {.method = "POST",
	                   .path = "/v1/items/post/1/likes",
	                   .headers = h,
	                   .nheaders = nh,
	                   .peer = "127.0.0.1:1"};
	free(A.r.body);
	memset(&A.r, 0, sizeof A.r);
	api_handle(&A.a, &rq, &A.r);
	A.r.body = realloc(A.r.body, A.r.body_len + 1);
	A.r.body[A.r.body_len] = 0;
	return A.r.status ? A.r.status : 200;
}

static const char *header(const char *name)
{
	for (size_t i = 0; i < A.r.nheaders; i++)
		if (strcmp(A.r.headers[i].name, name) == 0)
			return A.r.headers[i].value;
	return NULL;
}

static uint64_t accepted(void)
{
	ledger_stats st;
	ledger_get_stats(A.l, &st);
	return st.ops_accepted + st.ops_duplicate;
}

Test(identity_api, a_forged_token_gets_401_and_records_nothing)
{
	long now = (long)time(NULL);
	claims c = {.kid = "r1", .sub = "alice", .exp = now + 600, .aud = "likes"};
	char *forger = keypair("RSA", NULL);
	char *tok = sign(JWT_ALG_RS256, forger, strlen(forger), &c);
	free(forger);
	char auth[4200];
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	free(tok);
	cr_assert_eq(like(auth), 401);
	cr_assert_str_eq(A.r.body, "{\"error\":{\"code\":\"unauthenticated\","
	                           "\"message\":\"bad signature\"}}");
	cr_assert_str_eq(header("www-authenticate"), "Bearer error=\"invalid_token\"");
	cr_assert_eq(like(NULL), 401);
	cr_assert(strstr(A.r.body, "missing bearer token"), "%s", A.r.body);
	cr_assert_str_eq(header("www-authenticate"), "Bearer");
	cr_assert_eq(accepted(), 0);

	/* the same claims signed with the configured key count */
	tok = sign(JWT_ALG_RS256, T.rs_priv, strlen(T.rs_priv), &c);
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	free(tok);
	int st = like(auth);
	cr_assert(st == 200 || st == 201, "%d %s", st, A.r.body);
	cr_assert(strstr(A.r.body, "\"count\":42"), "%s", A.r.body);
	cr_assert_eq(accepted(), 1);
}
