/* A paced ALSA PCM for the tests of glivectl's audio devices (tests/integration/test_audio_dev.py),
 * where there is no sound card: an I/O plugin (alsa/pcm_ioplug.h) that plays and records at the
 * real rate, by the monotonic clock, as a sound card does. ALSA's `file` plugin over `null` has no
 * clock: what is written is "played" at once, so nothing is ever waiting in the device for a
 * barge-in to drop, and capture comes as fast as it is read.
 *
 *   pcm_type.glivetest_clock { lib "BUILD/tests/alsa/libasound_module_pcm_glivetest_clock.so" }
 *   pcm.paced { type glivetest_clock; outfile "played.raw"; infile "question.raw" }
 *
 * Playback: the frames the clock has consumed are appended to `outfile` (what a listener heard:
 * frames dropped by snd_pcm_drop never reach it); consuming past what was written is an underrun.
 * Capture: `infile` (raw s16le mono) is what the microphone hears, then silence; not reading for
 * longer than the buffer is an overrun. s16le mono only, 8000..48000 Hz. */
#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct clockpcm {
    snd_pcm_ioplug_t io;
    int timer;               /* ticks every period: what poll waits on */
    int fd;                  /* outfile (playback) or infile (capture); -1: none */
    bool running;
    uint64_t t0_ns;          /* when it started */
    snd_pcm_uframes_t done;  /* frames played or captured since prepare */
} clockpcm;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int16_t *frame_at(snd_pcm_ioplug_t *io, snd_pcm_uframes_t pos)
{
    const snd_pcm_channel_area_t *a = snd_pcm_ioplug_mmap_areas(io);
    return (int16_t *)((char *)a->addr + (a->first + (pos % io->buffer_size) * a->step) / 8);
}

/* Moves `done` to `to`: played frames go to the outfile, captured ones come from the infile. */
static void advance(clockpcm *c, snd_pcm_uframes_t to)
{
    snd_pcm_ioplug_t *io = &c->io;
    while (c->done < to) {
        snd_pcm_uframes_t off = c->done % io->buffer_size;
        snd_pcm_uframes_t n = io->buffer_size - off < to - c->done ? io->buffer_size - off : to - c->done;
        char *p = (char *)frame_at(io, c->done);
        size_t bytes = n * 2;
        if (io->stream == SND_PCM_STREAM_PLAYBACK) {
            if (c->fd >= 0 && write(c->fd, p, bytes) != (ssize_t)bytes)
                SNDERR("glivetest_clock: cannot write the outfile");
        } else {
            ssize_t r = c->fd >= 0 ? read(c->fd, p, bytes) : 0;
            if (r < 0)
                r = 0;
            memset(p + r, 0, bytes - (size_t)r); /* past the infile's end: silence */
        }
        c->done += n;
    }
}

static snd_pcm_sframes_t cp_pointer(snd_pcm_ioplug_t *io)
{
    clockpcm *c = io->private_data;
    if (!c->running)
        return (snd_pcm_sframes_t)(c->done % io->buffer_size);
    snd_pcm_uframes_t clock = (snd_pcm_uframes_t)((now_ns() - c->t0_ns) * io->rate / 1000000000u);
    if (io->stream == SND_PCM_STREAM_PLAYBACK) {
        snd_pcm_uframes_t written = io->appl_ptr;
        if (clock > written) { /* underrun: everything written was played */
            advance(c, written);
            return -EPIPE;
        }
    } else if (clock - io->appl_ptr > io->buffer_size || clock - c->done >= io->buffer_size) {
        return -EPIPE; /* overrun: the application did not read in time */
    }
    advance(c, clock);
    return (snd_pcm_sframes_t)(c->done % io->buffer_size);
}

static int cp_start(snd_pcm_ioplug_t *io)
{
    clockpcm *c = io->private_data;
    /* the clock counts from what was already played (0 after prepare) */
    c->t0_ns = now_ns() - (uint64_t)c->done * 1000000000u / io->rate;
    c->running = true;
    return 0;
}

static int cp_stop(snd_pcm_ioplug_t *io)
{
    ((clockpcm *)io->private_data)->running = false;
    return 0;
}

static int cp_prepare(snd_pcm_ioplug_t *io)
{
    clockpcm *c = io->private_data;
    c->running = false;
    c->done = 0;
    uint64_t ns = (uint64_t)io->period_size * 1000000000u / io->rate;
    struct itimerspec its = {.it_interval = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)}};
    its.it_value = its.it_interval;
    return timerfd_settime(c->timer, 0, &its, NULL) < 0 ? -errno : 0;
}

static int cp_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd, unsigned int nfds, unsigned short *revents)
{
    clockpcm *c = io->private_data;
    uint64_t ticks;
    if (nfds && (pfd[0].revents & POLLIN) && read(c->timer, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
        return -errno;
    snd_pcm_sframes_t avail = snd_pcm_avail_update(io->pcm);
    *revents = avail < 0 ? POLLERR
               : (snd_pcm_uframes_t)avail >= io->period_size
                   ? (io->stream == SND_PCM_STREAM_PLAYBACK ? POLLOUT : POLLIN)
                   : 0;
    return 0;
}

static int cp_close(snd_pcm_ioplug_t *io)
{
    clockpcm *c = io->private_data;
    close(c->timer);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return 0;
}

static const snd_pcm_ioplug_callback_t callbacks = {
    .start = cp_start,
    .stop = cp_stop,
    .pointer = cp_pointer,
    .prepare = cp_prepare,
    .poll_revents = cp_poll_revents,
    .close = cp_close,
};

SND_PCM_PLUGIN_DEFINE_FUNC(glivetest_clock)
{
    (void)root;
    const char *outfile = NULL, *infile = NULL;
    snd_config_iterator_t i, next;
    snd_config_for_each(i, next, conf) {
        snd_config_t *n = snd_config_iterator_entry(i);
        const char *id;
        if (snd_config_get_id(n, &id) < 0)
            continue;
        if (strcmp(id, "comment") == 0 || strcmp(id, "type") == 0 || strcmp(id, "hint") == 0)
            continue;
        if (strcmp(id, "outfile") == 0 && snd_config_get_string(n, &outfile) >= 0)
            continue;
        if (strcmp(id, "infile") == 0 && snd_config_get_string(n, &infile) >= 0)
            continue;
        SNDERR("glivetest_clock: unknown field %s", id);
        return -EINVAL;
    }
    clockpcm *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fd = -1;
    c->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    const char *path = stream == SND_PCM_STREAM_PLAYBACK ? outfile : infile;
    if (path)
        c->fd = stream == SND_PCM_STREAM_PLAYBACK ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                                                  : open(path, O_RDONLY | O_CLOEXEC);
    if (c->timer < 0 || (path && c->fd < 0)) {
        int e = -errno;
        if (c->timer >= 0)
            close(c->timer);
        free(c);
        return e;
    }
    c->io.version = SND_PCM_IOPLUG_VERSION;
    c->io.name = "glivectl's paced test PCM";
    c->io.poll_fd = c->timer;
    c->io.poll_events = POLLIN;
    c->io.mmap_rw = 1;
    c->io.callback = &callbacks;
    c->io.private_data = c;
    int rc = snd_pcm_ioplug_create(&c->io, name, stream, mode);
    if (rc < 0) {
        close(c->timer);
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return rc;
    }
    static const unsigned access[] = {SND_PCM_ACCESS_RW_INTERLEAVED};
    static const unsigned format[] = {SND_PCM_FORMAT_S16_LE};
    if ((rc = snd_pcm_ioplug_set_param_list(&c->io, SND_PCM_IOPLUG_HW_ACCESS, 1, access)) < 0 ||
        (rc = snd_pcm_ioplug_set_param_list(&c->io, SND_PCM_IOPLUG_HW_FORMAT, 1, format)) < 0 ||
        (rc = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_CHANNELS, 1, 1)) < 0 ||
        (rc = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_RATE, 8000, 48000)) < 0 ||
        (rc = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_PERIOD_BYTES, 64, 64 * 1024)) < 0 ||
        (rc = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_BUFFER_BYTES, 128, 1024 * 1024)) < 0 ||
        (rc = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_PERIODS, 2, 1024)) < 0) {
        snd_pcm_ioplug_delete(&c->io); /* calls cp_close */
        return rc;
    }
    *pcmp = c->io.pcm;
    return 0;
}

SND_PCM_PLUGIN_SYMBOL(glivetest_clock);
