// Process settings and spawning that Swift's Glibc module does not reach (malloc.h, sys/prctl.h, spawn.h's
// closefrom action), as C functions.
#ifndef SPIKE_CPROCESSCONTROL_H
#define SPIKE_CPROCESSCONTROL_H

#include <sys/types.h>

/// Keeps freed heap memory in the process instead of giving it back to the kernel at once: for
/// batch readers that allocate and free the same large buffers over and over.
void spike_keep_freed_memory(void);

/// Gives buffers of a mebibyte or more back to the kernel as soon as they are freed: for a server
/// that now and then builds one of tens of megabytes (a snapshot of the Nexus' data), which glibc
/// would otherwise keep in its heap for good once the first such buffer was freed.
void spike_return_large_buffers(void);

/// Makes the process undumpable (`PR_SET_DUMPABLE` 0: no core file, no ptrace by other processes
/// of the same user, /proc/PID/mem closed) and sets `RLIMIT_CORE` to 0. Returns 0, or the errno
/// of the first call that failed.
int spike_disable_core_dumps(void);

/// Locks the process' memory, the pages mapped now and later, each as it is first touched
/// (`mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`), so that key material is never written to
/// swap. RLIMIT_MEMLOCK's soft limit is raised to its hard limit first. Returns 0, or the errno of
/// the failure (EPERM or ENOMEM: the process may not lock that much).
int spike_lock_memory(void);

/// The kibibytes of memory the process has locked (VmLck), or -1 when it cannot be read.
long spike_locked_kibibytes(void);

/// Whether the process is dumpable (1), not (0), or -1 on error.
int spike_is_dumpable(void);

/// Starts `path` (argv, envp: NULL-terminated) with `in`, `out` and `err` as its descriptors 0, 1
/// and 2 and no other descriptor of this process (glibc's closefrom action: nothing opened by
/// another thread meanwhile leaks in either), every signal at its default disposition and none
/// blocked, in a process group of its own when `own_group` is non-zero. Returns 0 and the pid in
/// `pid`, or the errno of the failure.
int spike_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int in, int out, int err, int own_group);

#endif
