/*
 * base64.c — see base64.h. libcrypto does the work; this file only maps the url alphabet
 * onto the standard one (and back) and deals with optional padding, which EVP_DecodeBlock
 * does not (it wants whole 4-character groups and counts padding as zero bytes).
 */
#include "common/base64.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

char *cg_base64_encode(const void *data, size_t n, cg_b64_alphabet a)
{
    if (n > (size_t)(1 << 30)) return NULL;
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out) return NULL;
    int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    if (a == CG_B64_URL) {
        while (len > 0 && out[len - 1] == '=') len--;
        out[len] = '\0';
        for (int i = 0; i < len; i++) out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    return out;
}

static int in_alphabet(char c, cg_b64_alphabet a)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
    return a == CG_B64_URL ? (c == '-' || c == '_') : (c == '+' || c == '/');
}

unsigned char *cg_base64_decode(const char *s, size_t n, cg_b64_alphabet a, size_t *outlen)
{
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1 || n > (size_t)(1 << 30)) return NULL;
    size_t groups = (n + 3) / 4, missing = groups * 4 - n;
    if (pad && pad != missing) return NULL; /* padding that does not fit the length */
    char *in = malloc(groups * 4 + 1);
    unsigned char *out = malloc(groups * 3 + 1);
    if (!in || !out) goto bad;
    for (size_t i = 0; i < n; i++) {
        if (!in_alphabet(s[i], a)) goto bad;
        in[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    }
    memset(in + n, '=', missing);
    int len = EVP_DecodeBlock(out, (unsigned char *)in, (int)(groups * 4));
    if (len < 0) goto bad;
    free(in);
    *outlen = (size_t)len - missing;
    out[*outlen] = '\0';
    return out;
bad:
    free(in);
    free(out);
    return NULL;
}
