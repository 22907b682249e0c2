#define _GNU_SOURCE
#include "CProcessControl.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
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

int spike_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int in, int out, int err, int own_group) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int failed = posix_spawn_file_actions_init(&actions);
    if (failed) return failed;
    failed = posix_spawnattr_init(&attributes);
    if (failed) {
        posix_spawn_file_actions_destroy(&actions);
        return failed;
    }
    const int sources[3] = {in, out, err};
    for (int target = 0; target < 3 && !failed; target++) failed = posix_spawn_file_actions_adddup2(&actions, sources[target], target);
    if (!failed) failed = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    // A thread of the caller may block signals (the test runner blocks SIGTERM) or a library may
    // ignore some (SIGPIPE): a child inherits both across exec unless told otherwise.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (own_group ? POSIX_SPAWN_SETPGROUP : 0);
    if (!failed) failed = posix_spawnattr_setsigmask(&attributes, &none);
    if (!failed) failed = posix_spawnattr_setsigdefault(&attributes, &all);
    if (!failed && own_group) failed = posix_spawnattr_setpgroup(&attributes, 0);
    if (!failed) failed = posix_spawnattr_setflags(&attributes, flags);
    if (!failed) failed = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return failed;
}
