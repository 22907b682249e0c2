#include "CProcessControl.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

void spike_keep_freed_memory(void) {
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
}

void spike_return_large_buffers(void) {
    // A fixed threshold also turns off glibc's raising it to the size of each mapped buffer freed.
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

int spike_disable_core_dumps(void) {
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) return errno;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return errno;
    return 0;
}

int spike_is_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }

int spike_lock_memory(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) == 0 && limit.rlim_cur != limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        (void)setrlimit(RLIMIT_MEMLOCK, &limit);
    }
    // Without CAP_IPC_LOCK a limit below infinity would make later allocations fail once it is
    // reached: lock only when nothing can run into it.
    if (getrlimit(RLIMIT_MEMLOCK, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && geteuid() != 0) return ENOMEM;
    if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) return errno;
    return 0;
}

long spike_locked_kibibytes(void) {
    FILE *status = fopen("/proc/self/status", "r");
    if (status == NULL) return -1;
    char line[256];
    long kibibytes = -1;
    while (fgets(line, sizeof line, status) != NULL) {
        if (strncmp(line, "VmLck:", 6) == 0) { sscanf(line + 6, "%ld", &kibibytes); break; }
    }
    fclose(status);
    return kibibytes;
}
