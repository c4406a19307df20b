/* Programs for the emulator's code execution (see compute.h). */
#include "emulator/compute.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

#define NUM_MAX 1000000000000000000ULL /* 10^18 */

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t)((unsigned __int128)a * b % m);
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t m)
{
    uint64_t r = 1;
    b %= m;
    while (e) {
        if (e & 1)
            r = mulmod(r, b, m);
        b = mulmod(b, b, m);
        e >>= 1;
    }
    return r;
}

/* Deterministic Miller-Rabin: these bases are exact for every 64-bit n. */
bool emu_is_prime(uint64_t n)
{
    static const uint64_t small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    if (n < 2)
        return false;
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        if (n == small[i])
            return true;
        if (n % small[i] == 0)
            return false;
    }
    uint64_t d = n - 1;
    int r = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        r++;
    }
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        uint64_t x = powmod(small[i], d, n);
        if (x == 1 || x == n - 1)
            continue;
        bool composite = true;
        for (int j = 1; j < r && composite; j++) {
            x = mulmod(x, x, n);
            if (x == n - 1)
                composite = false;
        }
        if (composite)
            return false;
    }
    return true;
}

static int ndigits(uint64_t n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

static uint64_t pow10u(int e)
{
    uint64_t p = 1;
    while (e-- > 0)
        p *= 10;
    return p;
}

/* The palindrome with `digits` digits whose first half (ceil(digits/2) digits) is `half`. */
static uint64_t make_palindrome(uint64_t half, int digits)
{
    uint64_t p = half;
    uint64_t rest = (digits & 1) ? half / 10 : half;
    for (int i = 0; i < digits / 2; i++) {
        p = p * 10 + rest % 10;
        rest /= 10;
    }
    return p;
}

/* Walks palindromes downward from just below `below`, testing each for primality. */
bool emu_largest_prime_palindrome(uint64_t below, uint64_t *out)
{
    if (below <= 2)
        return false;
    if (below > NUM_MAX)
        below = NUM_MAX;
    for (int digits = ndigits(below - 1); digits >= 1; digits--) {
        /* Even digit counts: all palindromes are multiples of 11; only 11 itself is prime. */
        if (digits % 2 == 0 && digits != 2)
            continue;
        int hd = (digits + 1) / 2;
        uint64_t hi = pow10u(hd) - 1, lo = hd == 1 ? 0 : pow10u(hd - 1);
        for (uint64_t half = hi + 1; half-- > lo;) {
            uint64_t p = make_palindrome(half, digits);
            if (p >= below)
                continue;
            if (emu_is_prime(p)) {
                *out = p;
                return true;
            }
        }
    }
    return false;
}

static bool kw_before(const char *prompt, const char *at)
{
    static const char *const kws[] = {"under", "below", "than", "up to", "to", "until"};
    const char *e = at;
    while (e > prompt && e[-1] == ' ')
        e--;
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++) {
        size_t n = strlen(kws[i]);
        if ((size_t)(e - prompt) < n || strncasecmp(e - n, kws[i], n) != 0)
            continue;
        if (e - n == prompt || !isalpha((unsigned char)e[-(ptrdiff_t)n - 1]))
            return true;
    }
    return false;
}

static uint64_t parse_num(const char *p)
{
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p) ||
           ((*p == ',' || *p == '_') && isdigit((unsigned char)p[1]));
         p++) {
        if (!isdigit((unsigned char)*p))
            continue;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > NUM_MAX)
            return NUM_MAX;
    }
    return v;
}

uint64_t emu_prompt_number(const char *prompt, uint64_t dflt)
{
    if (!prompt)
        return dflt;
    bool have_first = false;
    uint64_t first = 0;
    for (const char *p = prompt; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > prompt && isalnum((unsigned char)p[-1])))
            continue;
        uint64_t v = parse_num(p);
        if (kw_before(prompt, p))
            return v;
        if (!have_first) {
            first = v;
            have_first = true;
        }
    }
    return have_first ? first : dflt;
}

static char *fmt_u128(unsigned __int128 v)
{
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    char *s = gl_xmalloc(n + 2);
    for (size_t i = 0; i < n; i++)
        s[i] = tmp[n - 1 - i];
    s[n] = '\n';
    s[n + 1] = '\0';
    return s;
}

void emu_compute_run(const emu_compute_in *in, emu_compute_out *out)
{
    memset(out, 0, sizeof *out);
    const char *prog = in->program ? in->program : "";
    if (strcmp(prog, "largest_prime_palindrome") == 0) {
        out->arg = in->has_arg ? in->arg : emu_prompt_number(in->prompt, 100000);
        uint64_t p;
        out->ok = true;
        if (emu_largest_prime_palindrome(out->arg, &p))
            out->output = fmt_u128(p);
        else
            out->output = gl_xstrdup("None\n");
    } else if (strcmp(prog, "sum_to_n") == 0) {
        out->arg = in->has_arg ? in->arg : emu_prompt_number(in->prompt, 100);
        unsigned __int128 n = out->arg;
        out->ok = true;
        out->output = fmt_u128(n * (n + 1) / 2);
    } else if (strcmp(prog, "sleep") == 0) {
        out->ok = true;
        out->delay_ms = in->seconds_ms;
        out->arg = in->seconds_ms / 1000;
        out->output = gl_xstrdup("");
    } else if (prog[0] == '\0') {
        out->ok = true;
        out->output = gl_xstrdup("");
    } else {
        out->ok = false;
        size_t len = strlen(prog) + 96;
        out->output = gl_xmalloc(len);
        snprintf(out->output, len,
                 "Traceback (most recent call last):\nNameError: name '%s' is not defined\n",
                 prog);
    }
}
