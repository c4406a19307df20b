/* Client side: WAV writing, base64, `glivectl ask` arguments and requests, grounding sources,
 * and libglive against a fake gliveD (a Unix socket server thread replaying canned lines). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/glivectl/ask_args.h"
#include "client/glivectl/glivectl.h"
#include "client/glivectl/suggest.h"
#include "client/lib/b64.h"
#include "client/lib/glive.h"
#include "client/lib/wav.h"
#include "tests/unit/testlib.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char tmpdir[64];

/* Removes the temp dir (flat) when the test binary exits. */
__attribute__((destructor)) static void tmp_cleanup(void)
{
    if (!tmpdir[0])
        return;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
}

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/glive-test-client-XXXXXX");
        if (!mkdtemp(tmpdir))
            abort();
    }
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

static char *dumps(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* ---- WAV ----------------------------------------------------------------------------------- */

TEST(wav_header_known_bytes)
{
    uint8_t h[GL_WAV_HEADER_LEN];
    gl_wav_header(h, 24000, 1, 16, 48000); /* one second of 24 kHz s16le mono */
    static const uint8_t want[GL_WAV_HEADER_LEN] = {
        'R', 'I', 'F', 'F', 0xA4, 0xBB, 0x00, 0x00, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
        0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xC0, 0x5D, 0x00, 0x00, 0x80, 0xBB,
        0x00, 0x00, 0x02, 0x00, 0x10, 0x00, 'd', 'a', 't', 'a', 0x80, 0xBB, 0x00, 0x00};
    CHECK(memcmp(h, want, sizeof want) == 0);
    CHECK_INT(rd32(h + 4), 36 + 48000);
    /* Odd data: RIFF size counts the pad byte, the data size does not. */
    gl_wav_header(h, 16000, 2, 16, 3);
    CHECK_INT(rd32(h + 4), 36 + 4);
    CHECK_INT(rd32(h + 40), 3);
    CHECK_INT(rd16(h + 22), 2);
    CHECK_INT(rd32(h + 24), 16000);
    CHECK_INT(rd32(h + 28), 64000);
    CHECK_INT(rd16(h + 32), 4);
}

TEST(wav_mime_rate)
{
    CHECK_INT(gl_wav_mime_rate("audio/pcm;rate=24000", 1), 24000);
    CHECK_INT(gl_wav_mime_rate("audio/pcm; rate=16000", 1), 16000);
    CHECK_INT(gl_wav_mime_rate("audio/pcm;channels=1;rate=44100", 1), 44100);
    CHECK_INT(gl_wav_mime_rate("audio/pcm;RATE=8000", 1), 8000);
    CHECK_INT(gl_wav_mime_rate("audio/pcm", 24000), 24000);
    CHECK_INT(gl_wav_mime_rate("audio/pcm;rate=", 24000), 24000);
    CHECK_INT(gl_wav_mime_rate("audio/pcm;rate=12x", 24000), 24000);
    CHECK_INT(gl_wav_mime_rate("audio/pcm;rate=0", 24000), 24000);
    CHECK_INT(gl_wav_mime_rate(NULL, 24000), 24000);
}

/* Reads a whole file; returns its size or -1. */
static long slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

TEST(wav_writer_patches_sizes)
{
    const char *p = tmp_path("a.wav");
    gl_wav w;
    gl_err err;
    CHECK_INT(gl_wav_open(&w, p, &err), 0);
    uint8_t pcm[1000];
    for (size_t i = 0; i < sizeof pcm; i++)
        pcm[i] = (uint8_t)i;
    CHECK_INT(gl_wav_set_rate(&w, 16000), 0);
    CHECK_INT(gl_wav_set_rate(&w, 16000), 0);
    CHECK_INT(gl_wav_set_rate(&w, 24000), 1); /* first one wins */
    CHECK_INT(gl_wav_write(&w, pcm, 600, &err), 0);
    CHECK_INT(gl_wav_write(&w, pcm + 600, 400, &err), 0);
    CHECK_INT(gl_wav_close(&w, &err), 0);
    CHECK_INT(gl_wav_close(&w, &err), 0); /* idempotent */

    static uint8_t file[4096];
    CHECK_INT(slurp(p, file, sizeof file), 44 + 1000);
    uint8_t want[GL_WAV_HEADER_LEN];
    gl_wav_header(want, 16000, 1, 16, 1000);
    CHECK(memcmp(file, want, sizeof want) == 0);
    CHECK(memcmp(file + 44, pcm, 1000) == 0);

    /* No audio at all: still a valid (empty) WAV at the default rate. */
    CHECK_INT(gl_wav_open(&w, p, &err), 0);
    CHECK_INT(gl_wav_close(&w, &err), 0);
    CHECK_INT(slurp(p, file, sizeof file), 44);
    gl_wav_header(want, GL_WAV_DEFAULT_RATE, 1, 16, 0);
    CHECK(memcmp(file, want, sizeof want) == 0);

    /* An odd byte count gets the RIFF pad byte. */
    CHECK_INT(gl_wav_open(&w, p, &err), 0);
    CHECK_INT(gl_wav_write(&w, pcm, 3, &err), 0);
    CHECK_INT(gl_wav_close(&w, &err), 0);
    CHECK_INT(slurp(p, file, sizeof file), 44 + 4);
    CHECK_INT(rd32(file + 40), 3);
    CHECK_INT(rd32(file + 4), 40);

    CHECK_INT(gl_wav_open(&w, "/nonexistent-dir/x.wav", &err), -1);
    CHECK_STR(err.code, "io");
    CHECK_CONTAINS(err.msg, "cannot create /nonexistent-dir/x.wav: No such file or directory");
    CHECK_INT(gl_wav_close(&w, &err), 0);
    unlink(p);
}

/* ---- base64 -------------------------------------------------------------------------------- */

static int b64(const char *in, char *out, size_t *n)
{
    unsigned char *buf;
    gl_err err;
    if (gl_b64_decode(in, strlen(in), &buf, n, &err) < 0) {
        snprintf(out, 64, "!%s", err.code);
        return -1;
    }
    memcpy(out, buf, *n);
    out[*n] = '\0';
    free(buf);
    return 0;
}

TEST(b64_padding)
{
    char out[64];
    size_t n;
    CHECK_INT(b64("QQ==", out, &n), 0); CHECK_INT(n, 1); CHECK_STR(out, "A");
    CHECK_INT(b64("QUI=", out, &n), 0); CHECK_INT(n, 2); CHECK_STR(out, "AB");
    CHECK_INT(b64("QUJD", out, &n), 0); CHECK_INT(n, 3); CHECK_STR(out, "ABC");
    CHECK_INT(b64("QUJDRA==", out, &n), 0); CHECK_INT(n, 4); CHECK_STR(out, "ABCD");
    /* Unpadded input and trailing whitespace are accepted. */
    CHECK_INT(b64("QQ", out, &n), 0); CHECK_INT(n, 1); CHECK_STR(out, "A");
    CHECK_INT(b64("QUI", out, &n), 0); CHECK_INT(n, 2); CHECK_STR(out, "AB");
    CHECK_INT(b64("QUJD\n", out, &n), 0); CHECK_INT(n, 3);
    CHECK_INT(b64("", out, &n), 0); CHECK_INT(n, 0);
    /* Invalid. */
    CHECK_INT(b64("Q", out, &n), -1); CHECK_STR(out, "!bad_base64");
    CHECK_INT(b64("QUJ@", out, &n), -1); CHECK_STR(out, "!bad_base64");
    CHECK_INT(b64("QU JD", out, &n), -1);
    /* Bytes that decode to zeros at the end are not mistaken for padding. */
    CHECK_INT(b64("AAAA", out, &n), 0); CHECK_INT(n, 3);
    CHECK_INT(b64("AA==", out, &n), 0); CHECK_INT(n, 1);
}

/* The decoder before gliveD had its own: EVP_DecodeBlock with the padding evened out. The
 * table decoder must give the same bytes and the same verdict on any input. */
static int b64_evp(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    while (len && (in[len - 1] == ' ' || in[len - 1] == '\n' || in[len - 1] == '\r' || in[len - 1] == '\t'))
        len--;
    size_t pad = 0;
    while (pad < len && pad < 2 && in[len - 1 - pad] == '=')
        pad++;
    size_t body = len - pad;
    if (body % 4 == 1)
        return -1;
    size_t missing = (4 - body % 4) % 4, full = body + missing;
    char tmp[600];
    memcpy(tmp, in, body);
    memset(tmp + body, '=', missing);
    unsigned char buf[600];
    int n = full ? EVP_DecodeBlock(buf, (const unsigned char *)tmp, (int)full) : 0;
    if (n < 0 || (size_t)n != full / 4 * 3)
        return -1;
    *outlen = (size_t)n - missing;
    memcpy(out, buf, *outlen);
    return 0;
}

TEST(b64_decoder_is_evp_decodeblock)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                                   "======  \n\r\t-_.@\x80\xff";
    uint64_t x = 88172645463325252ull;
    char in[400];
    unsigned char a[400], b[400];
    unsigned long ok = 0;
    for (int r = 0; r < 200000; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = (size_t)(x % 24);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* mostly base64, sometimes anything else */
            in[i] = alphabet[x % 16 ? x % 64 : x % (sizeof alphabet - 1)];
        }
        size_t na = 0, nb = 0;
        gl_err err;
        int ra = b64_evp(in, len, a, &na), rb = gl_b64_decode_into(in, len, b, &nb, &err);
        if (ra != rb || (ra == 0 && (na != nb || memcmp(a, b, na) != 0)))
            GL_FAILF("input %d \"%.*s\": evp %d/%zu, ours %d/%zu", r, (int)len, in, ra, na, rb, nb);
        ok += ra == 0;
    }
    CHECK(ok > 20000);
}

/* The AVX2 bulk (where the CPU has it) against the table alone and EVP_DecodeBlock: long inputs,
 * all of the alphabet or with one odd character ('=', whitespace, a quote, a backslash, a
 * control or non-ASCII byte, '-' '_') anywhere, the padding and trailing whitespace varied. */
TEST(b64_simd_is_the_table)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char odd[] = "= \n\r\t\"\\-_.@\x01\x7f\x80\xff:[`{";
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char in[400];
    unsigned char a[400], b[400], c[400];
    unsigned long ok = 0;
    for (int r = 0; r < 100000; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = (size_t)(x % 300);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            in[i] = abc[x % 64];
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (len && x % 3 == 0) /* one odd character somewhere */
            in[(x >> 8) % len] = odd[(x >> 32) % (sizeof odd - 1)];
        else if (len > 2 && x % 3 == 1) /* padding, or trailing whitespace */
            in[len - 1] = x & 64 ? '=' : '\n', in[len - 2] = x & 128 ? '=' : in[len - 2];
        size_t na = 0, nb = 0, nc = 0;
        gl_err err;
        bool was = gl_b64_use_simd(false);
        int ra = gl_b64_decode_into(in, len, a, &na, &err);
        gl_b64_use_simd(true);
        int rb = gl_b64_decode_into(in, len, b, &nb, &err);
        gl_b64_use_simd(was);
        int rc = b64_evp(in, len, c, &nc);
        if (ra != rb || ra != rc || (ra == 0 && (na != nb || memcmp(a, b, na) != 0)) ||
            (ra == 0 && (na != nc || memcmp(a, c, na) != 0)))
            GL_FAILF("input %d (%zu chars): table %d/%zu, simd %d/%zu, evp %d/%zu", r, len, ra, na,
                     rb, nb, rc, nc);
        ok += ra == 0;
    }
    CHECK(ok > 50000);
    /* every byte value at every place of a 32-character block, and one past it */
    for (int pos = 0; pos < 36; pos++)
        for (int v = 0; v < 256; v++) {
            memset(in, 'Q', 64);
            in[pos] = (char)v;
            size_t na = 0, nb = 0;
            gl_err err;
            gl_b64_use_simd(false);
            int ra = gl_b64_decode_into(in, 64, a, &na, &err);
            gl_b64_use_simd(true);
            int rb = gl_b64_decode_into(in, 64, b, &nb, &err);
            if (ra != rb || (ra == 0 && (na != nb || memcmp(a, b, na) != 0)))
                GL_FAILF("byte %d at %d: table %d/%zu, simd %d/%zu", v, pos, ra, na, rb, nb);
        }
}

TEST(b64_round_trip_all_lengths)
{
    unsigned char raw[64], enc[128];
    for (int len = 0; len <= 48; len++) {
        for (int i = 0; i < len; i++)
            raw[i] = (unsigned char)(i * 37 + len);
        int e = EVP_EncodeBlock(enc, raw, len);
        unsigned char *dec;
        size_t n;
        gl_err err;
        CHECK_INT(gl_b64_decode((char *)enc, (size_t)e, &dec, &n, &err), 0);
        CHECK_INT(n, len);
        CHECK(memcmp(dec, raw, n) == 0);
        CHECK_INT(gl_b64_decoded_len((char *)enc, (size_t)e), len);
        free(dec);
        /* Without its padding too. */
        while (e && enc[e - 1] == '=')
            e--;
        CHECK_INT(gl_b64_decode((char *)enc, (size_t)e, &dec, &n, &err), 0);
        CHECK_INT(n, len);
        CHECK(memcmp(dec, raw, n) == 0);
        CHECK_INT(gl_b64_decoded_len((char *)enc, (size_t)e), len);
        free(dec);
    }
}

/* ---- ask arguments ------------------------------------------------------------------------- */

static int parse(gl_ask_opts *o, gl_err *err, const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 32; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    return gl_ask_parse(argc, argv, o, err);
}

TEST(ask_parse_defaults_and_flags)
{
    gl_ask_opts o;
    gl_err err;
    CHECK_INT(parse(&o, &err, "Hello?", NULL), 0);
    CHECK_STR(o.prompt, "Hello?");
    CHECK_STR(o.session, "default");
    CHECK_STR(gl_ask_modality(&o), "TEXT");
    CHECK(!o.model && !o.wav && !o.audio && !o.json && !o.nfunctions);
    gl_ask_opts_free(&o);

    CHECK_INT(parse(&o, &err, "--session", "lights", "--wav", "out.wav", "--function",
                    "turn_on_the_lights", "--function=turn_off_the_lights", "--code-execution",
                    "--google-search", "--model=gemini-x", "--system", "Be brief", "--json",
                    "--tool-reply", "{\"a\":1}", "Turn on the lights", "--tools", "t.json", NULL),
              0);
    CHECK_STR(o.session, "lights");
    CHECK_STR(o.wav, "out.wav");
    CHECK_STR(gl_ask_modality(&o), "AUDIO");
    CHECK_INT(o.nfunctions, 2);
    CHECK_STR(o.functions[0], "turn_on_the_lights");
    CHECK_STR(o.functions[1], "turn_off_the_lights");
    CHECK(o.code_execution && o.google_search && o.json);
    CHECK_STR(o.model, "gemini-x");
    CHECK_STR(o.system, "Be brief");
    CHECK_STR(o.tool_reply, "{\"a\":1}");
    CHECK_STR(o.tools_file, "t.json");
    CHECK_STR(o.prompt, "Turn on the lights");
    gl_ask_opts_free(&o);

    CHECK_INT(parse(&o, &err, "--audio", "--", "-5 degrees?", NULL), 0);
    CHECK_STR(o.prompt, "-5 degrees?");
    CHECK_STR(gl_ask_modality(&o), "AUDIO");
    gl_ask_opts_free(&o);

    CHECK_INT(parse(&o, &err, "--help", NULL), 0);
    CHECK(o.help);
    gl_ask_opts_free(&o);
}

TEST(ask_parse_errors)
{
    gl_ask_opts o;
    gl_err err;
    CHECK_INT(parse(&o, &err, "--json", NULL), -1);
    CHECK_STR(err.code, "usage");
    CHECK_STR(err.msg, "missing PROMPT");
    gl_ask_opts_free(&o);
    CHECK_INT(parse(&o, &err, "Turn", "on", NULL), -1);
    CHECK_STR(err.msg, "more than one PROMPT (\"Turn\", \"on\"): quote the prompt");
    gl_ask_opts_free(&o);
    CHECK_INT(parse(&o, &err, "--frobnicate", "x", NULL), -1);
    CHECK_STR(err.msg, "unknown option \"--frobnicate\" for ask");
    gl_ask_opts_free(&o);
    CHECK_INT(parse(&o, &err, "x", "--session", NULL), -1);
    CHECK_STR(err.msg, "option \"--session\" needs a value");
    gl_ask_opts_free(&o);
    CHECK_INT(parse(&o, &err, "x", "--json=1", NULL), -1);
    CHECK_STR(err.msg, "option \"--json\" takes no value");
    gl_ask_opts_free(&o);
    CHECK_INT(parse(&o, &err, "--session", "my session", "x", NULL), -1);
    CHECK_STR(err.code, "usage");
    CHECK_CONTAINS(err.msg, "invalid character ' ' at position 2 in session name");
    gl_ask_opts_free(&o);
    CHECK_INT(parse(&o, &err, "", NULL), -1);
    CHECK_STR(err.msg, "PROMPT is empty");
    gl_ask_opts_free(&o);
    CHECK_INT(parse(&o, &err, "--function", "", "x", NULL), -1);
    gl_ask_opts_free(&o);
}

TEST(ask_tools_from_flags)
{
    gl_ask_opts o;
    gl_err err;
    CHECK_INT(parse(&o, &err, "x", NULL), 0);
    json_t *t = gl_ask_tools(&o, NULL);
    CHECK(json_is_array(t) && json_array_size(t) == 0);
    json_decref(t);
    gl_ask_opts_free(&o);

    CHECK_INT(parse(&o, &err, "--function", "turn_on_the_lights", "--google-search", "--function",
                    "turn_off_the_lights", "--code-execution", "x", NULL),
              0);
    json_t *extra = json_loads("[{\"function_declarations\":[{\"name\":\"f\",\"parameters\":"
                               "{\"type\":\"OBJECT\"}}]}]", 0, NULL);
    t = gl_ask_tools(&o, extra);
    char *s = dumps(t);
    CHECK_STR(s, "[{\"code_execution\":{}},{\"google_search\":{}},{\"function_declarations\":"
                 "[{\"name\":\"turn_on_the_lights\"},{\"name\":\"turn_off_the_lights\"}]},"
                 "{\"function_declarations\":[{\"name\":\"f\",\"parameters\":{\"type\":\"OBJECT\"}}]}]");
    free(s);
    json_decref(t);
    json_decref(extra);
    gl_ask_opts_free(&o);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

TEST(ask_open_request)
{
    gl_ask_opts o;
    gl_err err;
    CHECK_INT(parse(&o, &err, "Hello?", NULL), 0);
    json_t *r = gl_ask_open_request(&o, &err);
    char *s = dumps(r);
    CHECK_STR(s, "{\"op\":\"open\",\"session\":\"default\",\"modality\":\"TEXT\"}");
    free(s);
    json_decref(r);
    gl_ask_opts_free(&o);

    const char *tf = tmp_path("tools.json");
    write_file(tf, "[{\"google_search\":{}}]\n");
    CHECK_INT(parse(&o, &err, "--session", "s1", "--audio", "--model", "m1", "--system", "Be brief",
                    "--function", "f1", "--tools", tf, "Hi", NULL),
              0);
    r = gl_ask_open_request(&o, &err);
    s = dumps(r);
    CHECK_STR(s, "{\"op\":\"open\",\"session\":\"s1\",\"modality\":\"AUDIO\",\"model\":\"m1\","
                 "\"system_instruction\":\"Be brief\",\"tools\":[{\"function_declarations\":"
                 "[{\"name\":\"f1\"}]},{\"google_search\":{}}]}");
    free(s);
    json_decref(r);
    gl_ask_opts_free(&o);

    /* Bad --tools files. */
    write_file(tf, "{\"google_search\":{}}");
    CHECK_INT(parse(&o, &err, "--tools", tf, "Hi", NULL), 0);
    CHECK(!gl_ask_open_request(&o, &err));
    CHECK_STR(err.code, "usage");
    CHECK_CONTAINS(err.msg, "expected a JSON array of Tool objects");
    write_file(tf, "[1]");
    CHECK(!gl_ask_open_request(&o, &err));
    CHECK_CONTAINS(err.msg, "element 0 is not an object");
    write_file(tf, "[{\"a\":}]");
    CHECK(!gl_ask_open_request(&o, &err));
    CHECK_CONTAINS(err.msg, "invalid JSON at line 1");
    gl_ask_opts_free(&o);
    CHECK_INT(parse(&o, &err, "--tools", "/nonexistent/tools.json", "Hi", NULL), 0);
    CHECK(!gl_ask_open_request(&o, &err));
    CHECK_CONTAINS(err.msg, "--tools /nonexistent/tools.json: ");
    gl_ask_opts_free(&o);
    unlink(tf);
}

TEST(ask_tool_reply)
{
    gl_ask_opts o;
    gl_err err;
    CHECK_INT(parse(&o, &err, "x", NULL), 0);
    json_t *r = gl_ask_tool_reply(&o, &err);
    char *s = dumps(r);
    CHECK_STR(s, "{\"result\":{\"string_value\":\"ok\"}}");
    free(s);
    json_decref(r);
    o.tool_reply = "{\"lights\":\"on\"}";
    r = gl_ask_tool_reply(&o, &err);
    CHECK(json_is_object(r));
    json_decref(r);
    o.tool_reply = "[1]";
    CHECK(!gl_ask_tool_reply(&o, &err));
    CHECK_STR(err.code, "usage");
    CHECK_CONTAINS(err.msg, "must be a JSON object");
    o.tool_reply = "{";
    CHECK(!gl_ask_tool_reply(&o, &err));
    CHECK_CONTAINS(err.msg, "invalid JSON");
    gl_ask_opts_free(&o);
}

TEST(grounding_sources)
{
    json_t *acc = json_array();
    json_t *m1 = json_loads(
        "{\"groundingChunks\":[{\"web\":{\"uri\":\"https://a.example/1\",\"title\":\"usgs.gov\"}},"
        "{\"web\":{\"uri\":\"https://b.example/2\"}},{\"retrievedContext\":{}}],"
        "\"webSearchQueries\":[\"q\"]}", 0, NULL);
    json_t *m2 = json_loads(
        "{\"grounding_chunks\":[{\"web\":{\"uri\":\"https://a.example/1\",\"title\":\"usgs.gov\"}},"
        "{\"web\":{\"uri\":\"https://c.example/3\",\"title\":\"cnn.com\"}}]}", 0, NULL);
    CHECK_INT(gl_grounding_collect(m1, acc), 2);
    CHECK_INT(gl_grounding_collect(m2, acc), 1); /* a.example is not repeated */
    CHECK_INT(gl_grounding_collect(NULL, acc), 0);
    char *s = gl_grounding_format(acc);
    CHECK_STR(s, "Sources:\n  1. usgs.gov \u2014 https://a.example/1\n  2. https://b.example/2\n"
                 "  3. cnn.com \u2014 https://c.example/3\n");
    free(s);
    json_t *empty = json_array();
    CHECK(gl_grounding_format(empty) == NULL);
    json_decref(empty);
    json_decref(m1);
    json_decref(m2);
    json_decref(acc);
}

TEST(parse_timeout)
{
    int ms;
    gl_err err;
    CHECK_INT(gl_parse_timeout("30", &ms, &err), 0); CHECK_INT(ms, 30000);
    CHECK_INT(gl_parse_timeout("2.5", &ms, &err), 0); CHECK_INT(ms, 2500);
    CHECK_INT(gl_parse_timeout("0", &ms, &err), 0); CHECK_INT(ms, -1);
    CHECK_INT(gl_parse_timeout("-1", &ms, &err), -1);
    CHECK_STR(err.code, "usage");
    CHECK_INT(gl_parse_timeout("abc", &ms, &err), -1);
    CHECK_INT(gl_parse_timeout("", &ms, &err), -1);
    CHECK_INT(gl_parse_timeout("1e99", &ms, &err), -1);
}

TEST(session_parse_chat_open_close)
{
    gl_ask_opts o;
    gl_err err;
    char *chat_ok[] = {"--session", "c", "--audio", "--keep-connected", "-q", "--function", "f", NULL};
    CHECK_INT(gl_session_parse(GL_CMD_CHAT, 7, chat_ok, &o, &err), 0);
    CHECK(o.audio && o.keep_connected && o.quiet && !o.prompt && o.nfunctions == 1);
    json_t *r = gl_ask_open_request(&o, &err);
    char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CHECK_STR(s, "{\"op\":\"open\",\"session\":\"c\",\"modality\":\"AUDIO\",\"keep_connected\":true,"
                 "\"tools\":[{\"function_declarations\":[{\"name\":\"f\"}]}]}");
    free(s);
    json_decref(r);
    gl_ask_opts_free(&o);

    char *chat_prompt[] = {"Hello?", NULL};
    CHECK_INT(gl_session_parse(GL_CMD_CHAT, 1, chat_prompt, &o, &err), -1);
    CHECK_STR(err.msg, "unexpected argument \"Hello?\" (chat reads its prompts from stdin)");
    gl_ask_opts_free(&o);
    char *chat_wav[] = {"--wav", "x.wav", NULL};
    CHECK_INT(gl_session_parse(GL_CMD_CHAT, 2, chat_wav, &o, &err), -1);
    CHECK_STR(err.msg, "unknown option \"--wav\" for chat");
    gl_ask_opts_free(&o);

    char *open_ok[] = {"--session=k", "--system", "Be brief", "--json", NULL};
    CHECK_INT(gl_session_parse(GL_CMD_OPEN, 4, open_ok, &o, &err), 0);
    CHECK_STR(o.session, "k");
    CHECK(o.json && !o.keep_connected);
    gl_ask_opts_free(&o);
    char *open_reply[] = {"--tool-reply", "{}", NULL};
    CHECK_INT(gl_session_parse(GL_CMD_OPEN, 2, open_reply, &o, &err), -1);
    CHECK_STR(err.msg, "unknown option \"--tool-reply\" for open");
    gl_ask_opts_free(&o);

    char *close_ok[] = {"--session", "k", NULL};
    CHECK_INT(gl_session_parse(GL_CMD_CLOSE, 2, close_ok, &o, &err), 0);
    CHECK_STR(o.session, "k");
    gl_ask_opts_free(&o);
    char *close_model[] = {"--model", "m", NULL};
    CHECK_INT(gl_session_parse(GL_CMD_CLOSE, 2, close_model, &o, &err), -1);
    CHECK_STR(err.msg, "unknown option \"--model\" for close");
    gl_ask_opts_free(&o);
    char *close_typo[] = {"--sesion", "k", NULL};
    CHECK_INT(gl_session_parse(GL_CMD_CLOSE, 2, close_typo, &o, &err), -1);
    CHECK_STR(err.msg, "unknown option \"--sesion\" for close (did you mean \"--session\"?)");
    gl_ask_opts_free(&o);
}

TEST(ask_parse_stdin_prompt_and_hints)
{
    gl_ask_opts o;
    gl_err err;
    char *dash[] = {"--session", "s", "-", NULL};
    CHECK_INT(gl_ask_parse(3, dash, &o, &err), 0);
    CHECK(o.prompt_stdin);
    CHECK_STR(o.prompt, "-");
    gl_ask_opts_free(&o);
    char *literal[] = {"--", "-", NULL};
    CHECK_INT(gl_ask_parse(2, literal, &o, &err), 0);
    CHECK(!o.prompt_stdin);
    CHECK_STR(o.prompt, "-");
    gl_ask_opts_free(&o);
    char *typo[] = {"--google-serch", "x", NULL};
    CHECK_INT(gl_ask_parse(2, typo, &o, &err), -1);
    CHECK_STR(err.msg, "unknown option \"--google-serch\" for ask (did you mean \"--google-search\"?)");
    gl_ask_opts_free(&o);
    char *prefix[] = {"--code=1", "x", NULL};
    CHECK_INT(gl_ask_parse(2, prefix, &o, &err), -1);
    CHECK_STR(err.msg, "unknown option \"--code\" for ask (did you mean \"--code-execution\"?)");
    gl_ask_opts_free(&o);
}

TEST(suggest_names)
{
    static const char *const cmds[] = {"ask", "chat", "open", "close", "watch", "sessions", "status",
                                       "tool", "help"};
    size_t n = sizeof cmds / sizeof cmds[0];
#define SUGGEST(w) gl_suggest(w, strlen(w), cmds, n)
    CHECK_STR(SUGGEST("ak"), "ask");
    CHECK_STR(SUGGEST("stauts"), "status");   /* a swap is one edit */
    CHECK_STR(SUGGEST("sesions"), "sessions");
    CHECK_STR(SUGGEST("Chat"), "chat");        /* case does not count... */
    CHECK(SUGGEST("chat") == NULL);            /* ...and a right name is no typo */
    CHECK_STR(SUGGEST("wat"), "watch");        /* the one name it begins */
    CHECK(SUGGEST("s") == NULL);               /* sessions and status: not unique */
    CHECK(SUGGEST("frobnicate") == NULL);
    CHECK(SUGGEST("xyz") == NULL);
#undef SUGGEST
    static const char *const opts[] = {"--json", "--help", NULL, "--session"};
    CHECK_STR(gl_suggest("--jsno", 6, opts, 4), "--json");
    CHECK(gl_suggest("--", 2, opts, 4) == NULL); /* the dashes alone say nothing */
    CHECK_STR(gl_suggest("--sessionx=1", 11, opts, 4), "--session");
    CHECK_INT(gl_edit_distance("kitten", 6, "sitting"), 3);
    CHECK_INT(gl_edit_distance("", 0, "abc"), 3);
    CHECK_INT(gl_edit_distance("ab", 2, "ba"), 1);
}

TEST(human_numbers_are_rounded)
{
    json_t *v = json_real(12.718999999999999);
    char *s = human(v);
    CHECK_STR(s, "12.7");
    free(s);
    json_decref(v);
    static const struct { double v; const char *want; } cases[] = {
        {0.123456, "0.12"}, {1234.6, "1235"}, {3.0, "3"}, {0.001, "0"}, {-2.25, "-2.25"}, {99.96, "100"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v = json_real(cases[i].v);
        s = human(v);
        CHECK_STR(s, cases[i].want);
        free(s);
        json_decref(v);
    }
    v = json_pack("{s:f, s:[f, i], s:s}", "age_s", 0.30000000000000004, "xs", 12.718999999999999, 7,
                  "name", "k");
    s = dump_human(v);
    CHECK_STR(s, "{\"age_s\":0.3,\"xs\":[12.7,7],\"name\":\"k\"}");
    free(s);
    json_decref(v);
}

/* ---- a fake gliveD ------------------------------------------------------------------------- */

/* What the fake server does, in order, on its one connection. */
enum step_kind {
    S_READ,   /* read one request line (kept in got[]); its "id" becomes $ID */
    S_SEND,   /* send text, "$ID" replaced by the last request's id */
    S_SLEEP,  /* sleep n ms */
    S_FLOOD,  /* send text n times */
    S_BIG,    /* send an audio event whose data is n bytes */
    S_CLOSE,  /* close the connection now */
};
typedef struct step {
    enum step_kind kind;
    const char *text;
    long n;
} step;

typedef struct fake {
    char path[108];
    int lfd, fd;
    pthread_t th;
    const step *steps;
    char got[8][256];
    int ngot;
    long long last_id;
    bool failed;
    char *rbuf, *line; /* FAKE_BUF bytes each */
    size_t rlen;
} fake;

#define FAKE_BUF ((size_t)8 << 20)

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one line into f->line (NUL-terminated, no newline); -1 on EOF/error. */
static int read_line(fake *f)
{
    for (;;) {
        char *nl = memchr(f->rbuf, '\n', f->rlen);
        if (nl) {
            size_t n = (size_t)(nl - f->rbuf);
            memcpy(f->line, f->rbuf, n);
            f->line[n] = '\0';
            memmove(f->rbuf, nl + 1, f->rlen - n - 1);
            f->rlen -= n + 1;
            return 0;
        }
        if (f->rlen == FAKE_BUF)
            return -1;
        ssize_t r = read(f->fd, f->rbuf + f->rlen, FAKE_BUF - f->rlen);
        if (r <= 0)
            return -1;
        f->rlen += (size_t)r;
    }
}

static void *fake_main(void *arg)
{
    fake *f = arg;
    f->fd = accept(f->lfd, NULL, NULL);
    if (f->fd < 0) {
        f->failed = true;
        return NULL;
    }
    for (const step *s = f->steps;; s++) {
        switch (s->kind) {
        case S_READ: {
            if (read_line(f) < 0) {
                f->failed = true;
                goto out;
            }
            if (f->ngot < 8)
                snprintf(f->got[f->ngot++], sizeof f->got[0], "%.200s", f->line);
            json_t *j = json_loads(f->line, 0, NULL);
            f->last_id = json_integer_value(json_object_get(j, "id"));
            json_decref(j);
            break;
        }
        case S_SEND: {
            char buf[4096], id[32];
            snprintf(id, sizeof id, "%lld", f->last_id);
            const char *p = s->text, *q;
            size_t n = 0;
            while ((q = strstr(p, "$ID"))) {
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%.*s%s", (int)(q - p), p, id);
                p = q + 3;
            }
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", p);
            if (write_all(f->fd, buf, n) < 0)
                goto out;
            break;
        }
        case S_SLEEP:
            usleep((useconds_t)s->n * 1000);
            break;
        case S_FLOOD: {
            size_t len = strlen(s->text);
            char *buf = malloc(len * 100);
            for (long i = 0; i < s->n; i += 100) {
                long k = s->n - i < 100 ? s->n - i : 100;
                for (long j = 0; j < k; j++)
                    memcpy(buf + j * len, s->text, len);
                if (write_all(f->fd, buf, len * (size_t)k) < 0)
                    break;
            }
            free(buf);
            break;
        }
        case S_BIG: {
            const char *head = "{\"event\":\"audio\",\"session\":\"s\",\"turn\":1,\"mime\":\"audio/pcm\",\"data\":\"";
            size_t hl = strlen(head);
            char *buf = malloc(hl + (size_t)s->n + 4);
            memcpy(buf, head, hl);
            memset(buf + hl, 'A', (size_t)s->n);
            memcpy(buf + hl + s->n, "\"}\n", 3);
            write_all(f->fd, buf, hl + (size_t)s->n + 3);
            free(buf);
            break;
        }
        case S_CLOSE:
            if (s->text) { /* WAIT: keep the connection until the client goes */
                char buf[4096];
                while (read(f->fd, buf, sizeof buf) > 0) {
                }
            }
            goto out;
        }
    }
out:
    close(f->fd);
    return NULL;
}

/* Steps end with {S_CLOSE, NULL} (close after the script) or {S_CLOSE, "wait"} (keep the
 * connection open until the client closes it). */
static int fake_start(fake *f, const step *steps)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", tmp_path("gliveD.sock"));
    unlink(f->path);
    f->steps = steps;
    f->rbuf = malloc(FAKE_BUF);
    f->line = malloc(FAKE_BUF + 1);
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
    if (bind(f->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(f->lfd, 4) < 0)
        return -1;
    return pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(fake *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
    unlink(f->path);
    free(f->rbuf);
    free(f->line);
}

#define WAIT {S_CLOSE, "wait", 0}
#define CLOSE {S_CLOSE, NULL, 0}

/* ---- the library against the fake ---------------------------------------------------------- */

TEST(lib_request_reply_and_queued_events)
{
    static const step steps[] = {
        {S_READ, NULL, 0},
        {S_SEND, "{\"event\":\"state\",\"session\":\"s\",\"state\":\"ready\"}\n", 0},
        {S_SEND, "{\"id\":$ID,\"ok\":true,\"turn\":4,\"queued\":false}\n"
                 "{\"event\":\"text\",\"session\":\"s\",\"turn\":4,\"text\":\"Hello\"}\n", 0},
        {S_SLEEP, NULL, 50},
        {S_SEND, "{\"event\":\"turn_complete\",\"session\":\"s\",\"turn\":4}\n", 0},
        {S_READ, NULL, 0},
        {S_SEND, "{\"id\":$ID,\"ok\":false,\"error\":{\"code\":\"no_session\",\"message\":\"no session \\\"x\\\"\"}}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    CHECK(c != NULL);
    CHECK(glive_fd(c) >= 0);
    CHECK_STR(glive_path(c), f.path);
    json_t *reply = glive_request(c, json_pack("{s:s,s:s,s:s}", "op", "send", "session", "s", "text", "Hi"),
                                  2000, &err);
    CHECK(reply != NULL);
    CHECK_INT(glive_reply_error(reply, &err), 0);
    CHECK_INT(json_integer_value(json_object_get(reply, "turn")), 4);
    json_decref(reply);
    CHECK_STR(f.got[0], "{\"op\":\"send\",\"session\":\"s\",\"text\":\"Hi\",\"id\":1}");
    CHECK(glive_queued(c) >= 1);

    json_t *ev = glive_next_event(c, 2000, &err);
    CHECK_STR(json_string_value(json_object_get(ev, "event")), "state");
    json_decref(ev);
    ev = glive_next_event(c, 2000, &err);
    CHECK_STR(json_string_value(json_object_get(ev, "text")), "Hello");
    json_decref(ev);
    ev = glive_next_event(c, 2000, &err); /* arrives 50 ms later */
    CHECK_STR(json_string_value(json_object_get(ev, "event")), "turn_complete");
    json_decref(ev);

    /* An ok:false reply is returned as is; glive_reply_error converts it. */
    reply = glive_request(c, json_pack("{s:s,s:s}", "op", "close", "session", "x"), 2000, &err);
    CHECK(reply != NULL);
    CHECK_CONTAINS(f.got[1], "\"id\":2");
    CHECK_INT(glive_reply_error(reply, &err), -1);
    CHECK_STR(err.code, "no_session");
    CHECK_STR(err.msg, "no session \"x\"");
    json_decref(reply);
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_reply_error_helper)
{
    gl_err err;
    json_t *r = json_loads("{\"id\":1,\"ok\":true}", 0, NULL);
    CHECK_INT(glive_reply_error(r, &err), 0);
    json_decref(r);
    r = json_loads("{\"id\":1,\"ok\":false}", 0, NULL);
    CHECK_INT(glive_reply_error(r, &err), -1);
    CHECK_STR(err.code, "protocol");
    json_decref(r);
    r = json_loads("{\"id\":1,\"ok\":false,\"error\":{\"code\":\"busy\"}}", 0, NULL);
    CHECK_INT(glive_reply_error(r, &err), -1);
    CHECK_STR(err.code, "busy");
    CHECK_STR(err.msg, "busy");
    json_decref(r);
}

TEST(lib_timeout_then_late_reply_dropped)
{
    static const step steps[] = {
        {S_READ, NULL, 0},
        {S_SLEEP, NULL, 300},
        {S_SEND, "{\"id\":$ID,\"ok\":true,\"late\":true}\n", 0},
        {S_READ, NULL, 0},
        {S_SEND, "{\"id\":$ID,\"ok\":true,\"late\":false}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    CHECK(c != NULL);
    long long t0 = ms_now();
    json_t *r = glive_request(c, json_pack("{s:s}", "op", "status"), 100, &err);
    CHECK(r == NULL);
    CHECK_STR(err.code, "timeout");
    CHECK(ms_now() - t0 >= 90 && ms_now() - t0 < 290);
    r = glive_request(c, json_pack("{s:s}", "op", "status"), 3000, &err);
    CHECK(r != NULL);
    CHECK(json_is_false(json_object_get(r, "late")));
    CHECK_INT(json_integer_value(json_object_get(r, "id")), 2);
    json_decref(r);
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_null_id_error_reply_answers_the_request)
{
    static const step steps[] = {
        {S_READ, NULL, 0},
        {S_SEND, "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"line_too_long\",\"message\":\"too long\"}}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    json_t *r = glive_request(c, json_pack("{s:s}", "op", "list"), 2000, &err);
    CHECK(r != NULL);
    CHECK_INT(glive_reply_error(r, &err), -1);
    CHECK_STR(err.code, "line_too_long");
    json_decref(r);
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_next_event_timeout)
{
    static const step steps[] = {WAIT};
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    long long t0 = ms_now();
    CHECK(glive_next_event(c, 120, &err) == NULL);
    CHECK_STR(err.code, "timeout");
    CHECK(ms_now() - t0 >= 110);
    CHECK(glive_next_event(c, 0, &err) == NULL);
    CHECK_STR(err.code, "timeout");
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_eof)
{
    static const step steps[] = {
        {S_SEND, "{\"event\":\"text\",\"session\":\"s\",\"turn\":1,\"text\":\"a\"}\n"
                 "{\"event\":\"text\",\"session\":\"s\",\"turn\":1,\"text\":\"last, no newline\"}", 0},
        CLOSE,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    json_t *ev = glive_next_event(c, 2000, &err);
    CHECK_STR(json_string_value(json_object_get(ev, "text")), "a");
    json_decref(ev);
    ev = glive_next_event(c, 2000, &err);
    CHECK_STR(json_string_value(json_object_get(ev, "text")), "last, no newline");
    json_decref(ev);
    CHECK(glive_next_event(c, 2000, &err) == NULL);
    CHECK_STR(err.code, "eof");
    CHECK_STR(err.msg, "gliveD closed the connection");
    CHECK(glive_next_event(c, -1, &err) == NULL); /* sticky, never blocks */
    CHECK_STR(err.code, "eof");
    CHECK(glive_request(c, json_pack("{s:s}", "op", "list"), -1, &err) == NULL);
    CHECK_STR(err.code, "eof");
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_eof_while_waiting_for_reply)
{
    static const step steps[] = {
        {S_READ, NULL, 0},
        {S_SEND, "{\"event\":\"state\",\"session\":\"s\",\"state\":\"closed\",\"reason\":\"bye\"}\n", 0},
        CLOSE,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    CHECK(glive_request(c, json_pack("{s:s}", "op", "list"), 2000, &err) == NULL);
    CHECK_STR(err.code, "eof");
    json_t *ev = glive_next_event(c, 0, &err); /* the event before the close is kept */
    CHECK_STR(json_string_value(json_object_get(ev, "reason")), "bye");
    json_decref(ev);
    CHECK(glive_next_event(c, 0, &err) == NULL);
    CHECK_STR(err.code, "eof");
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_reply_then_close)
{
    static const step steps[] = {
        {S_READ, NULL, 0},
        {S_SEND, "{\"id\":$ID,\"ok\":false,\"error\":{\"code\":\"shutting_down\",\"message\":\"bye\"}}\n", 0},
        CLOSE,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    json_t *r = glive_request(c, json_pack("{s:s}", "op", "list"), 2000, &err);
    CHECK(r != NULL);
    CHECK_INT(glive_reply_error(r, &err), -1);
    CHECK_STR(err.code, "shutting_down");
    json_decref(r);
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_connect_errors)
{
    gl_err err;
    CHECK(glive_connect("/nonexistent-glive/gliveD.sock", &err) == NULL);
    CHECK_STR(err.code, "connect");
    CHECK_STR(err.msg, "cannot connect to /nonexistent-glive/gliveD.sock: No such file or directory "
                       "(is gliveD running?)");
    /* The default path comes from the same place as the daemon's. */
    setenv("GLIVE_SOCKET", "/nonexistent-glive/env.sock", 1);
    CHECK(glive_connect(NULL, &err) == NULL);
    unsetenv("GLIVE_SOCKET");
    CHECK_CONTAINS(err.msg, "cannot connect to /nonexistent-glive/env.sock: ");
    /* A socket file nobody listens on. */
    const char *p = tmp_path("dead.sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", p);
    unlink(p);
    CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    CHECK(glive_connect(p, &err) == NULL);
    CHECK_CONTAINS(err.msg, "Connection refused (is gliveD running?)");
    unlink(p);
    char longp[300];
    memset(longp, 'x', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    CHECK(glive_connect(longp, &err) == NULL);
    CHECK_CONTAINS(err.msg, "socket path too long");
}

TEST(lib_queue_overflow)
{
    static const step steps[] = {
        {S_READ, NULL, 0},
        {S_FLOOD, "{\"event\":\"text\",\"session\":\"s\",\"turn\":1,\"text\":\"x\"}\n", GLIVE_EVENT_QUEUE_MAX + 1},
        {S_SEND, "{\"id\":$ID,\"ok\":true}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    CHECK(glive_request(c, json_pack("{s:s}", "op", "list"), 5000, &err) == NULL);
    CHECK_STR(err.code, "overflow");
    CHECK_CONTAINS(err.msg, "event queue overflow");
    CHECK_INT(glive_queued(c), GLIVE_EVENT_QUEUE_MAX);
    int n = 0;
    json_t *ev;
    while ((ev = glive_next_event(c, 0, &err))) {
        n++;
        json_decref(ev);
    }
    CHECK_INT(n, GLIVE_EVENT_QUEUE_MAX);
    CHECK_STR(err.code, "overflow");
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_exactly_queue_max_is_fine)
{
    static const step steps[] = {
        {S_READ, NULL, 0},
        {S_FLOOD, "{\"event\":\"text\",\"session\":\"s\",\"turn\":1,\"text\":\"x\"}\n", GLIVE_EVENT_QUEUE_MAX},
        {S_SEND, "{\"id\":$ID,\"ok\":true}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    json_t *r = glive_request(c, json_pack("{s:s}", "op", "list"), 5000, &err);
    CHECK(r != NULL);
    json_decref(r);
    CHECK_INT(glive_queued(c), GLIVE_EVENT_QUEUE_MAX);
    glive_close(c); /* frees the queued events */
    fake_stop(&f);
}

TEST(lib_big_event_line)
{
    static const step steps[] = {
        {S_BIG, NULL, 3 << 20}, /* 3 MiB of base64: over the daemon's 1 MiB request limit */
        {S_SEND, "{\"event\":\"turn_complete\",\"session\":\"s\",\"turn\":1}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    json_t *ev = glive_next_event(c, 5000, &err);
    CHECK(ev != NULL);
    CHECK_INT(json_string_length(json_object_get(ev, "data")), 3 << 20);
    json_decref(ev);
    ev = glive_next_event(c, 5000, &err);
    CHECK_STR(json_string_value(json_object_get(ev, "event")), "turn_complete");
    json_decref(ev);
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_bad_lines_are_reported_and_skipped)
{
    static const step steps[] = {
        {S_SEND, "not json\n[1,2]\n{\"what\":1}\n\n{\"event\":\"state\",\"session\":\"s\",\"state\":\"ready\"}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    for (int i = 0; i < 3; i++) {
        CHECK(glive_next_event(c, 2000, &err) == NULL);
        CHECK_STR(err.code, "protocol");
    }
    json_t *ev = glive_next_event(c, 2000, &err);
    CHECK_STR(json_string_value(json_object_get(ev, "state")), "ready");
    json_decref(ev);
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_lines_split_across_writes)
{
    static const step steps[] = {
        {S_READ, NULL, 0},
        {S_SEND, "{\"event\":\"te", 0},
        {S_SLEEP, NULL, 30},
        {S_SEND, "xt\",\"session\":\"s\",\"text\":\"a\"}\r\n{\"id\":$ID,", 0},
        {S_SLEEP, NULL, 30},
        {S_SEND, "\"ok\":true}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    json_t *r = glive_request(c, json_pack("{s:s}", "op", "hello"), 2000, &err);
    CHECK(r != NULL);
    json_decref(r);
    json_t *ev = glive_next_event(c, 0, &err);
    CHECK_STR(json_string_value(json_object_get(ev, "text")), "a");
    json_decref(ev);
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_big_request_while_daemon_floods)
{
    /* The daemon writes ~450 KB of events before it reads our 4 MiB request: the client must read
     * while it writes, or both sides block on full socket buffers. */
    static const step steps[] = {
        {S_FLOOD, "{\"event\":\"text\",\"session\":\"s\",\"turn\":1,\"text\":\"0123456789012345678901234567890123456789\"}\n", 5000},
        {S_READ, NULL, 0},
        {S_SEND, "{\"id\":$ID,\"ok\":true}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    size_t n = 4 << 20;
    char *big = malloc(n + 1);
    memset(big, 'y', n);
    big[n] = '\0';
    json_t *r = glive_request(c, json_pack("{s:s,s:s,s:s}", "op", "send", "session", "s", "text", big),
                              10000, &err);
    free(big);
    CHECK(r != NULL);
    json_decref(r);
    CHECK_INT(glive_queued(c), 5000);
    glive_close(c);
    fake_stop(&f);
}

TEST(lib_request_rejects_non_objects)
{
    static const step steps[] = {WAIT};
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    CHECK(glive_request(c, json_array(), 100, &err) == NULL);
    CHECK_STR(err.code, "usage");
    CHECK(glive_request(c, NULL, 100, &err) == NULL);
    CHECK_STR(err.code, "usage");
    glive_close(c);
    glive_close(NULL);
    fake_stop(&f);
}

/* ---- glivectl against the fake (when the binary sits next to this test's directory) ---------- */

static char glivectl_path[4096];

static bool find_glivectl(void)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = '\0'; /* BUILD/tests */
    snprintf(glivectl_path, sizeof glivectl_path, "%.4000s/../glivectl", self);
    return access(glivectl_path, X_OK) == 0;
}

/* Runs glivectl with args; its stdout/stderr go to files read back into out/err (NUL-terminated,
 * truncated to cap). Returns the exit status, or -1. */
static int run_glivectl(const char *const *args, char *out, char *err, size_t cap)
{
    const char *po = tmp_path("ctl.out"), *pe = tmp_path("ctl.err");
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fo, 1);
        dup2(fe, 2);
        char *argv[32];
        int k = 0;
        argv[k++] = glivectl_path;
        for (; *args && k < 31; args++)
            argv[k++] = (char *)*args;
        argv[k] = NULL;
        execv(glivectl_path, argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    long n = slurp(po, (uint8_t *)out, cap - 1);
    out[n < 0 ? 0 : n] = '\0';
    n = slurp(pe, (uint8_t *)err, cap - 1);
    err[n < 0 ? 0 : n] = '\0';
    return WEXITSTATUS(st);
}

TEST(glivectl_ask_against_fake)
{
    if (!find_glivectl())
        return; /* built outside BUILD/tests: nothing to run */
    static const step steps[] = {
        {S_READ, NULL, 0}, /* open */
        {S_SEND, "{\"id\":$ID,\"ok\":true,\"session\":\"lights\",\"created\":true,\"state\":\"connecting\"}\n"
                 "{\"event\":\"state\",\"session\":\"lights\",\"state\":\"connecting\"}\n", 0},
        {S_READ, NULL, 0}, /* send */
        {S_SEND, "{\"id\":$ID,\"ok\":true,\"turn\":7,\"queued\":false}\n"
                 "{\"event\":\"text\",\"session\":\"lights\",\"turn\":6,\"text\":\"not this turn\"}\n"
                 "{\"event\":\"tool_call\",\"session\":\"lights\",\"turn\":7,\"call_id\":\"function-call-42\","
                 "\"name\":\"turn_on_the_lights\",\"args\":{},\"index\":0,\"count\":1}\n", 0},
        {S_READ, NULL, 0}, /* tool.result */
        {S_SEND, "{\"id\":$ID,\"ok\":true}\n"
                 "{\"event\":\"audio\",\"session\":\"lights\",\"turn\":7,\"mime\":\"audio/pcm;rate=16000\",\"data\":\"AAECAwQFBgc=\"}\n"
                 "{\"event\":\"transcript\",\"session\":\"lights\",\"turn\":7,\"source\":\"output\",\"text\":\"OK, \",\"finished\":false}\n"
                 "{\"event\":\"text\",\"session\":\"lights\",\"turn\":7,\"text\":\"OK, I've \"}\n"
                 "{\"event\":\"audio\",\"session\":\"lights\",\"turn\":7,\"mime\":\"audio/pcm;rate=16000\",\"data\":\"CAkKCw==\"}\n"
                 "{\"event\":\"text\",\"session\":\"lights\",\"turn\":7,\"text\":\"turned on the lights.\"}\n"
                 "{\"event\":\"code_result\",\"session\":\"lights\",\"turn\":7,\"outcome\":\"OUTCOME_OK\",\"output\":\"98689\\n\"}\n"
                 "{\"event\":\"grounding\",\"session\":\"lights\",\"turn\":7,\"metadata\":{\"groundingChunks\":"
                 "[{\"web\":{\"uri\":\"https://u\",\"title\":\"usgs.gov\"}}]}}\n"
                 "{\"event\":\"turn_complete\",\"session\":\"lights\",\"turn\":7}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    static char out[8192], err[8192];
    const char *wav = tmp_path("ctl.wav");
    const char *args[] = {"--socket", f.path, "ask", "--session", "lights", "--wav", wav, "--function",
                          "turn_on_the_lights", "Turn on the lights", NULL};
    int rc = run_glivectl(args, out, err, sizeof out);
    fake_stop(&f);
    CHECK_INT(rc, 0);
    CHECK_STR(f.got[0], "{\"op\":\"open\",\"session\":\"lights\",\"modality\":\"AUDIO\",\"tools\":"
                        "[{\"function_declarations\":[{\"name\":\"turn_on_the_lights\"}]}],\"id\":1}");
    CHECK_STR(f.got[1], "{\"op\":\"send\",\"session\":\"lights\",\"text\":\"Turn on the lights\",\"id\":2}");
    CHECK_STR(f.got[2], "{\"op\":\"tool.result\",\"session\":\"lights\",\"call_id\":\"function-call-42\","
                        "\"response\":{\"result\":{\"string_value\":\"ok\"}},\"id\":3}");
    CHECK_STR(out, "OK, I've turned on the lights.\n[result: OUTCOME_OK]\n98689\n"
                   "Sources:\n  1. usgs.gov \u2014 https://u\n");
    CHECK_CONTAINS(err, "[tool] turn_on_the_lights({}) -> {\"result\":{\"string_value\":\"ok\"}}\n");
    CHECK_CONTAINS(err, "[transcript] OK, ");
    static uint8_t file[256];
    CHECK_INT(slurp(wav, file, sizeof file), 44 + 12);
    uint8_t want[GL_WAV_HEADER_LEN];
    gl_wav_header(want, 16000, 1, 16, 12);
    CHECK(memcmp(file, want, sizeof want) == 0);
    for (int i = 0; i < 12; i++)
        CHECK_INT(file[44 + i], i);
    unlink(wav);
}

TEST(glivectl_exit_codes)
{
    if (!find_glivectl())
        return;
    static char out[8192], err[8192];
    const char *no_daemon[] = {"--socket", "/nonexistent-glive/d.sock", "status", NULL};
    CHECK_INT(run_glivectl(no_daemon, out, err, sizeof out), 3);
    CHECK_CONTAINS(err, "cannot connect to /nonexistent-glive/d.sock: No such file or directory "
                        "(is gliveD running?)");
    const char *usage[] = {"ask", NULL};
    CHECK_INT(run_glivectl(usage, out, err, sizeof out), 2);
    CHECK_STR(err, "glivectl ask: missing PROMPT\nTry 'glivectl ask --help'.\n"); /* not the whole help */
    const char *version[] = {"--version", NULL};
    CHECK_INT(run_glivectl(version, out, err, sizeof out), 0);
    CHECK_CONTAINS(out, "glivectl ");

    static const step steps[] = {
        {S_READ, NULL, 0},
        {S_SEND, "{\"id\":$ID,\"ok\":true}\n", 0},
        {S_READ, NULL, 0},
        {S_SEND, "{\"id\":$ID,\"ok\":true,\"turn\":1,\"queued\":false}\n"
                 "{\"event\":\"error\",\"session\":\"default\",\"turn\":1,\"code\":\"upstream\",\"message\":\"closed 1011\"}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    const char *ask[] = {"--socket", f.path, "ask", "--json", "Hello?", NULL};
    int rc = run_glivectl(ask, out, err, sizeof out);
    fake_stop(&f);
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(err, "glivectl: upstream: closed 1011");
    CHECK_CONTAINS(out, "{\"id\":1,\"ok\":true}\n{\"id\":2,\"ok\":true,\"turn\":1,\"queued\":false}\n"
                        "{\"event\":\"error\",");
}

/* ---- views (glive_next_view) against events (glive_next_event) ---------------------------- */

/* Lines as gliveD writes them, and near misses: every one must read the same through a view
 * as through the JSON path (a view carries exactly what the event's fields hold). */
#define VIEW_LINES                                                                              \
    "{\"event\":\"text\",\"session\":\"s\",\"text\":\"Hel\",\"turn\":1}\n"                       \
    "{\"event\":\"text\",\"session\":\"s\",\"text\":\"a\\n\\\"b\\\"\\\\ \\u00e9\\/\\ud83d\\ude00\",\"turn\":1}\n" \
    "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"audio/pcm;rate=24000\",\"data\":\"AAECAwQF\",\"turn\":1}\n" \
    "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"audio/pcm\",\"data\":\"AAE\\/\",\"turn\":1}\n" \
    "{\"event\":\"audio\",\"session\":\"s\",\"data\":\"QQ==\"}\n"                                \
    "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"audio/pcm\",\"data\":\"Q\",\"turn\":1}\n" \
    "{\"event\":\"text\",\"session\":\"s\",\"text\":\"x\",\"turn\":1,\"extra\":true}\n"          \
    "{\"event\":\"text\",\"session\":\"s\",\"text\":\"nul\\u0000\",\"turn\":1}\n"                \
    "{\"event\":\"text\",\"session\":\"s\",\"text\":\"dup\",\"text\":\"twice\"}\n"               \
    "{\"event\":\"text\",\"session\":\"s\",\"turn\":\"1\",\"text\":\"str turn\"}\n"              \
    "{\"event\":\"text\",\"text\":\"no session, no turn\"}\n"                                   \
    "{\"event\":\"audio\",\"session\":\"s\",\"data\":\"QUJD \"}\n"                              \
    "{\"event\":\"audio\",\"session\":\"s\",\"data\":\"QUJD\t\"}\n"                            \
    "{\"event\":\"audio\",\"session\":\"s\",\"data\":\"QUJD\r \"}\n"                           \
    "{\"id\":99,\"ok\":true}\n"                                                                 \
    "not json\n"                                                                                \
    "{\"event\":\"state\",\"session\":\"s\",\"state\":\"ready\"}\n"                              \
    "{\"event\":\"turn_complete\",\"session\":\"s\",\"turn\":1}\n"

static int VIEWS; /* items view_item got as TEXT or AUDIO views */

/* An audio event's "data" replaced by its decoded bytes in hex, as views carry them. */
static void decoded_data(json_t *ev)
{
    json_t *d = json_object_get(ev, "data");
    unsigned char *pcm;
    size_t n;
    gl_err err;
    if (d && gl_b64_decode(json_string_value(d), json_string_length(d), &pcm, &n, &err) == 0) {
        char hex[256] = "";
        for (size_t i = 0; i < n && 2 * i + 2 < sizeof hex; i++)
            snprintf(hex + 2 * i, 3, "%02x", pcm[i]);
        free(pcm);
        json_object_set_new(ev, "data", json_string(hex));
    }
}

/* One item read either way, as a comparable string. */
static void view_item(glive_client *c, bool view, char *out, size_t cap)
{
    gl_err err;
    if (!view) {
        json_t *ev = glive_next_event(c, 2000, &err);
        if (!ev) {
            snprintf(out, cap, "error %s: %s", err.code, err.msg);
            return;
        }
        decoded_data(ev);
        char *s = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, cap, "%s", s);
        free(s);
        json_decref(ev);
        return;
    }
    glive_view v;
    if (glive_next_view(c, 2000, &v, &err) < 0) {
        snprintf(out, cap, "error %s: %s", err.code, err.msg);
        return;
    }
    if (v.kind == GLIVE_VIEW_JSON) { /* the same as the JSON path, audio included */
        decoded_data(v.json);
        char *s = json_dumps(v.json, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, cap, "%s", s);
        free(s);
        json_decref(v.json);
        return;
    }
    VIEWS++;
    json_t *ev = json_object();
    json_object_set_new(ev, "event", json_string(v.kind == GLIVE_VIEW_TEXT ? "text" : "audio"));
    if (v.session)
        json_object_set_new(ev, "session", json_string(v.session));
    if (v.has_turn)
        json_object_set_new(ev, "turn", json_integer(v.turn));
    if (v.kind == GLIVE_VIEW_TEXT) {
        json_object_set_new(ev, "text", json_stringn(v.text, v.text_len));
        if (strlen(v.text) != v.text_len)
            json_object_set_new(ev, "BAD", json_true());
    } else {
        if (v.mime)
            json_object_set_new(ev, "mime", json_string(v.mime));
        char hex[256] = "";
        for (size_t i = 0; i < v.pcm_len && 2 * i + 2 < sizeof hex; i++)
            snprintf(hex + 2 * i, 3, "%02x", v.pcm[i]);
        json_object_set_new(ev, "data", json_string(hex));
    }
    char *s = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(out, cap, "%s", s);
    free(s);
    json_decref(ev);
}

TEST(lib_views_read_as_events_do)
{
    static const step steps[] = {{S_SEND, VIEW_LINES, 0}, CLOSE};
    char a[20][512], b[20][512];
    VIEWS = 0;
    for (int way = 0; way < 2; way++) {
        fake f;
        CHECK_INT(fake_start(&f, steps), 0);
        gl_err err;
        glive_client *c = glive_connect(f.path, &err);
        CHECK(c != NULL);
        for (int i = 0; i < 20; i++)
            view_item(c, way == 1, way ? b[i] : a[i], sizeof a[i]);
        glive_close(c);
        fake_stop(&f);
    }
    for (int i = 0; i < 20; i++)
        if (strcmp(a[i], b[i]) != 0)
            GL_FAILF("item %d: event %s, view %s", i, a[i], b[i]);
    CHECK_CONTAINS(a[1], "\"text\":\"a\\n\\\"b\\\"\\\\ \xc3\xa9/\xf0\x9f\x98\x80\"");
    /* lines 1, 2, 3, 5, 11 and 12; the rest is not exactly as gliveD writes them (line 4's
     * base64 has an escape: the JSON path reads it) */
    CHECK_INT(VIEWS, 6);
    CHECK_CONTAINS(b[11], "\"data\":\"414243\""); /* a trailing space: JSON, and skipped */
    CHECK_CONTAINS(b[12], "error protocol"); /* a raw tab or CR: not JSON, as json_loadb says */
    CHECK_CONTAINS(b[13], "error protocol");
    CHECK_CONTAINS(b[5], "\"data\":\"Q\""); /* bad base64: left to the JSON path, which reports it */
    CHECK_CONTAINS(b[7], "error protocol"); /* \u0000: as json_loadb refuses it */
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* Audio and text lines as gliveD's fast path writes them (read by libglive's exact matcher)
 * and every near miss of them (a byte replaced, inserted or removed anywhere: read by the
 * general scanner or by Jansson): through views and through events, item by item the same. */
TEST(lib_stream_views_read_as_events_do)
{
    enum { LINES = 700 };
    static const char odd[] = "\"\\ ,:}{[]0123456789-.eE\r\t\x01\x7f\x80\xc3\xa9=+/Aa";
    static char lines[LINES][400];
    static step steps[LINES + 1];
    static uint64_t x = 0x2545f4914f6cdd1dull;
#define RND() xorshift(&x)
    for (int i = 0; i < LINES; i++) {
        unsigned char pcm[48];
        size_t np = RND() % sizeof pcm;
        for (size_t k = 0; k < np; k++)
            pcm[k] = (unsigned char)RND();
        char *b64 = gl_b64_encode(pcm, np);
        static const char *const sessions[] = {"s", "bench-audio", "A.b_c-9", ""};
        static const char *const mimes[] = {"audio/pcm;rate=24000", "", "audio/pcm"};
        char turn[32] = "";
        if (RND() % 4)
            snprintf(turn, sizeof turn, ",\"turn\":%llu", (unsigned long long)(RND() % 100000));
        int n;
        if (i % 2) {
            n = snprintf(lines[i], sizeof lines[i] - 8,
                         "{\"event\":\"audio\",\"session\":\"%s\",\"mime\":\"%s\",\"data\":\"%s\"%s}",
                         sessions[RND() % 4], mimes[RND() % 3], b64, turn);
        } else { /* text of pieces: plain, escaped, UTF-8, and a few that make it invalid */
            static const char *const pieces[] = {
                "Hello", " world", "0000042 bench text, ", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9",
                "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\t", "\\u0041",
                "\\u0000", "\\ud83d", "\xc3", "\x01", "\\x", "\xed\xa0\x80",
            };
            char text[200] = "";
            for (int k = (int)(RND() % 6); k >= 0; k--) {
                const char *pc = pieces[RND() % (RND() % 8 ? 14 : sizeof pieces / sizeof *pieces)];
                if (strlen(text) + strlen(pc) < sizeof text)
                    strcat(text, pc);
            }
            n = snprintf(lines[i], sizeof lines[i] - 8,
                         "{\"event\":\"text\",\"session\":\"%s\",\"text\":\"%s\"%s}",
                         sessions[RND() % 4], text, turn);
        }
        free(b64);
        if (i % 4) { /* three in four: one byte replaced, inserted or removed */
            size_t at = RND() % (size_t)n;
            char c = odd[RND() % (sizeof odd - 1)];
            switch (RND() % 3) {
            case 0: lines[i][at] = c; break;
            case 1: memmove(lines[i] + at + 1, lines[i] + at, (size_t)n - at + 1); lines[i][at] = c; n++; break;
            default: memmove(lines[i] + at, lines[i] + at + 1, (size_t)n - at); n--; break;
            }
        }
        static const char *const edges[] = { /* what one changed byte seldom makes */
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"turn\":07}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"turn\":0}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"turn\":123456789012345678}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"turn\":1234567890123456789}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"turn\":-3}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"turn\":3.0}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"turn\":3} ",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"turn\":3}\r",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"turn\":}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"a\\/b\",\"data\":\"QUJD\"}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"\xc3\xa9\",\"data\":\"QUJD\"}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\",\"data\":\"QUJD\"}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QUJD\"}}",
            "{\"event\":\"audio\",\"session\":\"s\",\"mime\":\"m\",\"data\":\"QU\"JD\"}",
            "{\"event\":\"text\",\"session\":\"s\",\"text\":\"a\\u0000b\",\"turn\":1}",
            "{\"event\":\"text\",\"session\":\"s\",\"text\":\"\",\"turn\":1}",
            "{\"event\":\"text\",\"session\":\"s\",\"text\":\"x\",\"mime\":\"m\"}",
            "{\"event\":\"text\",\"session\":\"s\",\"text\":\"x\"\"}",
            "{\"event\":\"text\",\"session\":\"s\",\"text\":\"x\\\"}",
            "{\"event\":\"text\",\"session\":\"s\",\"text\":1}",
            "{\"event\":\"text\",\"session\":\"s\\u0041\",\"text\":\"x\"}",
        };
        if ((size_t)i < sizeof edges / sizeof *edges)
            n = snprintf(lines[i], sizeof lines[i] - 8, "%s", edges[i]);
        lines[i][n] = '\n';
        lines[i][n + 1] = '\0';
        steps[i] = (step){S_SEND, lines[i], 0};
    }
#undef RND
    steps[LINES] = (step)CLOSE;
    static char a[LINES][512], b[LINES][512];
    VIEWS = 0;
    for (int way = 0; way < 2; way++) {
        fake f;
        CHECK_INT(fake_start(&f, steps), 0);
        gl_err err;
        glive_client *c = glive_connect(f.path, &err);
        CHECK(c != NULL);
        for (int i = 0; i < LINES; i++)
            view_item(c, way == 1, way ? b[i] : a[i], sizeof a[i]);
        glive_close(c);
        fake_stop(&f);
    }
    for (int i = 0; i < LINES; i++)
        if (strcmp(a[i], b[i]) != 0) {
            GL_FAILF("line %d %.*s: event %s, view %s", i, (int)strcspn(lines[i], "\n"), lines[i], a[i], b[i]);
            break;
        }
    CHECK(VIEWS > LINES / 5); /* most unmutated lines */
}

TEST(lib_views_then_a_request_keep_the_order)
{
    /* a request made while a view left lines unread: they are queued first, the reply is
     * found among them, and the events come out in order afterwards: those before the reply
     * as JSON (queued while the request waited), the one after it, read with the reply but
     * left in the reader, as a view */
    static const step steps[] = {
        {S_SEND, "{\"event\":\"text\",\"session\":\"s\",\"text\":\"1\",\"turn\":1}\n"
                 "{\"event\":\"text\",\"session\":\"s\",\"text\":\"2\",\"turn\":1}\n"
                 "{\"event\":\"text\",\"session\":\"s\",\"text\":\"3\",\"turn\":1}\n", 0},
        {S_READ, NULL, 0},
        {S_SEND, "{\"event\":\"text\",\"session\":\"s\",\"text\":\"4\",\"turn\":1}\n"
                 "{\"id\":$ID,\"ok\":true}\n"
                 "{\"event\":\"text\",\"session\":\"s\",\"text\":\"5\",\"turn\":1}\n", 0},
        WAIT,
    };
    fake f;
    CHECK_INT(fake_start(&f, steps), 0);
    gl_err err;
    glive_client *c = glive_connect(f.path, &err);
    glive_view v;
    CHECK_INT(glive_next_view(c, 2000, &v, &err), 0);
    CHECK_INT(v.kind, GLIVE_VIEW_TEXT);
    CHECK_STR(v.text, "1");
    usleep(20000); /* lines 2 and 3 arrived in the same read: a view left them in the reader */
    json_t *reply = glive_request(c, json_pack("{s:s}", "op", "hello"), 2000, &err);
    CHECK(reply != NULL);
    CHECK_INT(glive_reply_error(reply, &err), 0);
    json_decref(reply);
    for (int i = 2; i <= 4; i++) {
        CHECK_INT(glive_next_view(c, 2000, &v, &err), 0);
        char want[2] = {(char)('0' + i), 0};
        CHECK_INT(v.kind, GLIVE_VIEW_JSON);
        CHECK_STR(json_string_value(json_object_get(v.json, "text")), want);
        json_decref(v.json);
    }
    CHECK_INT(glive_next_view(c, 2000, &v, &err), 0);
    CHECK_INT(v.kind, GLIVE_VIEW_TEXT);
    CHECK_STR(v.text, "5");
    CHECK_INT(glive_next_view(c, 0, &v, &err), -1);
    CHECK_STR(err.code, "timeout");
    glive_close(c);
    fake_stop(&f);
}
