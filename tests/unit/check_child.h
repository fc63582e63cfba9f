/* check_child.h — a unit test runs itself again in a child process with an
 * environment variable set: the runtime's kernels choose their path once a
 * process (TRAINC_ACT, TRAINC_CONV), so each path needs a process of its
 * own. The child prints its own "ok" lines; the parent counts whether it
 * passed. */
#ifndef CHECK_CHILD_H
#define CHECK_CHILD_H
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* self again with var=value and the one argument arg: did it pass? */
static int check_child(const char *self, const char *var, const char *value, const char *arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setenv(var, value, 1);
        execl(self, self, arg, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif
