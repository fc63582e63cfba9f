/* fuzz_metrics — the curves picture: rt_plot_metrics reads a metrics CSV
 * and writes an SVG (atomically) into a scratch folder. Input: the CSV. An
 * accepted file leaves a picture; a refused one names the CSV. */
#include "fuzz.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char svg[64];
    if (!svg[0]) {
        char dir[] = "/tmp/trainc-fuzz-metrics-XXXXXX";
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
        snprintf(svg, sizeof svg, "%s/m.svg", dir);
    }
    const char *path = fuzz_file(0, data, size);
    rt_plot_options po = {.title = "fuzz", .source = path, .no_accuracy = size % 2};
    rt_error err;
    unlink(svg);
    struct stat st;
    if (rt_plot_metrics(path, svg, &po, &err))
        fuzz_check_refusal(&err, path, NULL);
    else
        FUZZ_REQUIRE(stat(svg, &st) == 0 && st.st_size > 0, "no picture for an accepted file");
    return 0;
}
