/* {{header}}
 *
 * about.c — what this trainer was made from, carried inside it: the spec
 * byte for byte (spec.lua in this folder), trainc's version and options,
 * and the compiler and flags it was built with. `{{name}} info --spec`
 * prints the spec, `{{name}} --version` the rest, and `trainc gen
 * --from-binary {{name}}` finds the block below in the trainer's file by
 * its first line, "TRAINC-SPEC 1", and writes this folder again. The
 * block's layout is in trainc's gen/about.c: text lines, then the spec. */
#include "model_api.h"

/* build.ninja passes the compiler and the flags it was given */
#ifndef TRAINC_BUILD_CC
#define TRAINC_BUILD_CC "(a compiler build.ninja did not name)"
#endif
#ifndef TRAINC_BUILD_FLAGS
#define TRAINC_BUILD_FLAGS "(flags build.ninja did not pass)"
#endif
#ifdef __VERSION__
#define TRAINC_BUILD_COMPILER __VERSION__
#else
#define TRAINC_BUILD_COMPILER "unknown"
#endif

/* The block's first lines, then the spec's {{spec_len}} bytes:
{{about_header}}
 */
static const unsigned char about_block[{{about_len}}] = {
{{about_bytes}}
};

const model_about_info model_about = {
    .spec = (const char *)about_block + {{spec_at}},
    .spec_len = {{spec_len}},
    .cc = TRAINC_BUILD_CC,
    .compiler = TRAINC_BUILD_COMPILER,
    .flags = TRAINC_BUILD_FLAGS,
    .options = {{about_options}},
};
