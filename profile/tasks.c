/* tasks: /proc/self/task walks and per-thread files. See tasks.h. */
#include "profile/tasks.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc/procfs.h"

int tasks_list(pid_t *tids, int max)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        pid_t tid = (pid_t)atoi(de->d_name);
        if (tid <= 0) continue;                 /* "." and ".." */
        if (n < max) tids[n] = tid;
        n++;
    }
    closedir(d);
    return n;
}

int tasks_read(pid_t tid, const char *file, char *out, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, file);
    if (procfs_read(path, out, n) < 0) return -1;
    size_t len = strcspn(out, "\n");
    out[len] = '\0';
    return (int)len;
}

int tasks_comm(pid_t tid, char name[TASKS_COMM_LEN])
{
    return tasks_read(tid, "comm", name, TASKS_COMM_LEN) < 0 ? -1 : 0;
}
