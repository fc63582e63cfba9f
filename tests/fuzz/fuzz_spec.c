/* fuzz_spec — trainc's spec loader (gen/spec.c): specs are code people
 * download, so any text must end in a graph or a message, within the
 * sandbox's instruction and memory limits; never a crash or a hang.
 * Input: the spec's text. */
#include "arena.h"
#include "fuzz.h"
#include "ir.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, data, size);
    arena A = {0};
    ir_graph g;
    ir_init_graph(&g, &A);
    /* lower than trainc's defaults so a runaway spec stops within -timeout */
    spec_options so = {.instructions = 5000000, .memory = (size_t)32 << 20};
    char err[2048];
    err[0] = '\0';
    if (spec_run(path, &g, &so, err, sizeof err))
        FUZZ_REQUIRE(err[0] != '\0' && memchr(err, '\0', sizeof err),
                     "a refusal without a message");
    arena_free(&A);
    return 0;
}
