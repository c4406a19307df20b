/* The "programs" the emulator's code execution really runs: the model shows a Python source,
 * and the result it reports is computed here in C. Deterministic. */
#ifndef EMU_COMPUTE_H
#define EMU_COMPUTE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct emu_compute_in {
    const char *program;  /* "largest_prime_palindrome", "sum_to_n", "sleep" */
    const char *prompt;   /* where the argument comes from unless has_arg */
    bool has_arg;
    uint64_t arg;
    unsigned seconds_ms;  /* sleep */
} emu_compute_in;

typedef struct emu_compute_out {
    bool ok;              /* OUTCOME_OK, else OUTCOME_FAILED */
    char *output;         /* malloc'd: what the program printed (or the error), never NULL */
    unsigned delay_ms;    /* how long it "ran" (sleep) */
    uint64_t arg;         /* the argument it used */
} emu_compute_out;

void emu_compute_run(const emu_compute_in *in, emu_compute_out *out);

/* The program argument in a prompt: the integer after "under", "below", "than", "up to", "to"
 * or "until" if any, else the first integer, else dflt. Digits with ',' or '_' separators are
 * one integer ("100,000"). Saturates at 10^18. */
uint64_t emu_prompt_number(const char *prompt, uint64_t dflt);

bool emu_is_prime(uint64_t n);
/* Largest prime palindrome strictly below n; false if there is none (n <= 2). */
bool emu_largest_prime_palindrome(uint64_t below, uint64_t *out);

#endif
