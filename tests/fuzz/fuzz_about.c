/* fuzz_about — trainc gen --from-binary's reader of the spec a trainer
 * carries (gen/about.c): any file must give the block back whole or a
 * message naming the file; never a crash. What it accepts holds its hash
 * and is, byte for byte, a block about_header would write.
 * Input: the trainer's file. */
#include "about.h"
#include "arena.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, data, size);
    arena A = {0};
    about a;
    char err[2048];
    err[0] = '\0';
    if (about_read(&A, path, &a, err, sizeof err)) {
        FUZZ_REQUIRE(!strncmp(err, path, strlen(path)), "a refusal that does not name the file");
    } else {
        char hash[17];
        about_hash(a.text, a.len, a.sets, a.nsets, hash);
        FUZZ_REQUIRE(!strcmp(hash, a.hash), "a block accepted whose hash does not hold");
        const char *h = about_header(&A, &a);
        size_t hl = strlen(h);
        char *block = arena_alloc(&A, hl + a.len + 1);
        memcpy(block, h, hl);
        memcpy(block + hl, a.text, a.len);
        FUZZ_REQUIRE(memmem(data, size, block, hl + a.len) != NULL,
                     "a block accepted that is not the one in the file");
    }
    arena_free(&A);
    return 0;
}
