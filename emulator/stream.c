/* Messages of the "stream" step (see stream.h). Built with snprintf, not Jansson: the emulator
 * shares two cores with the clients a benchmark measures, so the server side stays cheap. */
#include "emulator/stream.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

size_t emu_stream_text(uint64_t i, bool stamp, uint64_t now_ns, char *buf, size_t len)
{
    int n = stamp ? snprintf(buf, len, "%07" PRIu64 "@%" PRIu64 " ", i, now_ns)
                  : snprintf(buf, len, "%07" PRIu64 " bench text, ", i);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

void emu_stream_pcm(uint64_t i, unsigned char out[EMU_STREAM_AUDIO_CHUNK])
{
    uint64_t k = i * (EMU_STREAM_AUDIO_CHUNK / 2);
    for (size_t j = 0; j < EMU_STREAM_AUDIO_CHUNK; j += 2, k++) {
        unsigned v = (unsigned)(((k * 7919) ^ (k >> 9)) & 0xFFFF);
        out[j] = (unsigned char)(v & 0xFF);
        out[j + 1] = (unsigned char)(v >> 8);
    }
}

size_t emu_stream_msg(const emu_stream *s, uint64_t i, uint64_t now_ns, char *buf)
{
    int n;
    if (s->audio) {
        unsigned char pcm[EMU_STREAM_AUDIO_CHUNK];
        char b64[4 * ((EMU_STREAM_AUDIO_CHUNK + 2) / 3) + 1];
        emu_stream_pcm(i, pcm);
        EVP_EncodeBlock((unsigned char *)b64, pcm, (int)sizeof pcm);
        n = snprintf(buf, EMU_STREAM_MSG_MAX,
                     "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":"
                     "{\"mimeType\":\"audio/pcm;rate=24000\",\"data\":\"%s\"}}]}}}",
                     b64);
    } else {
        char text[64];
        emu_stream_text(i, s->stamp, now_ns, text, sizeof text);
        n = snprintf(buf, EMU_STREAM_MSG_MAX,
                     "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"%s\"}]}}}", text);
    }
    return n < 0 ? 0 : (size_t)n < EMU_STREAM_MSG_MAX ? (size_t)n : EMU_STREAM_MSG_MAX - 1;
}
