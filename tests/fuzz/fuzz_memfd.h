// fuzz_memfd.h — fuzz inputs as files: the readers take paths (mmap / libtiff / stdio), so each
// input is written to an anonymous memory file and opened through /proc/self/fd/N.
#ifndef XT_FUZZ_MEMFD_H
#define XT_FUZZ_MEMFD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

// Returns the fd (path in `path`) or -1. Close with close(fd).
static int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t n) {
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) abort();
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0) abort();
        done += (size_t)k;
    }
    snprintf(path, n, "/proc/self/fd/%d", fd);
    return fd;
}

#endif
