/* The recordings the emulator recognises (emulator/voice.c): the WAVs of tests/data/, embedded
 * at build time (paths relative to the repository root, where make runs). Like
 * default_script.c: -MMD does not see .incbin, so the Makefile makes this object depend on the
 * WAVs. Each symbol pair brackets one whole file; voice.c parses the WAV headers. */
#include "emulator/voice.h"

#define EMBED(sym, path)                                                                     \
    ".global " #sym "\n.hidden " #sym "\n.type " #sym ", @object\n.balign 16\n" #sym ":\n"   \
    ".incbin \"" path "\"\n"                                                                 \
    ".global " #sym "_end\n.hidden " #sym "_end\n" #sym "_end:\n"

__asm__(".section .rodata\n"
        EMBED(emu_wav_hello, "tests/data/voice-hello.wav")
        EMBED(emu_wav_lights, "tests/data/voice-lights.wav")
        EMBED(emu_wav_palindrome, "tests/data/voice-palindrome.wav")
        EMBED(emu_wav_stop, "tests/data/voice-stop.wav")
        ".previous\n");
