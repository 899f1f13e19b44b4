/* Confining a filter worker: seccomp, another user, captured output (confine.h). */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int ssi_allow_parse(const char *list, uint32_t *out)
{
    *out = 0;
    for (const char *p = list; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == 7 && !strncmp(p, "network", n))
            *out |= SSI_ALLOW_NETWORK;
        else if (n == 9 && !strncmp(p, "processes", n))
            *out |= SSI_ALLOW_PROCESSES;
        else if (n)
            return -1;
        p += n;
    }
    return 0;
}

/* ---- seccomp ---- */

#if defined(__x86_64__)
#define SSI_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SSI_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef SSI_AUDIT_ARCH

#define SSI_PROG_MAX 160

/* A program under construction: jumps are relative, so each rule is a self-contained block. */
typedef struct ssi_prog {
    struct sock_filter f[SSI_PROG_MAX];
    size_t n;
    int overflow;
} ssi_prog;

static void ssi_emit(ssi_prog *p, struct sock_filter ins)
{
    if (p->n < SSI_PROG_MAX)
        p->f[p->n++] = ins;
    else
        p->overflow = 1;
}

#define SSI_RET(v)        (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, (v))
#define SSI_REFUSE(e)     SSI_RET(SECCOMP_RET_ERRNO | ((e)&SECCOMP_RET_DATA))
#define SSI_LOAD(off)     (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define SSI_NR            offsetof(struct seccomp_data, nr)
#define SSI_ARG_LOW(i)    offsetof(struct seccomp_data, args[i]) /* both are little-endian */
#define SSI_JEQ(k, t, f)  (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define SSI_JSET(k, t, f) (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (k), (t), (f))

/* Syscall @p nr fails with @p e. The accumulator keeps the syscall number. */
static void ssi_refuse(ssi_prog *p, long nr, int e)
{
    ssi_emit(p, SSI_JEQ((uint32_t)nr, 0, 1));
    ssi_emit(p, SSI_REFUSE(e));
}

/* Syscall @p nr is allowed when the low 32 bits of argument @p arg (a pid_t: the kernel looks at
 * no more) are @p a or @p b, and fails with EPERM otherwise. */
static void ssi_only_self(ssi_prog *p, long nr, unsigned arg, uint32_t a, uint32_t b)
{
    ssi_emit(p, SSI_JEQ((uint32_t)nr, 0, 5));
    ssi_emit(p, SSI_LOAD(SSI_ARG_LOW(arg)));
    ssi_emit(p, SSI_JEQ(a, 2, 0));
    ssi_emit(p, SSI_JEQ(b, 1, 0));
    ssi_emit(p, SSI_REFUSE(EPERM));
    ssi_emit(p, SSI_RET(SECCOMP_RET_ALLOW));
}

/* clone: a thread (CLONE_THREAD) is allowed, a process is not. */
static void ssi_threads_only(ssi_prog *p)
{
    ssi_emit(p, SSI_JEQ((uint32_t)__NR_clone, 0, 4));
    ssi_emit(p, SSI_LOAD(SSI_ARG_LOW(0))); /* flags, first on both architectures */
    ssi_emit(p, SSI_JSET(CLONE_THREAD, 1, 0));
    ssi_emit(p, SSI_REFUSE(EPERM));
    ssi_emit(p, SSI_RET(SECCOMP_RET_ALLOW));
}

/* Refused whatever worker_allow says: other processes, the process group, namespaces, the kernel.
 */
static const long ssi_always_refused[] = {
    __NR_ptrace,
    __NR_process_vm_readv,
    __NR_process_vm_writev,
    __NR_pidfd_send_signal,
    __NR_setsid,
    __NR_setpgid,
    __NR_unshare,
    __NR_setns,
    __NR_mount,
    __NR_umount2,
    __NR_pivot_root,
    __NR_chroot,
    __NR_bpf,
    __NR_perf_event_open,
    __NR_init_module,
    __NR_finit_module,
    __NR_reboot,
    __NR_delete_module,
    __NR_kexec_load,
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
#ifdef __NR_pidfd_getfd
    __NR_pidfd_getfd,
#endif
#ifdef __NR_process_madvise
    __NR_process_madvise,
#endif
#ifdef __NR_io_uring_setup
    __NR_io_uring_setup,
#endif
};

static void ssi_processes(ssi_prog *p)
{
#ifdef __NR_fork
    ssi_refuse(p, __NR_fork, EPERM);
#endif
#ifdef __NR_vfork
    ssi_refuse(p, __NR_vfork, EPERM);
#endif
    ssi_refuse(p, __NR_execve, EPERM);
    ssi_refuse(p, __NR_execveat, EPERM);
#ifdef __NR_clone3
    ssi_refuse(p, __NR_clone3, ENOSYS); /* its flags are out of reach: libc falls back to clone */
#endif
    ssi_threads_only(p);
}

static void ssi_build(ssi_prog *p, uint32_t allow, uint32_t self)
{
    ssi_emit(p, SSI_LOAD(offsetof(struct seccomp_data, arch)));
    ssi_emit(p, SSI_JEQ(SSI_AUDIT_ARCH, 1, 0));
    ssi_emit(p, SSI_REFUSE(EPERM)); /* another ABI (i386 through int 0x80) */
    ssi_emit(p, SSI_LOAD(SSI_NR));
#if defined(__x86_64__)
    ssi_emit(p, SSI_JSET(0x40000000u /* __X32_SYSCALL_BIT */, 0, 1));
    ssi_emit(p, SSI_REFUSE(EPERM));
#endif
    for (size_t i = 0; i < sizeof ssi_always_refused / sizeof *ssi_always_refused; i++)
        ssi_refuse(p, ssi_always_refused[i], EPERM);
    ssi_only_self(p, __NR_kill, 0, 0, self); /* 0: its own process group */
    ssi_only_self(p, __NR_tkill, 0, self, self);
    ssi_only_self(p, __NR_tgkill, 0, self, self);
    ssi_only_self(p, __NR_rt_sigqueueinfo, 0, self, self);
    ssi_only_self(p, __NR_rt_tgsigqueueinfo, 0, self, self);
#ifdef __NR_pidfd_open
    ssi_only_self(p, __NR_pidfd_open, 0, self, self);
#endif
    if (!(allow & SSI_ALLOW_PROCESSES))
        ssi_processes(p);
    if (!(allow & SSI_ALLOW_NETWORK))
        ssi_refuse(p, __NR_socket, EPERM);
    ssi_emit(p, SSI_RET(SECCOMP_RET_ALLOW));
}

int ssi_seccomp_supported(void)
{
    return 1;
}

int ssi_seccomp_install(uint32_t allow, ss_err *err)
{
    ssi_prog p = {.n = 0};
    ssi_build(&p, allow, (uint32_t)getpid());
    if (p.overflow)
        return ss_err_set(err, SS_EINVAL, "worker: the seccomp program is too long");
    struct sock_fprog prog = {(unsigned short)p.n, p.f};
    /* TSYNC: a thread started by a library at load time is covered as well */
    if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
        return ss_err_set(err, errno, "worker: installing the seccomp filter: %s", strerror(errno));
    return 0;
}

#else /* no seccomp program for this architecture */

int ssi_seccomp_supported(void)
{
    return 0;
}

int ssi_seccomp_install(uint32_t allow, ss_err *err)
{
    (void)allow, (void)err;
    return 0;
}

#endif

/* ---- another user ---- */

int ssi_become_user(uid_t uid, gid_t gid, ss_err *err)
{
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        return ss_err_set(err, errno, "worker: becoming uid %u gid %u: %s", (unsigned)uid,
                          (unsigned)gid, strerror(errno));
    if (getuid() != uid || geteuid() != uid ||
        (uid != 0 && setuid(0) == 0)) /* for good: no way back */
        return ss_err_set(err, EPERM, "worker: still able to become root after setuid(%u)",
                          (unsigned)uid);
    return 0;
}

/* ---- captured output ---- */

int ssi_capture_create(const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, SSI_CAPTURE_MAX) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

size_t ssi_capture_take(int fd, char *buf, int *cut)
{
    *cut = 0;
    off_t end = lseek(fd, 0, SEEK_CUR); /* the writers' position: they share the description */
    if (end <= 0)
        return 0;
    size_t want = end > SSI_CAPTURE_MAX ? SSI_CAPTURE_MAX : (size_t)end;
    ssize_t got = pread(fd, buf, want, 0);
    lseek(fd, 0, SEEK_SET);
    *cut = end >= SSI_CAPTURE_MAX;
    return got > 0 ? (size_t)got : 0;
}

#define SSI_LINE_MAX 400 /* characters of one output line in the log */

ss_ratelimit *ssi_output_limit_new(void)
{
    return ss_ratelimit_new(SSI_OUT_LINES, SSI_OUT_WINDOW_S, NULL, NULL);
}

static void ssi_output_note(const ss_log *lg, const ss_ratelimit_note *note)
{
    if (note->suppressed)
        ss_log_line(lg, SS_LOG_WARN,
                    "%s output: %llu lines suppressed in %.0f s (at most %d lines per %.0f s are "
                    "logged)",
                    note->key, (unsigned long long)note->suppressed, note->seconds, SSI_OUT_LINES,
                    SSI_OUT_WINDOW_S);
}

static void ssi_output_line(const ss_log *lg, ss_ratelimit *rl, const char *who, int stream,
                            const char *s, size_t n)
{
    ss_ratelimit_note note;
    int take = rl && ss_ratelimit_take(rl, who, &note);
    if (rl)
        ssi_output_note(lg, &note);
    if (!take)
        return;
    char line[SSI_LINE_MAX + 1];
    size_t k = n < SSI_LINE_MAX ? n : SSI_LINE_MAX;
    for (size_t i = 0; i < k; i++) { /* one log line each, whatever the filter wrote */
        unsigned char c = (unsigned char)s[i];
        line[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    line[k] = '\0';
    ss_log_line(lg, SS_LOG_INFO, "%s %s: %s%s", who, stream == 1 ? "stdout" : "stderr", line,
                n > k ? " [...]" : "");
}

void ssi_output_flush(const ss_log *lg, ss_ratelimit *rl)
{
    ss_ratelimit_note note;
    if (!rl)
        return;
    ss_ratelimit_tick(rl, &note);
    ssi_output_note(lg, &note);
}

void ssi_output_log(const ss_log *lg, ss_ratelimit *rl, const char *who, int stream,
                    const char *text, size_t len, int cut)
{
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        ssi_output_line(lg, rl, who, stream, text + at, n);
        at += n + (nl != NULL);
    }
    if (cut) {
#define SSI_STR2(x) #x
#define SSI_STR(x)  SSI_STR2(x)
        static const char note[] =
            "[more output of this run was dropped: over " SSI_STR(SSI_CAPTURE_MAX) " bytes]";
        ssi_output_line(lg, rl, who, stream, note, sizeof note - 1);
    }
}
