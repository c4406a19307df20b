/* The built-in model script: emulator/default-script.json, embedded at build time (the path is
 * relative to the repository root, where make runs), followed by a NUL so it is a C string.
 * Note: the compiler's -MMD does not see .incbin, so the object must depend on the JSON in the
 * Makefile for an edit of the JSON to trigger a rebuild. */
#include "emulator/model_priv.h"

__asm__(".section .rodata\n"
        ".global emu_default_script_json\n"
        ".hidden emu_default_script_json\n"
        ".type emu_default_script_json, @object\n"
        ".balign 16\n"
        "emu_default_script_json:\n"
        ".incbin \"emulator/default-script.json\"\n"
        ".byte 0\n"
        ".size emu_default_script_json, . - emu_default_script_json\n"
        ".previous\n");
