/* bearer.c - JWT bearer token verification: key loading (start-up, main
 * thread), then header parsing, key selection, the signature check
 * (OpenSSL, on public keys parsed once at load) and the claim checks. Verification reads only the
 * immutable key set: any thread. The ring (bearer_ring_*) holds the current set for a daemon that
 * reloads keys: a mutex guards only the pointer and a set's reference count, a verification holds a
 * reference, and a set replaced by a reload is freed by whoever drops its last reference.
 */
#include "edge/auth/bearer.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/auth/tokcache.h"
#include "item.h"
#include "tsa.h"
#include "xmem.h"

#define KID_MAX 64

typedef enum key_alg { ALG_NONE = 0, ALG_HS256, ALG_RS256, ALG_ES256 } key_alg;

typedef struct bearer_key {
	char kid[KID_MAX + 1];
	char alg[8];
	key_alg kalg;
	unsigned char *bytes; /* the secret, or the PEM text */
	size_t len;
	EVP_PKEY *pk; /* RS256, ES256: the public key, parsed at load */
} bearer_key;

struct bearer_keys {
	bearer_key *keys;
	size_t n;
	char *issuer;   /* NULL: not checked */
	char *audience; /* NULL: not checked */
	int64_t leeway_s;
	atomic_size_t refs; /* ring only: holders of this set (the ring is one) */
	tokcache *verified; /* tokens whose signature this set checked */
};

struct bearer_ring {
	tsa_mutex mu; /* guards cur and taking a reference to it */
	bearer_keys *cur;
	char *spec, *issuer, *audience;
	int64_t leeway_s;
};

/* --- loading ------------------------------------------------------------------ */

static bool kid_valid(const char *s, size_t n)
{
	if (n == 0 || n > KID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!item_name_char(s[i]))
			return false;
	return true;
}

static int read_file(const char *path, unsigned char **out, size_t *outlen, char *err,
                     size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	unsigned char *buf = xmalloc(BEARER_KEYFILE_MAX + 1);
	size_t n = fread(buf, 1, BEARER_KEYFILE_MAX + 1, f);
	bool bad = ferror(f);
	fclose(f);
	if (bad || n > BEARER_KEYFILE_MAX) {
		snprintf(err, errlen, "key file %s: %s", path,
		         bad ? "read error" : "larger than 64 KiB");
		free(buf);
		return bad ? ERR_IO : ERR_TOOBIG;
	}
	buf[n] = '\0'; /* PEM text is used as a C string too */
	*out = buf;
	*outlen = n;
	return 0;
}

/* Parses the PEM into key->pk, which must be a public key of the type
 * alg needs (RSA of at least 2048 bits; EC on P-256). */
static int load_pem(bearer_key *key, const char *path, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(key->bytes, (int)key->len);
	if (!bio) {
		snprintf(err, errlen, "key file %s: out of memory", path);
		return ERR_TLS;
	}
	EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pk) {
		snprintf(err, errlen, "key file %s: not a PEM public key", path);
		return ERR_CONFIG;
	}
	int rc = 0;
	if (key->kalg == ALG_RS256) {
		if (!EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_bits(pk) < 2048) {
			snprintf(err, errlen, "key file %s: RS256 needs an RSA key of 2048+ bits",
			         path);
			rc = ERR_CONFIG;
		}
	} else {
		char group[32] = "";
		size_t glen;
		if (!EVP_PKEY_is_a(pk, "EC") ||
		    !EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof group, &glen) ||
		    strcmp(group, "prime256v1") != 0) {
			snprintf(err, errlen, "key file %s: ES256 needs an EC P-256 key", path);
			rc = ERR_CONFIG;
		}
	}
	if (rc)
		EVP_PKEY_free(pk);
	else
		key->pk = pk;
	return rc;
}

/* Parses one kid:ALG:path entry (n bytes at s) into key. */
static int load_key(const char *s, size_t n, bearer_key *key, char *err, size_t errlen)
{
	const char *c1 = memchr(s, ':', n);
	const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(s + n - c1 - 1)) : NULL;
	if (!c2 || c2 + 1 == s + n) {
		snprintf(err, errlen, "identity.jwt_keys: entry %.*s is not kid:ALG:path", (int)n,
		         s);
		return ERR_CONFIG;
	}
	size_t kl = (size_t)(c1 - s), al = (size_t)(c2 - c1 - 1);
	if (!kid_valid(s, kl)) {
		snprintf(err, errlen,
		         "identity.jwt_keys: key id %.*s must be 1-64 of "
		         "[A-Za-z0-9._-]",
		         (int)kl, s);
		return ERR_CONFIG;
	}
	memcpy(key->kid, s, kl);
	key->kid[kl] = '\0';
	static const struct {
		const char *name;
		key_alg alg;
	} algs[] = {{"HS256", ALG_HS256}, {"RS256", ALG_RS256}, {"ES256", ALG_ES256}};
	key->kalg = ALG_NONE;
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
		if (al == strlen(algs[i].name) && memcmp(c1 + 1, algs[i].name, al) == 0) {
			key->kalg = algs[i].alg;
			memcpy(key->alg, algs[i].name, al + 1);
		}
	if (key->kalg == ALG_NONE) {
		snprintf(err, errlen,
		         "identity.jwt_keys: key %s: unknown algorithm %.*s "
		         "(HS256, RS256, ES256)",
		         key->kid, (int)al, c1 + 1);
		return ERR_CONFIG;
	}
	size_t pl = (size_t)(s + n - c2 - 1);
	char *path = xmalloc(pl + 1);
	memcpy(path, c2 + 1, pl);
	path[pl] = '\0';
	int rc = read_file(path, &key->bytes, &key->len, err, errlen);
	if (rc == 0 && key->kalg == ALG_HS256 && key->len < BEARER_HS_MIN) {
		snprintf(err, errlen, "key file %s: an HS256 secret needs at least %d bytes", path,
		         BEARER_HS_MIN);
		rc = ERR_CONFIG;
	}
	if (rc == 0 && key->kalg != ALG_HS256)
		rc = load_pem(key, path, err, errlen);
	free(path);
	return rc;
}

bearer_keys *bearer_keys_new(const char *spec, const char *issuer, const char *audience,
                             int64_t leeway_s, char *err, size_t errlen)
{
	bearer_keys *k = xcalloc(1, sizeof *k);
	k->verified = tokcache_new(BEARER_CACHE_ENTRIES);
	k->leeway_s = leeway_s;
	k->issuer = issuer && issuer[0] ? xstrdup(issuer) : NULL;
	k->audience = audience && audience[0] ? xstrdup(audience) : NULL;
	const char *p = spec ? spec : "";
	while (*p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, ",");
		size_t t = n;
		while (t > 0 && p[t - 1] == ' ')
			t--;
		if (t > 0) {
			k->keys = xrealloc(k->keys, (k->n + 1) * sizeof *k->keys);
			bearer_key *key = &k->keys[k->n];
			memset(key, 0, sizeof *key);
			int rc = load_key(p, t, key, err, errlen);
			if (rc) {
				free(key->bytes);
				EVP_PKEY_free(key->pk);
				goto fail;
			}
			k->n++;
			for (size_t i = 0; i + 1 < k->n; i++)
				if (strcmp(k->keys[i].kid, key->kid) == 0) {
					snprintf(err, errlen,
					         "identity.jwt_keys: key id %s appears twice",
					         key->kid);
					goto fail;
				}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (k->n == 0) {
		snprintf(err, errlen, "identity.jwt_keys: no keys");
		goto fail;
	}
	return k;
fail:
	bearer_keys_free(k);
	return NULL;
}

void bearer_keys_free(bearer_keys *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++) {
		/* Secrets do not outlive the key set in freed memory. */
		OPENSSL_cleanse(k->keys[i].bytes, k->keys[i].len);
		free(k->keys[i].bytes);
		EVP_PKEY_free(k->keys[i].pk);
	}
	free(k->keys);
	tokcache_free(k->verified);
	free(k->issuer);
	free(k->audience);
	free(k);
}

size_t bearer_keys_count(const bearer_keys *k)
{
	return k->n;
}

/* --- the ring ------------------------------------------------------------------ */

static void keys_unref(bearer_keys *k)
{
	if (k && atomic_fetch_sub(&k->refs, 1) == 1)
		bearer_keys_free(k);
}

bearer_ring *bearer_ring_new(const char *spec, const char *issuer, const char *audience,
                             int64_t leeway_s, char *err, size_t errlen)
{
	bearer_keys *k = bearer_keys_new(spec, issuer, audience, leeway_s, err, errlen);
	if (!k)
		return NULL;
	atomic_store(&k->refs, 1);
	bearer_ring *r = xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	r->cur = k;
	r->spec = xstrdup(spec);
	r->issuer = xstrdup(issuer ? issuer : "");
	r->audience = xstrdup(audience ? audience : "");
	r->leeway_s = leeway_s;
	return r;
}

int bearer_ring_reload(bearer_ring *r, char *err, size_t errlen)
{
	bearer_keys *k = bearer_keys_new(r->spec, r->issuer, r->audience, r->leeway_s, err, errlen);
	if (!k)
		return ERR_CONFIG;
	atomic_store(&k->refs, 1);
	tsa_lock(&r->mu);
	bearer_keys *old = r->cur;
	r->cur = k;
	tsa_unlock(&r->mu);
	keys_unref(old); /* freed here, or by the last verification using it */
	return 0;
}

size_t bearer_ring_count(bearer_ring *r)
{
	tsa_lock(&r->mu);
	size_t n = r->cur->n;
	tsa_unlock(&r->mu);
	return n;
}

int bearer_ring_verify(bearer_ring *r, const char *token, size_t len, int64_t now_s, principal *who,
                       const char **reason)
{
	tsa_lock(&r->mu);
	bearer_keys *k = r->cur;
	atomic_fetch_add(&k->refs, 1);
	tsa_unlock(&r->mu);
	int rc = bearer_verify(k, token, len, now_s, who, reason);
	keys_unref(k);
	return rc;
}

void bearer_ring_free(bearer_ring *r)
{
	if (!r)
		return;
	keys_unref(r->cur);
	pthread_mutex_destroy(&r->mu);
	free(r->spec);
	free(r->issuer);
	free(r->audience);
	free(r);
}

/* --- verification -------------------------------------------------------------- */

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Unpadded base64url (RFC 7515 2) of n bytes into out (room for n*3/4).
 * The decoded length, or -1 when the text is not base64url. */
static long b64url_decode(const char *s, size_t n, unsigned char *out)
{
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
		acc &= (1u << bits) - 1;
	}
	if (acc != 0)
		return -1; /* leftover bits must be zero: one text per value */
	return (long)o;
}

/* Decodes a segment that must hold a JSON object. NULL if it does not. */
static json_t *segment_json(const char *s, size_t n)
{
	unsigned char buf[BEARER_TOKEN_MAX];
	long len = b64url_decode(s, n, buf);
	if (len <= 0)
		return NULL;
	json_t *j = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* EVP_DigestVerify with SHA-256: RSASSA-PKCS1-v1_5 for an RSA key, ECDSA
 * (sig in DER) for an EC one. */
static bool digest_verify(EVP_PKEY *pk, const unsigned char *sig, size_t siglen, const char *data,
                          size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
	          EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* A JWS ES256 signature is R and S, 32 bytes each (RFC 7518 3.4); OpenSSL
 * wants the DER ECDSA-Sig-Value. Its length in der (room for
 * ES256_DER_MAX), or -1. */
#define ES256_DER_MAX 80
static int es256_der(const unsigned char sig[64], unsigned char *der)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	int n = i2d_ECDSA_SIG(es, NULL);
	if (n > 0 && n <= ES256_DER_MAX) {
		unsigned char *p = der;
		n = i2d_ECDSA_SIG(es, &p);
	} else {
		n = -1;
	}
	ECDSA_SIG_free(es);
	return n;
}

/* The largest signature accepted: RSA with a 4096-bit modulus. */
#define SIG_MAX 512

/* Does the base64url signature sig64 (n bytes) sign data (the token's
 * "header.claims") under key? The algorithm is the key's: the header's
 * alg was checked against it. */
static bool signature_ok(const bearer_key *key, const char *data, size_t len, const char *sig64,
                         size_t n)
{
	unsigned char sig[SIG_MAX + 3];
	if (n > (SIG_MAX * 4 + 2) / 3)
		return false;
	long sl = b64url_decode(sig64, n, sig);
	if (sl <= 0)
		return false;
	switch (key->kalg) {
	case ALG_HS256: {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int ml = 0;
		if (sl != 32 ||
		    !HMAC(EVP_sha256(), key->bytes, (int)key->len, (const unsigned char *)data, len,
		          mac, &ml) ||
		    ml != 32)
			return false;
		return CRYPTO_memcmp(mac, sig, 32) == 0;
	}
	case ALG_RS256: return digest_verify(key->pk, sig, (size_t)sl, data, len);
	case ALG_ES256: {
		unsigned char der[ES256_DER_MAX];
		int dl = sl == 64 ? es256_der(sig, der) : -1;
		return dl > 0 && digest_verify(key->pk, der, (size_t)dl, data, len);
	}
	case ALG_NONE: break;
	}
	return false;
}

static const bearer_key *select_key(const bearer_keys *k, json_t *hdr, const char **reason)
{
	json_t *alg = json_object_get(hdr, "alg");
	json_t *kid = json_object_get(hdr, "kid");
	if (!json_is_string(alg)) {
		*reason = "token header has no alg";
		return NULL;
	}
	const char *a = json_string_value(alg);
	if (strcmp(a, "HS256") != 0 && strcmp(a, "RS256") != 0 && strcmp(a, "ES256") != 0) {
		*reason = "token algorithm is not accepted";
		return NULL;
	}
	if (json_object_get(hdr, "crit")) {
		*reason = "token header has crit extensions";
		return NULL;
	}
	const bearer_key *key = NULL;
	if (kid) {
		if (!json_is_string(kid)) {
			*reason = "token kid is not a string";
			return NULL;
		}
		for (size_t i = 0; i < k->n && !key; i++)
			if (strcmp(k->keys[i].kid, json_string_value(kid)) == 0)
				key = &k->keys[i];
		if (!key) {
			*reason = "unknown key id";
			return NULL;
		}
	} else if (k->n == 1) {
		key = &k->keys[0];
	} else {
		*reason = "token has no key id";
		return NULL;
	}
	if (strcmp(a, key->alg) != 0) {
		*reason = "token algorithm does not match its key";
		return NULL;
	}
	return key;
}

/* A NumericDate claim: absent (0, *present false), a number (0), or not
 * (-1). */
static int numeric_date(json_t *claims, const char *name, bool *present, double *v)
{
	json_t *j = json_object_get(claims, name);
	*present = j != NULL;
	if (!j)
		return 0;
	if (!json_is_number(j))
		return -1;
	*v = json_number_value(j);
	return isfinite(*v) ? 0 : -1;
}

static bool audience_ok(const char *want, json_t *aud)
{
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return false;
	size_t i;
	json_t *v;
	json_array_foreach(aud, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return true;
	}
	return false;
}

/* The optional home claim into who->home: absent is "", anything but a
 * region name refuses the token; and home_since, the wall ms the user's
 * home became it (a move): absent is 0, anything but an integer from 1
 * to 2^53, or one without home, refuses the token. */
static int home_claim(json_t *c, principal *who, const char **reason)
{
	json_t *h = json_object_get(c, "home"), *since = json_object_get(c, "home_since");
	who->home[0] = 0;
	who->home_since = 0;
	if (since && (!h || !json_is_integer(since) || json_integer_value(since) < 1 ||
	              json_integer_value(since) > (json_int_t)1 << 53)) {
		*reason =
		    h ? "token home_since is not a time in ms" : "token home_since without home";
		return ERR_INVAL;
	}
	if (!h)
		return 0;
	size_t n = json_is_string(h) ? json_string_length(h) : 0;
	if (!n || !item_edge_valid(json_string_value(h), n)) {
		*reason = "token home is not a region name";
		return ERR_INVAL;
	}
	memcpy(who->home, json_string_value(h), n);
	who->home[n] = 0;
	who->home_since = since ? (uint64_t)json_integer_value(since) : 0;
	return 0;
}

static int check_claims(const bearer_keys *k, json_t *c, int64_t now_s, principal *who,
                        const char **reason)
{
	bool has;
	double exp, nbf;
	if (numeric_date(c, "exp", &has, &exp) || !has) {
		*reason = has ? "token exp is not a number" : "token has no exp";
		return ERR_INVAL;
	}
	double now = (double)now_s, leeway = (double)k->leeway_s;
	if (now >= exp + leeway) {
		*reason = "token expired";
		return ERR_INVAL;
	}
	if (numeric_date(c, "nbf", &has, &nbf)) {
		*reason = "token nbf is not a number";
		return ERR_INVAL;
	}
	if (has && now + leeway < nbf) {
		*reason = "token not yet valid";
		return ERR_INVAL;
	}
	if (k->issuer) {
		json_t *iss = json_object_get(c, "iss");
		if (!json_is_string(iss) || strcmp(json_string_value(iss), k->issuer) != 0) {
			*reason = "wrong issuer";
			return ERR_INVAL;
		}
	}
	if (k->audience && !audience_ok(k->audience, json_object_get(c, "aud"))) {
		*reason = "wrong audience";
		return ERR_INVAL;
	}
	json_t *sub = json_object_get(c, "sub");
	if (!json_is_string(sub)) {
		*reason = "token has no sub";
		return ERR_INVAL;
	}
	size_t n = json_string_length(sub);
	if (!item_user_valid(json_string_value(sub), n)) {
		*reason = "token sub is not a valid user id";
		return ERR_INVAL;
	}
	memcpy(who->user, json_string_value(sub), n);
	who->user[n] = '\0';
	return home_claim(c, who, reason);
}

int bearer_verify(const bearer_keys *k, const char *token, size_t len, int64_t now_s,
                  principal *who, const char **reason)
{
	if (len == 0) {
		*reason = "empty bearer token";
		return ERR_INVAL;
	}
	if (len > BEARER_TOKEN_MAX) {
		*reason = "token too long";
		return ERR_INVAL;
	}
	const char *d1 = memchr(token, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(token + len - d1 - 1)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', (size_t)(token + len - d2 - 1))) {
		*reason = "token is not three segments";
		return ERR_INVAL;
	}
	json_t *hdr = segment_json(token, (size_t)(d1 - token));
	if (!hdr) {
		*reason = "token header is not base64url JSON";
		return ERR_INVAL;
	}
	const bearer_key *key = select_key(k, hdr, reason);
	json_decref(hdr);
	if (!key)
		return ERR_INVAL;

	/* The same token again: its signature was checked by this set. */
	unsigned char dg[TOKCACHE_DIGEST];
	tokcache_digest(token, len, dg);
	if (!tokcache_has(k->verified, dg)) {
		if (!signature_ok(key, token, (size_t)(d2 - token), d2 + 1,
		                  (size_t)(token + len - d2 - 1))) {
			*reason = "bad signature";
			return ERR_INVAL;
		}
		tokcache_put(k->verified, dg);
	}
	int rc;
	json_t *claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (!claims) {
		*reason = "token claims are not base64url JSON";
		return ERR_INVAL;
	}
	rc = check_claims(k, claims, now_s, who, reason);
	json_decref(claims);
	return rc;
}
