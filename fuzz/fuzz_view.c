/* libFuzzer target: libglive's two ways of reading gliveD's event lines (client/lib/glive.c).
 * glive_next_event parses every line with Jansson; glive_next_view reads the text and audio
 * lines gliveD's fast path writes without a tree (an exact matcher, then gl_fast_flat, then
 * base64 straight from the line) and hands anything else to Jansson. The view path must read
 * whatever bytes the daemon (or anything on the socket) sends exactly as the JSON path does.
 *
 * Input: the bytes gliveD would send, written to a client over a real Unix socket (a listener
 * made at start; each input is two connections, one read each way), then the end of file.
 * Contract checked (abort = reported as a crash): item by item, the two ways give the same
 * events (audio compared as decoded PCM) and the same errors, and both end at the same item. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/lib/b64.h"
#include "client/lib/glive.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "fuzz/fuzz.h"

#define MAX_ITEMS 256

static int listener = -1;
static char path[108];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gl_xalloc_init();
    gl_log_set_level(GL_LOG_ERROR);
    snprintf(path, sizeof path, "/tmp/fuzz_view.%d.sock", (int)getpid());
    unlink(path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(listener, 4) < 0) {
        perror("fuzz_view: listener");
        abort();
    }
    return 0;
}

/* data (base64) replaced by the hex of what it decodes to, when it decodes. */
static void decoded_data(json_t *ev)
{
    json_t *d = json_object_get(ev, "data");
    unsigned char *pcm;
    size_t n;
    gl_err err;
    if (json_is_string(d) && gl_b64_decode(json_string_value(d), json_string_length(d), &pcm, &n, &err) == 0) {
        char *hex = gl_xmalloc(2 * n + 1);
        for (size_t i = 0; i < n; i++)
            snprintf(hex + 2 * i, 3, "%02x", pcm[i]);
        hex[2 * n] = '\0';
        free(pcm);
        json_object_set_new(ev, "data", json_string(hex));
        free(hex);
    }
}

static char *dump(json_t *ev)
{
    decoded_data(ev);
    char *s = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(ev);
    CHECK(s != NULL);
    return s;
}

/* One item read one way, as a comparable string (malloc'd); *end set after an error. */
static char *item(glive_client *c, bool view, bool *end)
{
    gl_err err;
    char *s;
    if (!view) {
        json_t *ev = glive_next_event(c, 2000, &err);
        if (ev)
            return dump(ev);
    } else {
        glive_view v;
        if (glive_next_view(c, 2000, &v, &err) == 0) {
            if (v.kind == GLIVE_VIEW_JSON)
                return dump(v.json);
            CHECK(v.kind == GLIVE_VIEW_TEXT || v.kind == GLIVE_VIEW_AUDIO);
            json_t *ev = json_object();
            json_object_set_new(ev, "event", json_string(v.kind == GLIVE_VIEW_TEXT ? "text" : "audio"));
            if (v.session)
                json_object_set_new(ev, "session", json_string(v.session));
            if (v.has_turn)
                json_object_set_new(ev, "turn", json_integer(v.turn));
            if (v.kind == GLIVE_VIEW_TEXT) {
                CHECK(strlen(v.text) == v.text_len); /* "never holds a NUL" */
                json_object_set_new(ev, "text", json_stringn(v.text, v.text_len));
            } else {
                if (v.mime)
                    json_object_set_new(ev, "mime", json_string(v.mime));
                char *hex = gl_xmalloc(2 * v.pcm_len + 1);
                for (size_t i = 0; i < v.pcm_len; i++)
                    snprintf(hex + 2 * i, 3, "%02x", v.pcm[i]);
                hex[2 * v.pcm_len] = '\0';
                json_object_set_new(ev, "data", json_string(hex));
                free(hex);
            }
            s = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(ev);
            CHECK(s != NULL);
            return s;
        }
    }
    *end = true;
    if (asprintf(&s, "error %s: %s", err.code, err.msg) < 0)
        abort();
    return s;
}

/* Sends data on a fresh connection and reads it all back one way. */
static size_t read_all(const uint8_t *data, size_t size, bool view, char **items)
{
    gl_err err;
    glive_client *c = glive_connect(path, &err);
    CHECK(c != NULL);
    int s = accept(listener, NULL, NULL);
    CHECK(s >= 0);
    size_t off = 0;
    while (off < size) { /* a fuzz input fits the socket's buffer: this does not block for long */
        ssize_t w = write(s, data + off, size - off);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0);
        off += (size_t)w;
    }
    close(s);
    size_t n = 0;
    bool end = false;
    while (!end && n < MAX_ITEMS)
        items[n++] = item(c, view, &end);
    glive_close(c);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) /* two socket buffers' worth is plenty; the write must not block */
        return 0;
    static char *a[MAX_ITEMS], *b[MAX_ITEMS];
    size_t na = read_all(data, size, false, a), nb = read_all(data, size, true, b);
    for (size_t i = 0; i < na && i < nb; i++) {
        if (strcmp(a[i], b[i]) != 0) {
            fprintf(stderr, "item %zu:\n  event: %s\n  view:  %s\n", i, a[i], b[i]);
            CHECK(!"the view and the event differ");
        }
    }
    CHECK(na == nb);
    for (size_t i = 0; i < na; i++)
        free(a[i]);
    for (size_t i = 0; i < nb; i++)
        free(b[i]);
    return 0;
}
