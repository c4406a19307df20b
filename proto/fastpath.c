/* The fast path's scanner (see fastpath.h). Its one rule: accept only what it understands
 * completely, and then agree with Jansson and live_parse_server to the byte. Every doubt is a
 * refusal, which costs nothing but the time of the slow path. */
#include "proto/fastpath.h"

#include <stdint.h>
#include <string.h>

#include "common/utf8.h"

/* ---- strings ----------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller) -> 0..0xffff, or -1; *lower is set
 * when a digit is a lowercase letter (Jansson writes uppercase). */
static long hex4(const char *p, bool *lower)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        if (p[i] >= 'a')
            *lower = true;
        v = v * 16 + h;
    }
    return v;
}

/* The first byte from p on that a string scan must look at by itself: a quote, a backslash, a
 * control character or a non-ASCII byte. Looks 16 bytes at a time while 16 are left and
 * returns the first of those bytes, or where fewer than 16 are left (the caller then goes byte
 * by byte). As signed bytes, both the control characters and the non-ASCII ones are < 0x20.
 * On x86-64 with SSE2 (always there) the 16 verdicts become a bit mask (one pmovmskb), and
 * with AVX2 (where the CPU has it) long runs go 32 bytes a step: an audio chunk's 1,280
 * characters of base64 cost ~500 instructions; elsewhere GCC's vector extension (NEON on arm64,
 * plain words otherwise) tests 16 bytes for any. */
#if defined(__SSE2__)
#include <immintrin.h>
/* Long runs (an audio chunk's base64) 32 bytes a step where the CPU has AVX2: half the steps. */
__attribute__((target("avx2"), noinline)) static const char *skip_plain_avx2(const char *p,
                                                                          const char *end)
{
    const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\'),
                  space = _mm256_set1_epi8(0x20);
    while (end - p >= 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)p);
        __m256i m = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, bslash)),
            _mm256_cmpgt_epi8(space, v));
        unsigned bits = (unsigned)_mm256_movemask_epi8(m);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 32;
    }
    return p;
}

static inline const char *skip_plain(const char *p, const char *end)
{
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmplt_epi8(v, space));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 16;
        /* past the first 16 bytes (where keys and short strings end, without a call) */
        if (end - p >= 128 && __builtin_cpu_supports("avx2"))
            p = skip_plain_avx2(p, end); /* then at the byte found, or < 32 left */
    }
    return p;
}
#else
typedef signed char v16 __attribute__((vector_size(16)));
static inline const char *skip_plain(const char *p, const char *end)
{
    while (end - p >= 16) {
        v16 v;
        memcpy(&v, p, sizeof v);
        v16 m = (v == '"') | (v == '\\') | (v < 0x20);
        uint64_t w[2];
        memcpy(w, &m, sizeof w);
        if (w[0] | w[1])
            return p; /* one of these 16: the caller looks at them one by one */
        p += 16;
    }
    return p;
}
#endif

/* Decodes the escape at p (p[0] == '\\', p < end) -> the code point, *next after it; -1 if it is
 * not a valid escape. *canon: Jansson writes this escape exactly as it stands. */
static long escape_at(const char *p, const char *end, const char **next, bool *canon)
{
    if (end - p < 2)
        return -1;
    *canon = true;
    *next = p + 2;
    switch (p[1]) {
    case '"': return '"';
    case '\\': return '\\';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case '/': *canon = false; return '/';
    case 'u': break;
    default: return -1;
    }
    if (end - p < 6)
        return -1;
    bool lower = false;
    long cp = hex4(p + 2, &lower);
    if (cp < 0)
        return -1;
    *next = p + 6;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return -1; /* a lone low surrogate */
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
            return -1;
        long lo = hex4(p + 8, &lower);
        if (lo < 0xdc00 || lo > 0xdfff)
            return -1;
        *next = p + 12;
        *canon = false; /* written as the raw 4-byte character */
        return 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    /* Jansson writes \uXXXX (uppercase) only for control characters without a short escape. */
    *canon = cp < 0x20 && cp != '\b' && cp != '\f' && cp != '\n' && cp != '\r' && cp != '\t' &&
             !lower;
    return cp;
}

/* Scans the string whose opening quote is at p. Returns the byte after its closing quote, or
 * NULL if it is not a valid JSON string (or not one Jansson would read: raw control
 * characters, invalid UTF-8, bad escapes, lone surrogates). */
static const char *scan_string(const char *p, const char *end, gl_jstr *out)
{
    const char *s = ++p;
    unsigned flags = 0;
    for (;;) {
        p = skip_plain(p, end);
        if (p >= end)
            return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c == '\\') {
            bool canon;
            const char *next;
            long cp = escape_at(p, end, &next, &canon);
            if (cp < 0)
                return NULL;
            p = next;
            flags |= GL_JSTR_ESC | (canon ? 0 : GL_JSTR_REWRITE) | (cp == 0 ? GL_JSTR_NUL : 0);
        } else if (c < 0x20) {
            return NULL;
        } else if (c >= 0x80) {
            size_t k = gl_utf8_len((const unsigned char *)p, (size_t)(end - p));
            if (!k)
                return NULL;
            p += k;
        } else {
            p++;
        }
    }
    out->p = s;
    out->len = (size_t)(p - s);
    out->flags = flags;
    return p + 1;
}

const char *gl_jstr_scan(const char *p, const char *end, gl_jstr *out)
{
    return p < end && *p == '"' ? scan_string(p, end, out) : NULL;
}

static size_t put_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A code point as Jansson's dump_string writes it (no flags): \" \\, the short escapes, \u00XX
 * for the other control characters, everything else as its UTF-8 bytes. */
static size_t put_json_cp(uint32_t cp, char *o)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *short_esc = NULL;
    switch (cp) {
    case '"': short_esc = "\\\""; break;
    case '\\': short_esc = "\\\\"; break;
    case '\b': short_esc = "\\b"; break;
    case '\f': short_esc = "\\f"; break;
    case '\n': short_esc = "\\n"; break;
    case '\r': short_esc = "\\r"; break;
    case '\t': short_esc = "\\t"; break;
    default: break;
    }
    if (short_esc) {
        memcpy(o, short_esc, 2);
        return 2;
    }
    if (cp < 0x20) {
        memcpy(o, "\\u00", 4);
        o[4] = hex[cp >> 4];
        o[5] = hex[cp & 15];
        return 6;
    }
    return put_utf8(cp, o);
}

size_t gl_jstr_put(const gl_jstr *s, char *out)
{
    if (!(s->flags & GL_JSTR_REWRITE)) {
        memcpy(out, s->p, s->len);
        return s->len;
    }
    const char *p = s->p, *end = s->p + s->len;
    char *o = out;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t run = (size_t)((bs ? bs : end) - p);
        memcpy(o, p, run);
        o += run;
        p += run;
        if (!bs)
            break;
        bool canon;
        const char *next;
        long cp = escape_at(p, end, &next, &canon); /* valid: the scan checked it */
        if (canon) {
            memcpy(o, p, (size_t)(next - p));
            o += next - p;
        } else {
            o += put_json_cp((uint32_t)cp, o);
        }
        p = next;
    }
    return (size_t)(o - out);
}

size_t gl_jstr_decode(const gl_jstr *s, char *out, size_t max)
{
    const char *p = s->p, *end = s->p + s->len;
    char *o = out;
    while (p < end && (size_t)(o - out) < max) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t run = (size_t)((bs ? bs : end) - p), room = max - (size_t)(o - out);
        if (run > room)
            run = room;
        memcpy(o, p, run);
        o += run;
        p += run;
        if (!bs || p != bs || (size_t)(o - out) >= max)
            continue; /* the end, or max reached */
        bool canon;
        const char *next;
        long cp = escape_at(p, end, &next, &canon);
        o += put_utf8((uint32_t)cp, o);
        p = next;
    }
    return (size_t)(o - out);
}

/* ---- the scanner ------------------------------------------------------------------------- */

typedef struct scan {
    const char *p, *end;
} scan;

static void ws(scan *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
        sc->p++;
}

/* Consumes c (after whitespace) or fails. */
static bool eat(scan *sc, char c)
{
    ws(sc);
    if (sc->p >= sc->end || *sc->p != c)
        return false;
    sc->p++;
    return true;
}

static bool string_value(scan *sc, gl_jstr *out)
{
    ws(sc);
    if (sc->p >= sc->end || *sc->p != '"')
        return false;
    const char *next = scan_string(sc->p, sc->end, out);
    if (!next)
        return false;
    sc->p = next;
    return true;
}

static bool bool_value(scan *sc, bool *out)
{
    ws(sc);
    size_t left = (size_t)(sc->end - sc->p);
    if (left >= 4 && memcmp(sc->p, "true", 4) == 0) {
        sc->p += 4;
        *out = true;
    } else if (left >= 5 && memcmp(sc->p, "false", 5) == 0) {
        sc->p += 5;
        *out = false;
    } else
        return false;
    /* "truex" is not a literal: what follows must end the value (checked by the caller, which
     * wants ',' or '}' next, so nothing more is needed here) */
    return true;
}

/* Object iteration: obj_open at '{', then obj_key until it returns 0 (the '}' consumed). */
static bool obj_open(scan *sc) { return eat(sc, '{'); }

/* 1: a key (escape-free: a key with escapes is refused), ':' consumed; 0: end of the object;
 * -1: anything else. `first` is true for the first call of an object. */
static int obj_key(scan *sc, bool first, gl_jstr *key)
{
    ws(sc);
    if (sc->p >= sc->end)
        return -1;
    if (*sc->p == '}') {
        sc->p++;
        return 0;
    }
    if (!first) {
        if (*sc->p != ',')
            return -1;
        sc->p++;
    }
    if (!string_value(sc, key) || key->flags || !eat(sc, ':'))
        return -1;
    return 1;
}

static bool key_is(const gl_jstr *k, const char *name)
{
    size_t n = strlen(name);
    return k->len == n && memcmp(k->p, name, n) == 0;
}

/* The key's camelCase or snake_case spelling, as live.c's get() accepts them. */
static bool key_is2(const gl_jstr *k, const char *camel, const char *snake)
{
    return key_is(k, camel) || key_is(k, snake);
}

/* Marks a field seen; false if it was seen already (under either spelling). */
static bool once(unsigned *seen, unsigned bit)
{
    if (*seen & bit)
        return false;
    *seen |= bit;
    return true;
}

static const gl_jstr EMPTY_STR = {"", 0, 0};

/* {"mimeType": S, "data": S}, either spelling, both optional. */
static bool inline_data(scan *sc, live_fast_event *ev)
{
    if (!obj_open(sc))
        return false;
    unsigned seen = 0;
    gl_jstr k;
    int r;
    for (bool first = true; (r = obj_key(sc, first, &k)) == 1; first = false) {
        if (key_is2(&k, "mimeType", "mime_type")) {
            /* jansson's "s" in on_live_event's json_pack would cut a mime at its NUL */
            if (!once(&seen, 1) || !string_value(sc, &ev->mime) || (ev->mime.flags & GL_JSTR_NUL))
                return false;
        } else if (key_is(&k, "data")) {
            if (!once(&seen, 2) || !string_value(sc, &ev->str))
                return false;
        } else
            return false;
    }
    return r == 0;
}

/* A part: {"text": S, "thought": B} or {"inlineData": {...}}. */
static bool part(scan *sc, live_fast_event *ev)
{
    if (!obj_open(sc))
        return false;
    unsigned seen = 0;
    gl_jstr k;
    int r;
    *ev = (live_fast_event){.str = EMPTY_STR, .mime = EMPTY_STR};
    for (bool first = true; (r = obj_key(sc, first, &k)) == 1; first = false) {
        if (key_is(&k, "text")) {
            if (!once(&seen, 1) || !string_value(sc, &ev->str))
                return false;
        } else if (key_is(&k, "thought")) {
            if (!once(&seen, 2) || !bool_value(sc, &ev->thought))
                return false;
        } else if (key_is2(&k, "inlineData", "inline_data")) {
            if (!once(&seen, 4) || !inline_data(sc, ev))
                return false;
        } else
            return false;
    }
    if (r != 0)
        return false;
    if (seen == 1 || seen == 3)
        ev->kind = LIVE_EV_TEXT;
    else if (seen == 4)
        ev->kind = LIVE_EV_AUDIO;
    else
        return false; /* no data, or text and inlineData together: live.c's rules, not ours */
    return true;
}

/* {"parts": [part, ...], "role": S}: the parts' events appended to out. */
static bool model_turn(scan *sc, live_fast_event *out, size_t *n)
{
    if (!obj_open(sc))
        return false;
    unsigned seen = 0;
    gl_jstr k;
    int r;
    for (bool first = true; (r = obj_key(sc, first, &k)) == 1; first = false) {
        if (key_is(&k, "parts")) {
            if (!once(&seen, 1) || !eat(sc, '['))
                return false;
            ws(sc);
            if (sc->p < sc->end && *sc->p == ']') {
                sc->p++;
                continue;
            }
            do {
                if (*n >= LIVE_FAST_MAX - 3) /* room left for the three transcriptions */
                    return false;
                if (!part(sc, &out[*n]))
                    return false;
                ++*n;
            } while (eat(sc, ','));
            if (!eat(sc, ']'))
                return false;
        } else if (key_is(&k, "role")) {
            gl_jstr role;
            if (!once(&seen, 2) || !string_value(sc, &role))
                return false;
        } else
            return false;
    }
    return r == 0;
}

/* {"text": S, "finished": B}, both optional. */
static bool transcription(scan *sc, live_fast_event *ev, live_event_kind kind, bool interim)
{
    *ev = (live_fast_event){.kind = kind, .str = EMPTY_STR, .mime = EMPTY_STR, .interim = interim};
    if (!obj_open(sc))
        return false;
    unsigned seen = 0;
    gl_jstr k;
    int r;
    for (bool first = true; (r = obj_key(sc, first, &k)) == 1; first = false) {
        if (key_is(&k, "text")) {
            if (!once(&seen, 1) || !string_value(sc, &ev->str))
                return false;
        } else if (key_is(&k, "finished")) {
            if (!once(&seen, 2) || !bool_value(sc, &ev->finished))
                return false;
        } else
            return false;
    }
    return r == 0;
}

enum { T_INPUT, T_INTERIM, T_OUTPUT, T_N };

static bool server_content(scan *sc, live_fast_event *out, size_t *n)
{
    if (!obj_open(sc))
        return false;
    unsigned seen = 0;
    live_fast_event tr[T_N];
    gl_jstr k;
    int r;
    for (bool first = true; (r = obj_key(sc, first, &k)) == 1; first = false) {
        bool ok;
        if (key_is2(&k, "modelTurn", "model_turn"))
            ok = once(&seen, 1u << T_N) && model_turn(sc, out, n);
        else if (key_is2(&k, "inputTranscription", "input_transcription"))
            ok = once(&seen, 1u << T_INPUT) &&
                 transcription(sc, &tr[T_INPUT], LIVE_EV_INPUT_TRANSCRIPTION, false);
        else if (key_is2(&k, "interimInputTranscription", "interim_input_transcription"))
            ok = once(&seen, 1u << T_INTERIM) &&
                 transcription(sc, &tr[T_INTERIM], LIVE_EV_INPUT_TRANSCRIPTION, true);
        else if (key_is2(&k, "outputTranscription", "output_transcription"))
            ok = once(&seen, 1u << T_OUTPUT) &&
                 transcription(sc, &tr[T_OUTPUT], LIVE_EV_OUTPUT_TRANSCRIPTION, false);
        else
            ok = false;
        if (!ok)
            return false;
    }
    if (r != 0)
        return false;
    /* live_parse_server's order: the parts, then input, interim input, output transcriptions */
    for (int t = 0; t < T_N; t++)
        if (seen & (1u << t))
            out[(*n)++] = tr[t];
    return true;
}

bool live_fast_parse(const char *data, size_t len, live_fast_event out[LIVE_FAST_MAX], size_t *n)
{
    scan sc = {data, data + len};
    *n = 0;
    if (!obj_open(&sc))
        return false;
    gl_jstr k;
    int r = obj_key(&sc, true, &k);
    if (r != 1 || !key_is2(&k, "serverContent", "server_content") || !server_content(&sc, out, n))
        return false;
    /* only serverContent: anything next to it (usageMetadata...) is the slow path's */
    if (obj_key(&sc, false, &k) != 0)
        return false;
    ws(&sc);
    return sc.p == sc.end;
}

/* ---- flat objects ------------------------------------------------------------------------ */

/* An integer as JSON writes it (-?(0|[1-9][0-9]*)), at most 18 digits so it cannot overflow;
 * a fraction or an exponent is refused. */
static bool int_value(scan *sc, long long *out)
{
    ws(sc);
    const char *p = sc->p;
    bool neg = p < sc->end && *p == '-';
    if (neg)
        p++;
    const char *d = p;
    long long v = 0;
    while (p < sc->end && *p >= '0' && *p <= '9' && p - d < 19)
        v = v * 10 + (*p++ - '0');
    size_t nd = (size_t)(p - d);
    if (nd == 0 || nd > 18 || (nd > 1 && *d == '0'))
        return false;
    if (p < sc->end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return false;
    sc->p = p;
    *out = neg ? -v : v;
    return true;
}

int gl_fast_flat(const char *data, size_t len, gl_fast_field *f, size_t max, const char *raw_key)
{
    scan sc = {data, data + len};
    if (!obj_open(&sc))
        return -1;
    size_t n = 0;
    gl_jstr k;
    int r;
    for (bool first = true; (r = obj_key(&sc, first, &k)) == 1; first = false) {
        if (n == max)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (f[i].key_len == k.len && memcmp(f[i].key, k.p, k.len) == 0)
                return -1; /* Jansson would keep the last one: not our business */
        gl_fast_field *x = &f[n];
        x->key = k.p;
        x->key_len = k.len;
        ws(&sc);
        if (sc.p >= sc.end)
            return -1;
        char c = *sc.p;
        if (c == '"' && raw_key && key_is(&k, raw_key)) {
            x->type = GL_FAST_STR;
            const char *q = memchr(sc.p + 1, '"', (size_t)(sc.end - sc.p - 1));
            if (!q)
                return -1;
            x->str = (gl_jstr){sc.p + 1, (size_t)(q - sc.p - 1), GL_JSTR_RAW};
            sc.p = q + 1;
        } else if (c == '"') {
            x->type = GL_FAST_STR;
            if (!string_value(&sc, &x->str))
                return -1;
        } else if (c == 't' || c == 'f') {
            x->type = GL_FAST_BOOL;
            if (!bool_value(&sc, &x->b))
                return -1;
        } else {
            x->type = GL_FAST_INT;
            if (!int_value(&sc, &x->num))
                return -1;
        }
        n++;
    }
    if (r != 0)
        return -1;
    ws(&sc);
    return sc.p == sc.end ? (int)n : -1;
}
