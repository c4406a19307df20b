/* glivectl talking to gliveD: connecting, one request and its reply, and waiting for events in
 * slices so that SIGINT/SIGTERM stop a command promptly; the speaker (--play) is fed meanwhile. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "client/glivectl/glivectl.h"
#include "client/lib/wav.h"

#define SLICE_MS 250 /* longest blocking wait, so signals are noticed promptly */
#define STALL_MS 2000 /* play_out gives up this long after the audio should have been played */

static audio_play *player; /* wait_feeds */

/* ---- signals ------------------------------------------------------------------------------- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

/* No SA_RESTART: a blocking poll() returns EINTR, and loops check got_signal at least every
 * SLICE_MS anyway. */
void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int peek_signal(void)
{
    return got_signal;
}

int take_signal(void)
{
    int sig = got_signal;
    got_signal = 0;
    return sig;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Calls next(c, slice) in slices of at most SLICE_MS until it gives something (0), fails with
 * anything but timeout/eintr (-1), a signal came or timeout_ms passed. */
static int wait_sliced(glive_client *c, int timeout_ms, gl_err *err,
                       int (*next)(glive_client *c, int slice, void *out, gl_err *err), void *out)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        if (got_signal)
            return gl_fail(err, "signal", "stopped by signal %d", (int)got_signal);
        int slice = SLICE_MS;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return gl_fail(err, "timeout", "no event from gliveD for %d s (see --timeout)",
                               (timeout_ms + 999) / 1000);
            if (left < slice)
                slice = (int)left;
        }
        if (player && !glive_queued(c)) { /* the socket and the speaker, whichever is first */
            struct pollfd fds[1 + AUDIO_MAX_FDS] = {{.fd = glive_fd(c), .events = POLLIN}};
            int n = audio_play_pollfds(player, fds + 1, AUDIO_MAX_FDS);
            int r = poll(fds, (nfds_t)n + 1, slice);
            if (r < 0 && errno != EINTR)
                return gl_fail(err, "io", "poll: %s", strerror(errno));
            if (audio_play_ready(player, fds + 1, r > 0 ? n : 0, err) < 0)
                return -1;
            if (r <= 0 || !fds[0].revents)
                continue;
            slice = 0;
        }
        if (next(c, slice, out, err) == 0)
            return 0;
        if (strcmp(err->code, "timeout") != 0 && strcmp(err->code, "eintr") != 0)
            return -1;
    }
}

static int next_event(glive_client *c, int slice, void *out, gl_err *err)
{
    json_t *ev = glive_next_event(c, slice, err);
    *(json_t **)out = ev;
    return ev ? 0 : -1;
}

json_t *wait_event(glive_client *c, int timeout_ms, gl_err *err)
{
    json_t *ev = NULL;
    if (!got_signal) { /* what is there already, then flush before blocking (as wait_view) */
        if ((ev = glive_next_event(c, 0, err)))
            return ev;
        if (strcmp(err->code, "timeout") != 0 && strcmp(err->code, "eintr") != 0)
            return NULL;
    }
    o_flush();
    return wait_sliced(c, timeout_ms, err, next_event, &ev) == 0 ? ev : NULL;
}

static int next_view(glive_client *c, int slice, void *out, gl_err *err)
{
    return glive_next_view(c, slice, out, err);
}

int wait_view(glive_client *c, int timeout_ms, glive_view *v, gl_err *err)
{
    /* what is there already: no clock, no flush (a streamed answer mostly goes this way) */
    if (!got_signal) {
        if (glive_next_view(c, 0, v, err) == 0)
            return 0;
        if (strcmp(err->code, "timeout") != 0 && strcmp(err->code, "eintr") != 0)
            return -1;
    }
    o_flush(); /* nothing more for now: show what was written */
    return wait_sliced(c, timeout_ms, err, next_view, v);
}

/* ---- the speaker --------------------------------------------------------------------------- */

void wait_feeds(audio_play *p)
{
    player = p;
}

int play_chunk(audio_play *p, const char *mime, const void *pcm, size_t n, bool *noted, gl_err *err)
{
    unsigned rate = gl_wav_mime_rate(mime, GL_WAV_DEFAULT_RATE);
    if (rate != audio_play_rate(p)) {
        if (!*noted)
            errline("[playback: the audio is %u Hz, the device was opened for %u Hz: not played]", rate,
                    audio_play_rate(p));
        *noted = true;
        return 0;
    }
    long dropped = audio_play_queue(p, pcm, n, err);
    if (dropped < 0)
        return -1;
    if (dropped && !*noted)
        errline("[playback: the device is not keeping up: audio past %d s of queue dropped]", AUDIO_PLAY_MAX_S);
    *noted = *noted || dropped;
    return 0;
}

int play_out(audio_play *p, gl_err *err)
{
    if (audio_play_flush(p, err) < 0)
        return -1;
    int64_t deadline = now_ms() + audio_play_pending_ms(p) + STALL_MS;
    while (!audio_play_idle(p)) {
        const char *why = got_signal ? "signal" : now_ms() > deadline ? "audio" : NULL;
        if (why) {
            double s = audio_play_drop(p) / 1000.0;
            if (strcmp(why, "signal") == 0)
                return gl_fail(err, why, "stopped by signal %d (%.1f s of audio not played)", (int)got_signal, s);
            return gl_fail(err, why, "playback on \"%s\" stalled (%.1f s of audio not played)",
                           audio_play_device(p), s);
        }
        struct pollfd fds[AUDIO_MAX_FDS];
        int n = audio_play_pollfds(p, fds, AUDIO_MAX_FDS);
        unsigned left = audio_play_pending_ms(p); /* when only the device holds some: its time */
        int r = poll(fds, (nfds_t)n, n ? SLICE_MS : left < 50 ? (int)left + 1 : 50);
        if (r < 0 && errno != EINTR)
            return gl_fail(err, "io", "poll: %s", strerror(errno));
        if (audio_play_ready(p, fds, r > 0 ? n : 0, err) < 0 || audio_play_flush(p, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- connecting and requests --------------------------------------------------------------- */

glive_client *connect_daemon(const globals *g)
{
    gl_err e;
    glive_client *c = glive_connect(g->socket, &e);
    if (!c)
        errline("glivectl: %s", e.msg);
    return c;
}

json_t *request(glive_client *c, const globals *g, json_t *req, gl_err *err)
{
    o_flush(); /* deferred output is shown before a wait */
    return glive_request(c, req, g->timeout_ms, err);
}

json_t *request_ok(glive_client *c, const globals *g, json_t *req, int *rc)
{
    gl_err e;
    json_t *r = request(c, g, req, &e);
    if (r && glive_reply_error(r, &e) < 0) {
        json_decref(r);
        r = NULL;
    }
    if (!r)
        *rc = report(&e);
    return r;
}
