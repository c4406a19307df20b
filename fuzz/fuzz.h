/* What every fuzz target shares: libFuzzer's two entry points and the contract check. */
#ifndef GL_FUZZ_H
#define GL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A broken contract aborts, so libFuzzer reports it like a crash and keeps the input. */
#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
