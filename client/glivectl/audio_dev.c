#include "client/glivectl/audio_dev.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define MIC_PERIOD_US 20000    /* one 20 ms chunk per wake-up, as talk sends them */
#define MIC_BUFFER_US 1000000  /* the loop may wait on gliveD a while: a second before overrun */
#define PLAY_PERIOD_US 20000
#define PLAY_BUFFER_US 200000  /* what a barge-in drops in the device, at most */
#define PLAY_GROW_S 4          /* the queue starts with this much and doubles up to the bound */
#define MAX_RECOVERIES 3       /* per call: a device failing again and again is an error */

struct audio_mic {
    snd_pcm_t *pcm;
    char *device;
    unsigned rate;
    size_t have; /* frames of the chunk being read, already in the caller's buffer */
};

struct audio_play {
    snd_pcm_t *pcm;
    char *device;
    unsigned rate;
    snd_pcm_uframes_t buffer, period;
    int16_t *ring;             /* the queue: len frames from head, wrapping at cap */
    size_t cap, head, len, max;
};

static int nopen; /* devices open: ALSA's global configuration is freed when none is */

/* alsa-lib prints its own diagnostics on stderr ("ALSA lib pcm.c:2666:(...) Unknown PCM x");
 * glivectl says one line itself. */
static void quiet(const char *file, int line, const char *fn, int err, const char *fmt, ...)
{
    (void)file, (void)line, (void)fn, (void)err, (void)fmt;
}

static snd_pcm_t *dev_open(const char *device, snd_pcm_stream_t dir, gl_err *err)
{
    snd_lib_error_set_handler(quiet);
    snd_pcm_t *pcm;
    int rc = snd_pcm_open(&pcm, device, dir, SND_PCM_NONBLOCK);
    if (rc < 0) {
        gl_fail(err, "audio", "cannot open audio device \"%s\": %s", device, snd_strerror(rc));
        if (!nopen)
            snd_config_update_free_global();
        return NULL;
    }
    nopen++;
    return pcm;
}

static void dev_close(snd_pcm_t *pcm)
{
    if (!pcm)
        return;
    snd_pcm_drop(pcm);
    snd_pcm_close(pcm);
    if (--nopen == 0)
        snd_config_update_free_global(); /* else it stays, and sanitizers count it as a leak */
}

/* s16le mono at *rate (exactly, or the nearest the device takes), with the period and buffer
 * asked for when the device can; *period and *buffer get what it chose. */
static int configure(snd_pcm_t *pcm, const char *device, unsigned *rate, bool exact, unsigned period_us,
                     unsigned buffer_us, snd_pcm_uframes_t *period, snd_pcm_uframes_t *buffer, gl_err *err)
{
    snd_pcm_hw_params_t *hw = NULL;
    const char *what = NULL;
    int rc = snd_pcm_hw_params_malloc(&hw);
    if (rc < 0)
        what = "hardware parameters";
    else if ((rc = snd_pcm_hw_params_any(pcm, hw)) < 0)
        what = "any configuration";
    else if ((rc = snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0)
        what = "interleaved access";
    else if ((rc = snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE)) < 0)
        what = "s16le samples";
    else if ((rc = snd_pcm_hw_params_set_channels(pcm, hw, 1)) < 0)
        what = "one channel";
    else if ((rc = exact ? snd_pcm_hw_params_set_rate(pcm, hw, *rate, 0)
                         : snd_pcm_hw_params_set_rate_near(pcm, hw, rate, NULL)) < 0)
        what = "the rate";
    if (!what) {
        /* preferences only: a device that cannot do them keeps its own */
        unsigned us = buffer_us;
        snd_pcm_hw_params_set_buffer_time_near(pcm, hw, &us, NULL);
        us = period_us;
        snd_pcm_hw_params_set_period_time_near(pcm, hw, &us, NULL);
        if ((rc = snd_pcm_hw_params(pcm, hw)) < 0)
            what = "the configuration";
    }
    snd_pcm_hw_params_free(hw);
    if (what)
        return gl_fail(err, "audio", "audio device \"%s\": cannot set %s (%u Hz s16le mono): %s", device,
                       what, *rate, snd_strerror(rc));
    if ((rc = snd_pcm_get_params(pcm, buffer, period)) < 0)
        return gl_fail(err, "audio", "audio device \"%s\": %s", device, snd_strerror(rc));
    return 0;
}

static int sw_configure(snd_pcm_t *pcm, const char *device, snd_pcm_uframes_t start,
                        snd_pcm_uframes_t avail_min, gl_err *err)
{
    snd_pcm_sw_params_t *sw = NULL;
    int rc = snd_pcm_sw_params_malloc(&sw);
    if (rc >= 0 && (rc = snd_pcm_sw_params_current(pcm, sw)) >= 0 &&
        (rc = snd_pcm_sw_params_set_start_threshold(pcm, sw, start)) >= 0 &&
        (rc = snd_pcm_sw_params_set_avail_min(pcm, sw, avail_min)) >= 0)
        rc = snd_pcm_sw_params(pcm, sw);
    snd_pcm_sw_params_free(sw);
    if (rc < 0)
        return gl_fail(err, "audio", "audio device \"%s\": cannot set software parameters: %s", device,
                       snd_strerror(rc));
    return 0;
}

static int pollfds(snd_pcm_t *pcm, struct pollfd *fds, int max)
{
    int n = snd_pcm_poll_descriptors_count(pcm);
    if (n <= 0)
        return 0;
    if (n > max)
        n = max;
    n = snd_pcm_poll_descriptors(pcm, fds, (unsigned)n);
    return n < 0 ? 0 : n;
}

/* ---- capture ------------------------------------------------------------------------------- */

audio_mic *audio_mic_open(const char *device, unsigned *rate, gl_err *err)
{
    snd_pcm_t *pcm = dev_open(device, SND_PCM_STREAM_CAPTURE, err);
    if (!pcm)
        return NULL;
    snd_pcm_uframes_t period, buffer;
    int rc;
    if (configure(pcm, device, rate, false, MIC_PERIOD_US, MIC_BUFFER_US, &period, &buffer, err) < 0 ||
        sw_configure(pcm, device, 1, period, err) < 0) {
        dev_close(pcm);
        return NULL;
    }
    if ((rc = snd_pcm_start(pcm)) < 0) {
        gl_fail(err, "audio", "audio device \"%s\": cannot start capturing: %s", device, snd_strerror(rc));
        dev_close(pcm);
        return NULL;
    }
    audio_mic *m = gl_xcalloc(1, sizeof *m);
    m->pcm = pcm;
    m->device = gl_xstrdup(device);
    m->rate = *rate;
    return m;
}

void audio_mic_close(audio_mic *m)
{
    if (!m)
        return;
    dev_close(m->pcm);
    free(m->device);
    free(m);
}

int audio_mic_pollfds(audio_mic *m, struct pollfd *fds, int max)
{
    return pollfds(m->pcm, fds, max);
}

int audio_mic_ready(audio_mic *m, struct pollfd *fds, int n, gl_err *err)
{
    unsigned short revents;
    int rc = n > 0 ? snd_pcm_poll_descriptors_revents(m->pcm, fds, (unsigned)n, &revents) : 0;
    if (rc < 0)
        return gl_fail(err, "audio", "the microphone (\"%s\") failed: %s", m->device, snd_strerror(rc));
    return 0; /* an overrun behind POLLERR is seen and recovered by the next read */
}

/* An overrun (-EPIPE) or a suspended device (-ESTRPIPE): prepared and started again. */
static int mic_recover(audio_mic *m, int e, bool *lost, gl_err *err)
{
    if (e == -EPIPE && lost)
        *lost = true;
    int rc = snd_pcm_recover(m->pcm, e, 1);
    if (rc >= 0 && snd_pcm_state(m->pcm) != SND_PCM_STATE_RUNNING)
        rc = snd_pcm_start(m->pcm);
    if (rc < 0)
        return gl_fail(err, "audio", "the microphone (\"%s\") failed: %s", m->device, snd_strerror(e));
    return 0;
}

int audio_mic_read(audio_mic *m, int16_t *buf, size_t frames, bool *lost, gl_err *err)
{
    if (lost)
        *lost = false;
    int recoveries = 0;
    for (;;) {
        /* A device may count frames it has no data for (ALSA's file plugin past the end of its
         * infile): they are silence, not what the buffer held before. */
        if (m->have == 0)
            memset(buf, 0, frames * sizeof *buf);
        snd_pcm_sframes_t n = snd_pcm_avail_update(m->pcm);
        if (n == 0)
            return 0;
        if (n > 0) {
            if ((size_t)n > frames - m->have)
                n = (snd_pcm_sframes_t)(frames - m->have);
            n = snd_pcm_readi(m->pcm, buf + m->have, (snd_pcm_uframes_t)n);
            if (n == -EAGAIN)
                return 0;
        }
        if (n < 0) {
            if (++recoveries > MAX_RECOVERIES)
                return gl_fail(err, "audio", "the microphone (\"%s\") keeps failing: %s", m->device,
                               snd_strerror((int)n));
            if (mic_recover(m, (int)n, lost, err) < 0)
                return -1;
            continue;
        }
        m->have += (size_t)n;
        if (m->have == frames) {
            m->have = 0;
            return 1;
        }
    }
}

/* ---- playback ------------------------------------------------------------------------------ */

audio_play *audio_play_open(const char *device, unsigned rate, gl_err *err)
{
    snd_pcm_t *pcm = dev_open(device, SND_PCM_STREAM_PLAYBACK, err);
    if (!pcm)
        return NULL;
    audio_play *p = gl_xcalloc(1, sizeof *p);
    p->pcm = pcm;
    p->device = gl_xstrdup(device);
    p->rate = rate;
    /* Playing starts once half the device's buffer is filled, so that a next chunk a little
     * late does not underrun; audio_play_flush starts a shorter answer. */
    if (configure(pcm, device, &p->rate, true, PLAY_PERIOD_US, PLAY_BUFFER_US, &p->period, &p->buffer,
                  err) < 0 ||
        sw_configure(pcm, device, p->buffer / 2 ? p->buffer / 2 : 1, p->period, err) < 0) {
        audio_play_close(p);
        return NULL;
    }
    p->max = (size_t)AUDIO_PLAY_MAX_S * rate;
    return p;
}

void audio_play_close(audio_play *p)
{
    if (!p)
        return;
    dev_close(p->pcm);
    free(p->ring);
    free(p->device);
    free(p);
}

unsigned audio_play_rate(const audio_play *p) { return p->rate; }
const char *audio_play_device(const audio_play *p) { return p->device; }

static int play_failed(audio_play *p, int e, gl_err *err)
{
    return gl_fail(err, "audio", "playback on \"%s\" failed: %s", p->device, snd_strerror(e));
}

/* Writes what the device takes now. An underrun (-EPIPE: the device played everything while the
 * next chunk was on its way) is normal: the device is prepared again and the write goes on. */
static int pump(audio_play *p, gl_err *err)
{
    int recoveries = 0;
    while (p->len) {
        snd_pcm_sframes_t n = snd_pcm_avail_update(p->pcm);
        if (n >= 0) {
            if (n == 0)
                break;
            size_t run = p->cap - p->head < p->len ? p->cap - p->head : p->len;
            if ((size_t)n > run)
                n = (snd_pcm_sframes_t)run;
            n = snd_pcm_writei(p->pcm, p->ring + p->head, (snd_pcm_uframes_t)n);
            if (n == -EAGAIN)
                break;
        }
        if (n < 0) {
            if (++recoveries > MAX_RECOVERIES || snd_pcm_recover(p->pcm, (int)n, 1) < 0)
                return play_failed(p, (int)n, err);
            continue;
        }
        p->head = (p->head + (size_t)n) % p->cap;
        p->len -= (size_t)n;
    }
    if (!p->len)
        p->head = 0;
    return 0;
}

/* Room for `want` more frames, up to the bound; the queue is made contiguous from 0. */
static void grow(audio_play *p, size_t want)
{
    if (p->cap - p->len >= want || p->cap >= p->max)
        return;
    size_t cap = p->cap ? p->cap : (size_t)PLAY_GROW_S * p->rate;
    while (cap - p->len < want && cap < p->max)
        cap *= 2;
    if (cap > p->max)
        cap = p->max;
    int16_t *ring = gl_xmalloc(cap * sizeof *ring);
    size_t first = p->cap - p->head < p->len ? p->cap - p->head : p->len;
    if (p->len) {
        memcpy(ring, p->ring + p->head, first * sizeof *ring);
        memcpy(ring + first, p->ring, (p->len - first) * sizeof *ring);
    }
    free(p->ring);
    p->ring = ring;
    p->cap = cap;
    p->head = 0;
}

long audio_play_queue(audio_play *p, const void *pcm, size_t bytes, gl_err *err)
{
    size_t frames = bytes / 2;
    grow(p, frames);
    size_t room = p->cap - p->len;
    size_t take = frames < room ? frames : room;
    const unsigned char *src = pcm;
    size_t tail = (p->head + p->len) % (p->cap ? p->cap : 1);
    size_t first = p->cap - tail < take ? p->cap - tail : take;
    if (take) {
        memcpy(p->ring + tail, src, first * 2); /* bytes: the source may be unaligned */
        memcpy(p->ring, src + first * 2, (take - first) * 2);
    }
    p->len += take;
    if (pump(p, err) < 0)
        return -1;
    return (long)(frames - take);
}

int audio_play_pollfds(audio_play *p, struct pollfd *fds, int max)
{
    return p->len ? pollfds(p->pcm, fds, max) : 0;
}

int audio_play_ready(audio_play *p, struct pollfd *fds, int n, gl_err *err)
{
    unsigned short revents;
    int rc = n > 0 ? snd_pcm_poll_descriptors_revents(p->pcm, fds, (unsigned)n, &revents) : 0;
    if (rc < 0)
        return play_failed(p, rc, err);
    return pump(p, err);
}

int audio_play_flush(audio_play *p, gl_err *err)
{
    if (pump(p, err) < 0)
        return -1;
    snd_pcm_sframes_t avail = snd_pcm_avail_update(p->pcm);
    if (snd_pcm_state(p->pcm) == SND_PCM_STATE_PREPARED && avail >= 0 &&
        (snd_pcm_uframes_t)avail < p->buffer) {
        int rc = snd_pcm_start(p->pcm);
        if (rc < 0)
            return play_failed(p, rc, err);
    }
    return 0;
}

/* Frames in the device not yet played (0 when it stopped, e.g. after an underrun). */
static size_t device_frames(audio_play *p)
{
    snd_pcm_state_t st = snd_pcm_state(p->pcm);
    if (st != SND_PCM_STATE_RUNNING && st != SND_PCM_STATE_PREPARED && st != SND_PCM_STATE_DRAINING)
        return 0;
    snd_pcm_sframes_t d;
    if (snd_pcm_delay(p->pcm, &d) < 0 || d < 0)
        return 0;
    return (size_t)d;
}

unsigned audio_play_pending_ms(audio_play *p)
{
    return (unsigned)((p->len + device_frames(p)) * 1000 / p->rate);
}

bool audio_play_idle(audio_play *p)
{
    return p->len == 0 && device_frames(p) == 0;
}

unsigned audio_play_drop(audio_play *p)
{
    unsigned ms = audio_play_pending_ms(p);
    p->len = p->head = 0;
    snd_pcm_drop(p->pcm);
    snd_pcm_prepare(p->pcm); /* a failure shows at the next write, which recovers or says so */
    return ms;
}
