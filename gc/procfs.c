/* procfs: small /proc reads and the resident set. See procfs.h.
 *
 * /proc/self/statm (proc(5)): "size resident shared text lib data dt", in pages; the
 * second figure is what /proc/self/status calls VmRSS.
 */
#include "gc/procfs.h"

#include <fcntl.h>
#include <stdatomic.h>
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

/* /proc/self/statm, opened once and kept: a read at offset 0 gives the figures of that
 * moment. Opening it per call failed exactly when RSS mattered most, with every
 * descriptor taken by connections (the heap profile's trailer then printed
 * "RSS = -1 kB"). -1 until the first call; racing first calls keep one descriptor and
 * close the other. */
static _Atomic int statm_fd = -1;

static int statm_descriptor(void)
{
    int fd = atomic_load_explicit(&statm_fd, memory_order_acquire);
    if (fd >= 0) return fd;
    fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int none = -1;
    if (!atomic_compare_exchange_strong(&statm_fd, &none, fd)) {
        close(fd);
        return none;
    }
    return fd;
}

int64_t procfs_rss_bytes(void)
{
    char buf[128];
    unsigned long long size, resident;
    int fd = statm_descriptor();
    if (fd < 0) return -1;
    ssize_t len = pread(fd, buf, sizeof buf - 1, 0);
    if (len < 0) return -1;
    buf[len] = '\0';
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return errors_fail(EINVAL);
    return (int64_t)resident * sysconf(_SC_PAGESIZE);
}
