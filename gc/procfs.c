/* procfs: small /proc reads and the resident set. See procfs.h.
 *
 * /proc/self/statm (proc(5)): "size resident shared text lib data dt", in pages; the
 * second figure is what /proc/self/status calls VmRSS.
 */
#include "gc/procfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "gc/errors.h"

ssize_t procfs_read(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t len = read(fd, buf, n - 1);
    int e = errno;
    close(fd);
    if (len < 0) return errors_fail(e);
    buf[len] = '\0';
    return len;
}

int64_t procfs_rss_bytes(void)
{
    char buf[128];
    unsigned long long size, resident;
    if (procfs_read("/proc/self/statm", buf, sizeof buf) < 0) return -1;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return errors_fail(EINVAL);
    return (int64_t)resident * sysconf(_SC_PAGESIZE);
}
