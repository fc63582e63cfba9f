/* test_atomic.c — atomic writes (rt_atomic.c): the content lands whole, no
 * temporary file is left behind, a failure names the path and the reason;
 * and rt_fail's NULL error (rt_util.c), which every failure path relies on. */
#include "files.h"
#include "rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_atomic(const char *dir)
{
    char path[512], bad[512];
    rt_error err;
    snprintf(path, sizeof path, "%s/a.npy", dir);

    /* atomic write: content lands, no temporary file is left behind */
    const char text[] = "hello\n";
    CHECK(rt_write_atomic(path, text, 6, &err) == 0, "rt_write_atomic succeeds");
    CHECK(rt_write_atomic(path, text, 3, &err) == 0 && file_size(path) == 3,
          "rt_write_atomic replaces an existing file");
    CHECK(count_entries(dir) == 1, "rt_write_atomic leaves no temporary file behind");
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.bin", dir);
    CHECK(rt_write_atomic(bad, text, 6, &err) == -1 && contains(err.msg, bad) &&
              contains(err.msg, "No such file"),
          "rt_write_atomic reports path and strerror on failure");
    CHECK(count_entries(dir) == 1, "a failed atomic write leaves nothing behind");
    CHECK(rt_fail(NULL, "x %d", 1) == -1, "rt_fail with a NULL error returns -1");
    unlink(path);
}

int main(void)
{
    in_temp_dir("test_atomic", test_atomic);
    CHECK_DONE();
}
