/* The fast path (proto/fastpath.h) against the reference, live_parse_server: on every message of
 * tests/unit/fast_corpus.h and on random mutations of them, whenever the fast path accepts a
 * message, the slow path must accept it too and give the same events, and each string must come
 * out as the bytes json_dumps writes for the string the slow path decoded (what an event line
 * holds), and decode to the very bytes the slow path holds. The event lines themselves are
 * compared in tests/unit/test_session.c. */
#include <jansson.h>
#include <stdint.h>

#include "proto/fastpath.h"
#include "proto/line.h"
#include "proto/live.h"
#include "tests/unit/fast_corpus.h"
#include "tests/unit/testlib.h"

/* ---- one message through both paths ---------------------------------------------------- */

typedef struct outcome {
    char s[1 << 18]; /* the events, one per line, as the comparison sees them */
    size_t len;
    bool overflow;
} outcome;

static void out_put(outcome *o, const char *p, size_t n)
{
    if (o->len + n >= sizeof o->s) {
        o->overflow = true;
        return;
    }
    memcpy(o->s + o->len, p, n);
    o->len += n;
    o->s[o->len] = '\0';
}

static void out_str(outcome *o, const char *s) { out_put(o, s, strlen(s)); }

/* A string as the event line writes it: json_dumps of what gl_json_textn makes of it. */
static void out_json_string(outcome *o, const char *p, size_t n)
{
    json_t *j = gl_json_textn(p, n);
    char *d = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    out_str(o, d);
    free(d);
    json_decref(j);
}

/* ...and its bytes, hex (they may hold NULs) */
static void out_hex(outcome *o, const char *p, size_t n)
{
    char h[3];
    out_str(o, " bytes=");
    for (size_t i = 0; i < n; i++) {
        snprintf(h, sizeof h, "%02x", (unsigned char)p[i]);
        out_put(o, h, 2);
    }
}

static void out_head(outcome *o, live_event_kind k, bool thought, bool finished, bool interim)
{
    char b[96];
    snprintf(b, sizeof b, "%s thought=%d finished=%d interim=%d ", live_event_kind_name(k), thought,
             finished, interim);
    out_str(o, b);
}

static int slow_event(const live_event *ev, void *ud)
{
    outcome *o = ud;
    switch (ev->kind) {
    case LIVE_EV_TEXT:
    case LIVE_EV_INPUT_TRANSCRIPTION:
    case LIVE_EV_OUTPUT_TRANSCRIPTION:
        out_head(o, ev->kind, ev->thought, ev->finished, ev->interim);
        out_str(o, "mime=\"\" str=");
        out_json_string(o, ev->text, ev->text_len);
        out_hex(o, ev->text, ev->text_len);
        break;
    case LIVE_EV_AUDIO:
        out_head(o, ev->kind, false, false, false);
        out_str(o, "mime=");
        /* on_live_event packs the mime with "s": a C string */
        out_json_string(o, ev->mime ? ev->mime : "", ev->mime ? strlen(ev->mime) : 0);
        out_str(o, " str=");
        out_json_string(o, ev->data, ev->data_len);
        out_hex(o, ev->data, ev->data_len);
        break;
    default:
        out_str(o, "OTHER ");
        out_str(o, live_event_kind_name(ev->kind));
        break;
    }
    out_str(o, "\n");
    return 0;
}

static void fast_string(outcome *o, const gl_jstr *s, bool bytes)
{
    char *put = malloc(s->len + 3), *dec = malloc(s->len + 1);
    put[0] = '"';
    size_t n = gl_jstr_put(s, put + 1);
    put[n + 1] = '"';
    out_put(o, put, n + 2);
    size_t d = gl_jstr_decode(s, dec, SIZE_MAX);
    if (bytes)
        out_hex(o, dec, d);
    free(put);
    free(dec);
}

static void fast_events(outcome *o, const live_fast_event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const live_fast_event *e = &evs[i];
        out_head(o, e->kind, e->thought, e->finished, e->interim);
        out_str(o, "mime=");
        fast_string(o, &e->mime, false);
        out_str(o, " str=");
        fast_string(o, &e->str, true);
        out_str(o, "\n");
    }
}

typedef struct stats {
    unsigned long messages, fast, slow_ok;
    unsigned long mismatches;
    char first_bad[600];
} stats;

static outcome SLOW, FAST;

/* Runs msg through both paths; false (and stats->first_bad) on a disagreement. */
static bool compare_one(const char *msg, size_t len, stats *st)
{
    st->messages++;
    SLOW.len = 0;
    SLOW.s[0] = '\0';
    SLOW.overflow = false;
    FAST.len = 0;
    FAST.s[0] = '\0';
    FAST.overflow = false;
    gl_err e;
    int rc = live_parse_server(msg, len, slow_event, &SLOW, &e);
    st->slow_ok += rc == 0;
    live_fast_event evs[LIVE_FAST_MAX];
    size_t n = 0;
    if (!live_fast_parse(msg, len, evs, &n))
        return true; /* refusing is always allowed */
    st->fast++;
    fast_events(&FAST, evs, n);
    bool same = rc == 0 && !SLOW.overflow && !FAST.overflow && SLOW.len == FAST.len &&
                memcmp(SLOW.s, FAST.s, SLOW.len) == 0;
    if (!same) {
        if (!st->mismatches++)
            snprintf(st->first_bad, sizeof st->first_bad, "%.*s\n  slow (rc %d): %.200s\n  fast: %.200s",
                     (int)(len < 200 ? len : 200), msg, rc, SLOW.s, FAST.s);
        return false;
    }
    return true;
}

static void corpus_cb(const char *msg, size_t len, void *ud) { compare_one(msg, len, ud); }

/* ---- tests ---------------------------------------------------------------------------- */

static bool fast_accepts(const char *msg)
{
    live_fast_event evs[LIVE_FAST_MAX];
    size_t n;
    return live_fast_parse(msg, strlen(msg), evs, &n);
}

TEST(hot_shapes_take_the_fast_path)
{
    /* what a streamed answer is made of: these must not fall back */
    CHECK(fast_accepts("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"0000042 bench text, \"}]}}}"));
    CHECK(fast_accepts("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{\"mimeType\":"
                       "\"audio/pcm;rate=24000\",\"data\":\"AAABAAIA\"}}]}}}"));
    CHECK(fast_accepts("{\n  \"serverContent\": {\n    \"modelTurn\": {\n      \"parts\": [\n        {\n"
                       "          \"text\": \"Hello\"\n        }\n      ]\n    }\n  }\n}\n"));
    CHECK(fast_accepts("{\"server_content\":{\"model_turn\":{\"parts\":[{\"inline_data\":"
                       "{\"mime_type\":\"audio/pcm;rate=24000\",\"data\":\"AAEC\"}}]}}}"));
    CHECK(fast_accepts("{\"serverContent\":{\"modelTurn\":{\"role\":\"model\",\"parts\":[{\"text\":\"a\\n\\u00e9\\ud83d\\ude00\"},"
                       "{\"text\":\"hmm\",\"thought\":true}]}}}"));
    CHECK(fast_accepts("{\"serverContent\":{\"outputTranscription\":{\"text\":\"hi\"}}}"));
    CHECK(fast_accepts("{\"serverContent\":{\"interimInputTranscription\":{\"text\":\"turn on\"}}}"));
    CHECK(fast_accepts("{\"serverContent\":{\"inputTranscription\":{\"text\":\"a\",\"finished\":true}}}"));
    /* and these are the slow path's */
    CHECK(!fast_accepts("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]},\"turnComplete\":true}}"));
    CHECK(!fast_accepts("{\"serverContent\":{\"turnComplete\":true}}"));
    CHECK(!fast_accepts("{\"toolCall\":{\"functionCalls\":[]}}"));
    CHECK(!fast_accepts("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"\\ud800\"}]}}}"));
    CHECK(!fast_accepts("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]}} x"));
}

TEST(strings_come_out_as_jansson_writes_them)
{
    struct { const char *in, *out; } cases[] = {
        {"plain", "plain"},
        {"a\\nb\\t\\\"q\\\"\\\\", "a\\nb\\t\\\"q\\\"\\\\"},
        {"\\/", "/"},
        {"\\u0041\\u00e9\\u00E9", "A\xc3\xa9\xc3\xa9"},
        {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
        {"\\u001f\\u001F\\u0000", "\\u001F\\u001F\\u0000"},
        {"\\u0008\\u0009\\u000a\\u000C\\u000d", "\\b\\t\\n\\f\\r"},
        {"\\u007f\\u2028", "\x7f\xe2\x80\xa8"},
        {"\\u0022\\u005c", "\\\"\\\\"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        char *m = fast_fill("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"@\"}]}}}", cases[i].in, &len);
        live_fast_event evs[LIVE_FAST_MAX];
        size_t n;
        CHECK(live_fast_parse(m, len, evs, &n));
        CHECK_INT(n, 1);
        char out[256];
        size_t k = gl_jstr_put(&evs[0].str, out);
        out[k] = '\0';
        CHECK_STR(out, cases[i].out);
        CHECK(k <= evs[0].str.len);
        free(m);
    }
}

TEST(decode_stops_at_max)
{
    gl_jstr s = {"ab\\u00e9cd\\ud83d\\ude00e", 23, GL_JSTR_ESC | GL_JSTR_REWRITE};
    char out[32];
    CHECK_INT(gl_jstr_decode(&s, out, SIZE_MAX), 11);
    CHECK(memcmp(out, "ab\xc3\xa9" "cd\xf0\x9f\x98\x80" "e", 11) == 0);
    CHECK_INT(gl_jstr_decode(&s, out, 2), 2);
    CHECK_INT(gl_jstr_decode(&s, out, 3), 4); /* é is written whole */
    CHECK_INT(gl_jstr_decode(&s, out, 5), 5);
    CHECK_INT(gl_jstr_decode(&s, out, 7), 10); /* so is the 4-byte character */
    CHECK_INT(gl_jstr_decode(&s, out, 10), 10);
}

TEST(corpus_both_paths_agree)
{
    stats st = {0};
    fast_corpus_each(corpus_cb, &st);
    if (st.mismatches)
        GL_FAILF("%lu of %lu messages differ; first: %s", st.mismatches, st.messages, st.first_bad);
    /* the corpus exercises both sides */
    CHECK(st.fast > 300);
    CHECK(st.messages - st.fast > 300);
    printf("  corpus: %lu messages, %lu on the fast path, %lu accepted by the slow path\n",
           st.messages, st.fast, st.slow_ok);
}

/* ---- randomized: mutations of the corpus ------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

typedef struct pool {
    char **m;
    size_t *len, n, cap;
} pool;

static void pool_add(const char *msg, size_t len, void *ud)
{
    pool *p = ud;
    if (len > 4096)
        return; /* the long ones make mutations slow and teach nothing more */
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->m = realloc(p->m, p->cap * sizeof *p->m);
        p->len = realloc(p->len, p->cap * sizeof *p->len);
    }
    p->m[p->n] = malloc(len + 1);
    memcpy(p->m[p->n], msg, len);
    p->len[p->n++] = len;
}

/* Pieces of string content, good and bad. */
static const char *const pieces[] = {
    "a", "Z", " ", "\\n", "\\\"", "\\\\", "\\/", "\\u", "\\u00", "\\u0000", "\\u001f", "\\u001F", "\\u0041",
    "\\uD83D", "\\uDE00", "\\ud83d", "\\ude00", "\\uFFFF", "\\u2028", "\xc3", "\xa9", "\xe2\x82\xac",
    "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xff", "\x01", "\x7f", "\\b", "\\x", "=", "+", "<",
};

/* Inserts a piece of string content at the start of a random string value ("...":"HERE). */
static size_t mutate_string(char *buf, size_t len, size_t cap)
{
    size_t at[64], n = 0;
    for (size_t i = 0; i + 2 < len && n < 64; i++)
        if (buf[i] == ':' && buf[i + 1] == '"')
            at[n++] = i + 2;
    if (!n)
        return len;
    size_t pos = at[rnd() % n];
    const char *pc = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
    size_t pl = strlen(pc);
    if (len + pl >= cap)
        return len;
    memmove(buf + pos + pl, buf + pos, len - pos);
    memcpy(buf + pos, pc, pl);
    return len + pl;
}

/* Bytes that matter to a JSON scanner, more often than random ones. */
static char interesting(void)
{
    static const char set[] = "{}[]\":,\\ \t\n\rtfnrulbeaTFxXu0123456789abcdefABCDEF/-+.eE";
    static const unsigned char hi[] = {0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xc3, 0xa9, 0xe0,
                                       0xed, 0xa0, 0xef, 0xf0, 0xf4, 0x90, 0xf5, 0xff};
    uint64_t r = rnd();
    if (r % 4 == 0)
        return (char)hi[(r >> 8) % sizeof hi];
    if (r % 4 == 1)
        return (char)(r >> 16);
    return set[(r >> 8) % (sizeof set - 1)];
}

static size_t mutate(char *buf, size_t len, size_t cap, int k)
{
    for (int i = 0; i < k; i++) {
        uint64_t r = rnd();
        size_t at = len ? (size_t)(rnd() % (len + 1)) : 0;
        switch (r % 6) {
        case 0: /* replace */
        case 1:
            if (at < len)
                buf[at] = interesting();
            break;
        case 2: /* insert */
            if (len + 1 < cap) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = interesting();
                len++;
            }
            break;
        case 3: /* delete */
            if (at < len) {
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
            }
            break;
        case 4: { /* duplicate a slice */
            size_t from = len ? (size_t)(rnd() % len) : 0, n = (size_t)(rnd() % 24);
            if (from + n > len)
                n = len - from;
            if (len + n < cap) {
                memmove(buf + at + n, buf + at, len - at);
                memmove(buf + at, buf + (from >= at ? from + n : from), n);
                len += n;
            }
            break;
        }
        default: /* truncate */
            len = at;
            break;
        }
    }
    return len;
}

TEST(random_mutations_agree)
{
    pool p = {0}, hot = {0};
    fast_corpus_each(pool_add, &p);
    for (size_t i = 0; i < p.n; i++) { /* the seeds the fast path takes, mutated most */
        live_fast_event evs[LIVE_FAST_MAX];
        size_t n;
        if (live_fast_parse(p.m[i], p.len[i], evs, &n))
            pool_add(p.m[i], p.len[i], &hot);
    }
    stats st = {0};
    char buf[8192];
    const unsigned long rounds = 300000;
    for (unsigned long i = 0; i < rounds; i++) {
        pool *from = i % 3 ? &hot : &p;
        size_t j = (size_t)(rnd() % from->n);
        memcpy(buf, from->m[j], from->len[j]);
        size_t len = from->len[j];
        if (i % 3 == 0)
            len = mutate(buf, len, sizeof buf, 1 + (int)(rnd() % 4));
        else if (i % 3 == 1)
            len = mutate(buf, len, sizeof buf, 1);
        else
            for (int k = 1 + (int)(rnd() % 3); k > 0; k--)
                len = mutate_string(buf, len, sizeof buf);
        compare_one(buf, len, &st);
    }
    pool *pools[] = {&p, &hot};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < pools[k]->n; i++)
            free(pools[k]->m[i]);
        free(pools[k]->m);
        free(pools[k]->len);
    }
    if (st.mismatches)
        GL_FAILF("%lu of %lu mutated messages differ; first: %s", st.mismatches, st.messages, st.first_bad);
    printf("  mutations: %lu messages, %lu on the fast path, %lu accepted by the slow path\n",
           st.messages, st.fast, st.slow_ok);
    CHECK(st.fast > rounds / 10);
}

/* Random strings of random bytes (escapes, UTF-8, garbage) in the hot templates. */
TEST(random_strings_agree)
{
    stats st = {0};
    char s[256];
    for (unsigned long i = 0; i < 100000; i++) {
        size_t n = 0, k = rnd() % 12;
        for (size_t j = 0; j < k; j++) {
            const char *pc = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
            size_t pl = strlen(pc);
            memcpy(s + n, pc, pl);
            n += pl;
        }
        s[n] = '\0';
        size_t len;
        char *m = fast_fill(FAST_TEMPLATES[rnd() % 13], s, &len);
        compare_one(m, len, &st);
        free(m);
    }
    if (st.mismatches)
        GL_FAILF("%lu of %lu messages differ; first: %s", st.mismatches, st.messages, st.first_bad);
    CHECK(st.fast > 10000);
}

/* ---- flat objects (client/lib's event lines) -------------------------------------------- */

static bool all_base64(const gl_jstr *s)
{
    for (size_t i = 0; i < s->len; i++) {
        char c = s->p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return false;
    }
    return true;
}

/* Compares gl_fast_flat with Jansson (JSON_ALLOW_NUL, so NUL strings compare too) on line. With
 * raw_key, a raw value counts only when all its bytes are base64's (what libglive checks). */
static bool flat_agrees(const char *line, size_t len, bool *accepted, const char *raw_key)
{
    gl_fast_field f[16];
    int n = gl_fast_flat(line, len, f, 16, raw_key);
    *accepted = n >= 0;
    for (int i = 0; i < n; i++)
        if (f[i].type == GL_FAST_STR && (f[i].str.flags & GL_JSTR_RAW) && !all_base64(&f[i].str))
            *accepted = false; /* the caller would refuse it */
    if (!*accepted)
        return true;
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_ALLOW_NUL, &je);
    bool ok = json_is_object(o) && json_object_size(o) == (size_t)n;
    for (int i = 0; ok && i < n; i++) {
        char key[256];
        if (f[i].key_len >= sizeof key)
            return false;
        memcpy(key, f[i].key, f[i].key_len);
        key[f[i].key_len] = '\0';
        json_t *v = json_object_get(o, key);
        if (f[i].type == GL_FAST_STR) {
            char *d = malloc(f[i].str.len + 4);
            size_t dl = gl_jstr_decode(&f[i].str, d, SIZE_MAX);
            ok = json_is_string(v) && json_string_length(v) == dl && memcmp(json_string_value(v), d, dl) == 0 &&
                 (memchr(d, 0, dl) != NULL) == ((f[i].str.flags & GL_JSTR_NUL) != 0);
            free(d);
        } else if (f[i].type == GL_FAST_INT)
            ok = json_is_integer(v) && json_integer_value(v) == f[i].num;
        else
            ok = json_is_boolean(v) && json_is_true(v) == f[i].b;
    }
    json_decref(o);
    return ok;
}

TEST(flat_lines)
{
    static const char *const lines[] = {
        "{\"event\":\"text\",\"session\":\"s\",\"text\":\"hi\",\"turn\":3}",
        "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"audio/pcm;rate=24000\",\"data\":\"AAAA\",\"turn\":12}",
        "{\"event\":\"transcript\",\"session\":\"s\",\"source\":\"output\",\"text\":\"a\\u0000\\n\",\"finished\":false}",
        "{\"a\":-0,\"b\":true,\"c\":false,\"d\":123456789012345678}",
        " { \"a\" : 1 , \"b\" : \"x\" } ",
        "{}",
    };
    static const char *const refused[] = {
        "{\"a\":1,\"a\":2}", "{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":01}", "{\"a\":null}", "{\"a\":{}}",
        "{\"a\":[]}", "{\"a\":1234567890123456789}", "{\"a\":1,}", "{\"a\":1} x", "[1]", "{\"a\\u0062\":1}",
        "{\"a\":\"\\ud800\"}", "{\"a\":-}", "{\"a\":tru}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        bool acc;
        CHECK(flat_agrees(lines[i], strlen(lines[i]), &acc, NULL));
        CHECK(acc);
        CHECK(flat_agrees(lines[i], strlen(lines[i]), &acc, "data"));
        CHECK(acc);
    }
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        gl_fast_field f[16];
        if (gl_fast_flat(refused[i], strlen(refused[i]), f, 16, NULL) >= 0)
            GL_FAILF("accepted %s", refused[i]);
    }
    gl_fast_field f[2];
    CHECK_INT(gl_fast_flat("{\"a\":1,\"b\":2,\"c\":3}", 19, f, 2, NULL), -1); /* more than max */
    /* mutations */
    char buf[512];
    unsigned long accepted = 0;
    for (unsigned long r = 0; r < 200000; r++) {
        const char *l = lines[rnd() % 4];
        size_t len = strlen(l);
        memcpy(buf, l, len);
        len = mutate(buf, len, sizeof buf, 1 + (int)(rnd() % 3));
        bool acc;
        if (!flat_agrees(buf, len, &acc, r % 2 ? "data" : NULL))
            GL_FAILF("disagree on %.*s", (int)len, buf);
        accepted += acc;
    }
    CHECK(accepted > 5000);
}

/* The scanner looks 16 bytes at a time, and 32 at a time with AVX2 once 128 are left: every
 * piece that must stop it (an escape, a raw quote, control or DEL byte, UTF-8 good and bad) at
 * every offset of a long plain run, in the strings of the hot shapes and of a flat line, both
 * paths agreeing. */
TEST(specials_at_every_offset)
{
    enum { RUN = 300 };
    static const char *const specials[] = {
        "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\u0000", "\\ud83d\\ude00", "\\ud83d", "\\x", "\"",
        "\x01", "\x1f", "\x7f", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xff",
        "\xed\xa0\x80", "\xc0\xaf",
    };
    stats st = {0};
    unsigned long flat_ok = 0;
    char s[400], line[600];
    for (size_t k = 0; k < sizeof specials / sizeof *specials; k++)
        for (size_t at = 0; at <= RUN; at++) {
            size_t sl = strlen(specials[k]);
            memset(s, 'Q', RUN);
            memcpy(s + at, specials[k], sl);
            s[RUN + sl] = '\0';
            memset(s + at + sl, 'Q', RUN - at);
            for (size_t t = 0; t < 4; t++) {
                size_t len;
                char *m = fast_fill(FAST_TEMPLATES[t == 3 ? 6 : t], s, &len);
                compare_one(m, len, &st);
                free(m);
            }
            int n = snprintf(line, sizeof line, "{\"event\":\"text\",\"text\":\"%s\",\"turn\":1}", s);
            bool acc;
            if (!flat_agrees(line, (size_t)n, &acc, NULL))
                GL_FAILF("flat line disagrees: special %zu at %zu", k, at);
            flat_ok += acc;
        }
    if (st.mismatches)
        GL_FAILF("%lu of %lu messages differ; first: %s", st.mismatches, st.messages, st.first_bad);
    CHECK(st.fast > 1000);
    CHECK(flat_ok > 500);
}
