/* Turn detection and per-turn analysis of realtime audio (see hear.h). */
#include "emulator/hear.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define FRAMES_PER_S (1000 / EMU_FRAME_MS)

struct emu_hear {
    emu_hear_cfg cfg;
    unsigned prefix_frames, silence_frames;
    /* framing: frame k of the current grid covers samples [k rate/50, (k+1) rate/50) */
    unsigned rate; /* 0: no audio yet */
    uint64_t k;
    int16_t frame[EMU_FRAME_MAX];
    size_t ffill;
    uint8_t odd;
    bool has_odd;
    /* the turn being collected (automatic: the audio since the previous turn ended) */
    bool open;     /* manual: inside activityStart..activityEnd; automatic: always */
    bool speech;   /* automatic: speech has started */
    uint64_t bytes;
    uint64_t samples;  /* at the current rate */
    uint64_t prev_ns;  /* time at earlier rates */
    emu_spectrum spec;
    emu_frame *frames; /* EMU_HEAR_MAX_FRAMES of room */
    size_t nframes;
    bool truncated;
    unsigned run, quiet; /* consecutive speech frames before the start, silent ones after it */
    uint64_t fcount;     /* frames of the turn so far (kept or not) */
    uint64_t first, last;
    bool any;            /* first/last are set */
};

emu_hear *emu_hear_new(const emu_hear_cfg *cfg)
{
    emu_hear *h = gl_xcalloc(1, sizeof *h);
    h->cfg = *cfg;
    h->prefix_frames = (cfg->prefix_ms + EMU_FRAME_MS - 1) / EMU_FRAME_MS;
    if (h->prefix_frames < 1)
        h->prefix_frames = 1;
    h->silence_frames = (cfg->silence_ms + EMU_FRAME_MS - 1) / EMU_FRAME_MS;
    if (h->silence_frames < 1)
        h->silence_frames = 1;
    h->open = !cfg->manual;
    h->frames = gl_xcalloc(EMU_HEAR_MAX_FRAMES, sizeof *h->frames);
    return h;
}

void emu_hear_free(emu_hear *h)
{
    if (!h)
        return;
    emu_spectrum_free(&h->spec);
    free(h->frames);
    free(h);
}

bool emu_hear_in_turn(const emu_hear *h)
{
    return h->cfg.manual ? h->open : h->speech;
}

static void reset_turn(emu_hear *h)
{
    h->speech = false;
    h->bytes = h->samples = h->prev_ns = 0;
    emu_spectrum_reset(&h->spec);
    h->nframes = 0;
    h->truncated = false;
    h->run = h->quiet = 0;
    h->fcount = 0;
    h->any = false;
}

/* A new frame grid (a new rate, or a new manual turn); a partial frame is dropped: its samples
 * were counted, only their features are lost. */
static void restart_grid(emu_hear *h)
{
    h->k = 0;
    h->ffill = 0;
}

static size_t frame_len(const emu_hear *h)
{
    return (size_t)((h->k + 1) * h->rate / FRAMES_PER_S - h->k * h->rate / FRAMES_PER_S);
}

static void set_rate(emu_hear *h, unsigned rate)
{
    if (h->rate == rate)
        return;
    if (h->rate)
        h->prev_ns += h->samples * 1000000000ull / h->rate;
    h->samples = 0;
    h->has_odd = false; /* half a sample of the old stream */
    h->rate = rate;
    /* the spectrum's bins depend on the rate: the analysis restarts with it */
    emu_spectrum_init(&h->spec, rate);
    restart_grid(h);
}

static void keep(emu_hear *h, emu_frame f)
{
    if (!h->cfg.manual && !h->speech && h->nframes == EMU_HEAR_PREROLL) {
        /* no speech yet: only the last EMU_HEAR_PREROLL frames matter */
        memmove(h->frames, h->frames + 1, (EMU_HEAR_PREROLL - 1) * sizeof *h->frames);
        h->nframes--;
    }
    if (h->nframes < EMU_HEAR_MAX_FRAMES)
        h->frames[h->nframes++] = f;
    else
        h->truncated = true;
}

static void finish(emu_hear *h, emu_heard *out)
{
    memset(out, 0, sizeof *out);
    out->rate = h->rate;
    out->bytes = h->bytes;
    uint64_t ns = h->prev_ns + (h->rate ? h->samples * 1000000000ull / h->rate : 0);
    out->duration_ms = (unsigned)((ns + 500000) / 1000000);
    out->speech_ms = h->any ? (unsigned)((h->last - h->first + 1) * EMU_FRAME_MS) : 0;
    out->dominant_hz = emu_spectrum_peak_hz(&h->spec);
    out->truncated = h->truncated;
    emu_voice_match_frames(h->frames, h->nframes, &out->match);
    reset_turn(h);
}

/* One frame of n samples (h->frame); returns the event it makes. */
static emu_hear_event frame_done(emu_hear *h, size_t n, bool events, emu_heard *out)
{
    emu_frame f = emu_frame_of(h->frame, n, h->rate);
    emu_spectrum_add(&h->spec, h->frame, n);
    keep(h, f);
    uint64_t idx = h->fcount++;
    bool loud = f.db >= h->cfg.speech_db; /* any sound is activity, whatever its band */
    if (h->cfg.manual || h->speech) {
        if (loud) {
            if (!h->any)
                h->first = idx;
            h->last = idx;
            h->any = true;
            h->quiet = 0;
        } else if (!h->cfg.manual && events && ++h->quiet >= h->silence_frames) {
            finish(h, out);
            return EMU_HEAR_END;
        }
        return EMU_HEAR_NOTHING;
    }
    h->run = loud ? h->run + 1 : 0;
    if (!events || h->run < h->prefix_frames)
        return EMU_HEAR_NOTHING;
    h->speech = true;
    h->first = idx + 1 - h->run;
    h->last = idx;
    h->any = true;
    h->quiet = 0;
    return EMU_HEAR_START;
}

static emu_hear_event push(emu_hear *h, int16_t s, emu_heard *out)
{
    if (!h->open)
        return EMU_HEAR_NOTHING; /* manual, outside an activity: not part of any turn */
    h->frame[h->ffill++] = s;
    h->samples++;
    h->bytes += 2;
    if (h->ffill < frame_len(h))
        return EMU_HEAR_NOTHING;
    size_t n = h->ffill;
    h->ffill = 0;
    h->k++;
    return frame_done(h, n, true, out);
}

size_t emu_hear_feed(emu_hear *h, const uint8_t *data, size_t len, unsigned rate,
                     emu_hear_event *ev, emu_heard *out)
{
    set_rate(h, rate);
    *ev = EMU_HEAR_NOTHING;
    size_t i = 0;
    if (h->has_odd && len) {
        h->has_odd = false;
        i = 1;
        if ((*ev = push(h, (int16_t)(uint16_t)(h->odd | data[0] << 8), out)) != EMU_HEAR_NOTHING)
            return i;
    }
    while (i + 1 < len) {
        int16_t s = (int16_t)(uint16_t)(data[i] | data[i + 1] << 8);
        i += 2;
        if ((*ev = push(h, s, out)) != EMU_HEAR_NOTHING)
            return i;
    }
    if (i < len) {
        h->odd = data[i++];
        h->has_odd = true;
    }
    return i;
}

/* The partial frame at the end of a turn counts, as a shorter frame. */
static void flush_partial(emu_hear *h)
{
    if (h->ffill) {
        emu_heard unused;
        frame_done(h, h->ffill, false, &unused);
    }
    restart_grid(h);
    h->has_odd = false;
}

bool emu_hear_stream_end(emu_hear *h, emu_heard *out)
{
    if (h->cfg.manual)
        return false;
    flush_partial(h);
    if (!h->speech) {
        reset_turn(h); /* silence, or speech too short to start a turn: nothing to answer */
        return false;
    }
    finish(h, out);
    return true;
}

void emu_hear_activity_start(emu_hear *h)
{
    if (!h->cfg.manual || h->open)
        return;
    reset_turn(h);
    restart_grid(h);
    h->has_odd = false;
    h->open = true;
}

bool emu_hear_activity_end(emu_hear *h, emu_heard *out)
{
    if (!h->cfg.manual || !h->open)
        return false;
    flush_partial(h);
    finish(h, out);
    h->open = false;
    return true;
}
