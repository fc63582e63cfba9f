/* fuzz_safetensors — --init FILE.safetensors: rt_safetensors_load into a
 * model of three tensors ("fc.weight" [2 x 3], "fc.bias" [2], a scalar
 * count "t" that may be I64), which may hold only some of them. The buffer
 * is exactly the model's size, so a write past it is an ASan report.
 * Input: the file. */
#include <math.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const rt_param_info params[] = {{"fc.weight", 0, 6, 2, {2, 3}, 1, 0, 0},
                                           {"fc.bias", 6, 2, 1, {2}, 1, 0, 0},
                                           {"t", 8, 1, 0, {0}, 0, 1, 1}};
    const char *path = fuzz_file(0, data, size);
    real *buf = malloc(9 * sizeof(real));
    for (int i = 0; i < 9; i++) buf[i] = 7;
    int loaded = -1;
    rt_error err;
    if (rt_safetensors_load(path, params, 3, buf, &loaded, &err)) {
        fuzz_check_refusal(&err, path, NULL);
    } else {
        FUZZ_REQUIRE(loaded >= 0 && loaded <= 3, "loaded %d", loaded);
        for (int i = 0; i < 9; i++)
            FUZZ_REQUIRE(buf[i] - buf[i] == 0, "value %d is %g", i, (double)buf[i]);
        FUZZ_REQUIRE(buf[8] >= 0 && buf[8] <= 9007199254740992.0 && buf[8] == floor(buf[8]),
                     "count %g", (double)buf[8]);
    }
    free(buf);
    return 0;
}
