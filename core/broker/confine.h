/**
 * @file confine.h
 * @brief Private to core/broker/: what confines a filter worker beyond its rlimits (pool.h).
 *
 *  - a seccomp filter (classic BPF), installed by the worker after its own setup and before any
 *    filter is loaded, refusing with EPERM: fork, vfork, clone without CLONE_THREAD (threads stay
 *    allowed), execve, execveat (clone3 gets ENOSYS, so that libc falls back to clone), unless
 *    [broker] worker_allow has `processes`; socket() of every family, AF_UNIX included (a local
 *    socket reaches the broker's own ipc:// control socket), unless it has `network`; always:
 *    ptrace, process_vm_readv/writev, pidfd_send_signal, pidfd_getfd, process_madvise, signals
 *    (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open) aimed at another process
 *    than the worker (kill(0) and its own pid stay allowed: abort() and raise() work), setsid and
 *    setpgid (leaving the process group the broker kills whole), unshare, setns, mount, umount2,
 *    pivot_root, chroot, io_uring_setup (its operations bypass seccomp), bpf, perf_event_open,
 *    module and kexec calls, reboot; syscalls of another ABI (x32, i386 on x86_64). Only x86_64
 *    and aarch64 have it; elsewhere the broker logs a warning and workers run without it;
 *  - optionally another user ([broker] worker_user), taken by the worker once the store is open
 *    (the store's lock file needs its uid) and before the set loads;
 *  - its stdout and stderr: two memfds of fixed size (SSI_CAPTURE_MAX, sealed against growing:
 *    a write past the end fails, it never blocks and never takes more memory), which the worker
 *    reads back after each filter's run and sends to the broker as 'O' frames (wire.h), tagged
 *    with that filter; the broker logs them a line at a time, at most SSI_OUT_LINES lines per
 *    SSI_OUT_WINDOW_S seconds per filter, then one line saying how many it left out.
 */
#ifndef SS_BROKER_CONFINE_H
#define SS_BROKER_CONFINE_H

#include "err.h"
#include "log.h"
#include "ratelimit.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** [broker] worker_allow: what a worker may do that it otherwise may not. */
#define SSI_ALLOW_NETWORK   1u /**< socket(), every family */
#define SSI_ALLOW_PROCESSES 2u /**< fork, vfork, clone, clone3, execve, execveat */

/** Bytes of stdout (and of stderr) kept per filter run: what is written past them is lost. */
#define SSI_CAPTURE_MAX 8192
/** The broker logs at most SSI_OUT_LINES lines of output per filter per SSI_OUT_WINDOW_S. */
#define SSI_OUT_LINES    20
#define SSI_OUT_WINDOW_S 10.0

/** Parse a worker_allow list ("network, processes"; empty: nothing). @return 0, or -1. */
int ssi_allow_parse(const char *list, uint32_t *out);

/** 1 when this architecture has the seccomp filter (x86_64, aarch64). */
int ssi_seccomp_supported(void);

/**
 * Install the seccomp filter in the calling process (and its threads), for good: nothing lifts it.
 * @p allow is SSI_ALLOW_*. Needs PR_SET_NO_NEW_PRIVS (set by the broker before exec) or root.
 * @return 0 (also where the architecture has none: see ssi_seccomp_supported()), or an error.
 */
int ssi_seccomp_install(uint32_t allow, ss_err *err);

/** Become @p uid with @p gid as the only group, for good. @return 0, or an error. */
int ssi_become_user(uid_t uid, gid_t gid, ss_err *err);

/**
 * A fresh capture memfd: SSI_CAPTURE_MAX bytes, sealed against growing and shrinking,
 * close-on-exec.
 * @return the fd (the caller owns it), or -1 with errno set.
 */
int ssi_capture_create(const char *name);

/**
 * What was written to capture @p fd since the last take (at most SSI_CAPTURE_MAX bytes), copied to
 * @p buf; the writing position goes back to the start. *@p cut is 1 when the memfd was full, so
 * that later writes may have failed. @return the bytes copied.
 */
size_t ssi_capture_take(int fd, char *buf, int *cut);

/** The broker's limit on one filter's (or one worker's) output lines: at most SSI_OUT_LINES per
 * SSI_OUT_WINDOW_S; the caller owns it (ss_ratelimit_free()). NULL when out of memory. */
ss_ratelimit *ssi_output_limit_new(void);

/**
 * Log @p len bytes of captured output as lines "WHO STREAM: text" (@p who e.g. "filter=jump",
 * @p stream 1 stdout, 2 stderr), through @p rl (NULL: nothing is logged); @p cut adds a line
 * saying the run wrote more. Control characters become '?', long lines are shortened.
 */
void ssi_output_log(const ss_log *lg, ss_ratelimit *rl, const char *who, int stream,
                    const char *text, size_t len, int cut);

/** Once @p rl's window is over: log how many lines it left out (if any). */
void ssi_output_flush(const ss_log *lg, ss_ratelimit *rl);

#endif
