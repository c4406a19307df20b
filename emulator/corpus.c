/* Offline search corpus (see corpus.h). The documents are short, factual and stable. */
#include "emulator/corpus.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#define REDIRECT "https://vertexaisearch.cloud.google.com/grounding-api-redirect/emu-"

static const emu_doc docs[] = {
    {REDIRECT "usgs-cape-mendocino-2024", "usgs.gov",
     "On December 5, 2024 at 10:44 local time (18:44 UTC), a magnitude M7.0 "
     "earthquake struck offshore Cape Mendocino in Humboldt County, California. It was "
     "the largest earthquake in California that week. A tsunami warning was issued for "
     "the coast of northern California and southern Oregon and was later lifted."},
    {REDIRECT "tsunami-warning-lifted-2024", "tsunami.gov",
     "The National Tsunami Warning Center issued a tsunami warning after the M7.0 earthquake "
     "off Cape Mendocino on December 5, 2024. No significant tsunami was observed and the "
     "warning was lifted about an hour later."},
    {REDIRECT "ridgecrest-2019", "wikipedia.org",
     "The 2019 Ridgecrest earthquakes in Southern California were an M6.4 foreshock on July 4 "
     "and an M7.1 mainshock on July 5, 2019, near Ridgecrest in the Mojave Desert."},
    {REDIRECT "palindromic-prime", "wikipedia.org",
     "A palindromic prime is a prime number that is also a palindromic number: it reads the "
     "same forwards and backwards, like 131 or 98689. Every palindrome with an even number of "
     "digits is divisible by 11, so apart from 11 palindromic primes have an odd number of "
     "digits."},
    {REDIRECT "smart-lighting", "wikipedia.org",
     "Smart lighting lets you turn on the lights and turn off the lights from an app or a voice "
     "assistant; a smart bulb or switch connects over Wi-Fi, Zigbee or Bluetooth."},
    {REDIRECT "gemini-live-api", "ai.google.dev",
     "The Gemini Live API enables low-latency, real-time voice and video interactions with "
     "Gemini over a websocket (BidiGenerateContent), with tool use such as function calling, "
     "code execution and Google Search."},
    {REDIRECT "python-time-sleep", "python.org",
     "time.sleep(secs) suspends execution of the calling thread for the given number of "
     "seconds; the argument may be a floating-point number for sub-second precision."},
    {REDIRECT "san-francisco-fog", "wikipedia.org",
     "San Francisco is known for its summer fog, nicknamed Karl, which forms when warm inland "
     "air draws cool, moist marine air through the Golden Gate."},
};
#define NDOCS (sizeof docs / sizeof docs[0])

size_t emu_corpus_size(void)
{
    return NDOCS;
}

const emu_doc *emu_corpus_doc(size_t i)
{
    return i < NDOCS ? &docs[i] : NULL;
}

static const char *const stopwords[] = {
    "a", "about", "an", "and", "are", "at", "be", "by", "can", "did", "do", "for", "from", "how",
    "i", "in", "is", "it", "me", "of", "on", "or", "tell", "that", "the", "this", "to", "use",
    "was", "what", "when", "where", "which", "who", "with", "you", "your", "google", "search",
};

static bool is_stopword(const char *w)
{
    for (size_t i = 0; i < sizeof stopwords / sizeof stopwords[0]; i++)
        if (strcmp(stopwords[i], w) == 0)
            return true;
    return false;
}

/* Next lowercase alphanumeric word of s from *pos into w (cut at wlen-1); false at the end. */
static bool next_word(const char *s, size_t *pos, char *w, size_t wlen)
{
    size_t i = *pos;
    while (s[i] && !isalnum((unsigned char)s[i]))
        i++;
    if (!s[i])
        return false;
    size_t n = 0;
    while (s[i] && isalnum((unsigned char)s[i])) {
        if (n + 1 < wlen)
            w[n++] = (char)tolower((unsigned char)s[i]);
        i++;
    }
    w[n] = '\0';
    *pos = i;
    /* month abbreviations: "Dec 5 2024" finds "December 5, 2024" */
    static const char *const months[] = {"january", "february", "march", "april", "may",
                                         "june", "july", "august", "september", "october",
                                         "november", "december"};
    if (n == 3 || (n == 4 && strcmp(w, "sept") == 0))
        for (size_t m = 0; m < 12; m++)
            if (strncmp(months[m], w, 3) == 0 && strlen(months[m]) < wlen) {
                strcpy(w, months[m]);
                break;
            }
    return true;
}

static bool doc_has_word(const emu_doc *d, const char *word)
{
    char w[64];
    const char *fields[2] = {d->title, d->text};
    for (int f = 0; f < 2; f++) {
        size_t pos = 0;
        while (next_word(fields[f], &pos, w, sizeof w))
            if (strcmp(w, word) == 0)
                return true;
    }
    return false;
}

static unsigned score_doc(const emu_doc *d, const char *query)
{
    char w[64], seen[32][64];
    size_t nseen = 0, pos = 0;
    unsigned score = 0;
    while (next_word(query, &pos, w, sizeof w)) {
        if (is_stopword(w))
            continue;
        bool dup = false;
        for (size_t i = 0; i < nseen && !dup; i++)
            dup = strcmp(seen[i], w) == 0;
        if (dup)
            continue;
        if (nseen < 32)
            memcpy(seen[nseen++], w, sizeof w);
        if (doc_has_word(d, w))
            score++;
    }
    return score;
}

size_t emu_corpus_search(const char *query, size_t *idx, unsigned *scores, size_t max)
{
    unsigned sc[NDOCS];
    for (size_t i = 0; i < NDOCS; i++)
        sc[i] = score_doc(&docs[i], query);
    size_t n = 0;
    bool used[NDOCS] = {0};
    while (n < max) {
        size_t best = NDOCS;
        for (size_t i = 0; i < NDOCS; i++)
            if (!used[i] && sc[i] > 0 && (best == NDOCS || sc[i] > sc[best]))
                best = i;
        if (best == NDOCS)
            break;
        used[best] = true;
        idx[n] = best;
        if (scores)
            scores[n] = sc[best];
        n++;
    }
    return n;
}
