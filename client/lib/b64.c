#include "client/lib/b64.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

int gl_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen, gl_err *err)
{
    *out = NULL;
    *outlen = 0;
    while (len && (in[len - 1] == ' ' || in[len - 1] == '\n' || in[len - 1] == '\r' ||
                   in[len - 1] == '\t'))
        len--;
    size_t pad = 0; /* '=' present at the end */
    while (pad < len && pad < 2 && in[len - 1 - pad] == '=')
        pad++;
    size_t body = len - pad;
    if (body % 4 == 1)
        return gl_fail(err, "bad_base64", "invalid base64 length %zu", len);
    size_t missing = (4 - body % 4) % 4;     /* padding to add for EVP_DecodeBlock */
    size_t full = body + missing;            /* padded length, a multiple of 4 */
    if (full > (size_t)INT_MAX - 4)
        return gl_fail(err, "bad_base64", "base64 input too large");
    char *tmp = NULL;
    const char *src = in;
    if (missing || pad) {
        tmp = gl_xmalloc(full + 1);
        memcpy(tmp, in, body);
        memset(tmp + body, '=', missing);
        src = tmp;
    }
    unsigned char *buf = gl_xmalloc(full / 4 * 3 + 1);
    int n = full ? EVP_DecodeBlock(buf, (const unsigned char *)src, (int)full) : 0;
    free(tmp);
    if (n < 0 || (size_t)n != full / 4 * 3) {
        free(buf);
        return gl_fail(err, "bad_base64", "invalid base64 data");
    }
    *out = buf;
    *outlen = (size_t)n - missing; /* EVP_DecodeBlock counts padding as zero bytes */
    return 0;
}

size_t gl_b64_decoded_len(const char *in, size_t len)
{
    while (len && (in[len - 1] == '=' || in[len - 1] == '\n' || in[len - 1] == '\r' ||
                   in[len - 1] == ' ' || in[len - 1] == '\t'))
        len--;
    return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

char *gl_b64_encode(const void *data, size_t len)
{
    char *out = gl_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}
