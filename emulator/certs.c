#include "emulator/certs.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static EVP_PKEY *new_key(void) { return EVP_EC_gen("P-256"); }

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return -1;
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok == 1 ? 0 : -1;
}

/* A certificate for key, signed by (issuer, issuer_key); self-signed when issuer is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long serial)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"glive-emulator", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : x;
    int bad = 0;
    if (!issuer) {
        bad |= add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
        bad |= add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        bad |= add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE");
        bad |= add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        bad |= add_ext(x, iss, NID_ext_key_usage, "serverAuth");
        bad |= add_ext(x, iss, NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost");
    }
    bad |= add_ext(x, iss, NID_subject_key_identifier, "hash");
    if (bad || !X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256())) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_pem(const char *dir, const char *file, X509 *cert, EVP_PKEY *key, gl_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    mode_t old = umask(077);
    FILE *f = fopen(path, "w");
    umask(old);
    if (!f)
        return gl_fail(err, "io", "cannot write %s: %s", path, strerror(errno));
    int ok = cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || !ok)
        return gl_fail(err, "io", "cannot write %s", path);
    return 0;
}

static int exists(const char *dir, const char *file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return access(path, R_OK) == 0;
}

int emu_certs_ensure(const char *dir, gl_err *err)
{
    if (exists(dir, "ca.pem") && exists(dir, "ca-key.pem") && exists(dir, "server.pem") &&
        exists(dir, "server-key.pem"))
        return 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return gl_fail(err, "io", "cannot create %s: %s", dir, strerror(errno));
    EVP_PKEY *ca_key = new_key(), *srv_key = new_key();
    X509 *ca = ca_key ? make_cert(ca_key, "glive-emulator CA", NULL, NULL, 1) : NULL;
    X509 *srv = (ca && srv_key) ? make_cert(srv_key, "127.0.0.1", ca, ca_key, 2) : NULL;
    int rc = -1;
    if (!srv)
        gl_fail(err, "tls", "cannot create emulator certificates");
    else if (write_pem(dir, "ca-key.pem", NULL, ca_key, err) == 0 &&
             write_pem(dir, "server-key.pem", NULL, srv_key, err) == 0 &&
             write_pem(dir, "server.pem", srv, NULL, err) == 0 &&
             write_pem(dir, "ca.pem", ca, NULL, err) == 0)
        rc = 0;
    X509_free(srv);
    X509_free(ca);
    EVP_PKEY_free(srv_key);
    EVP_PKEY_free(ca_key);
    return rc;
}
