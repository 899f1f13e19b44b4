#include "lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct ss_lockfile {
    int fd;
};

/* "skysieve run" from /proc/self/cmdline (the program's base name and its first argument), so a
 * refused user learns which command holds the role, not only its pid. */
static void ssi_own_cmd(char *out, size_t cap)
{
    char raw[256] = {0};
    out[0] = '\0';
    FILE *fp = fopen("/proc/self/cmdline", "rb");
    size_t n = fp ? fread(raw, 1, sizeof raw - 1, fp) : 0;
    if (fp)
        fclose(fp);
    if (!n)
        return;
    const char *prog = strrchr(raw, '/') ? strrchr(raw, '/') + 1 : raw;
    size_t first = strlen(raw) + 1;
    const char *arg = first < n ? raw + first : "";
    snprintf(out, cap, "%.64s%s%.64s", prog, *arg ? " " : "", arg); /* room for both */
}

static void ssi_read_holder(int fd, ss_lock_holder *h)
{
    char text[192] = {0};
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    long pid = 0;
    int used = 0;
    *h = (ss_lock_holder){0};
    if (n > 0 && sscanf(text, "%ld %n", &pid, &used) >= 1 && pid > 0) {
        h->pid = (pid_t)pid;
        snprintf(h->cmd, sizeof h->cmd, "%s", text + used);
        h->cmd[strcspn(h->cmd, "\r\n")] = '\0';
    }
}

static int ssi_write_holder(int fd)
{
    char cmd[160], text[192];
    ssi_own_cmd(cmd, sizeof cmd);
    int len = snprintf(text, sizeof text, "%ld %s\n", (long)getpid(), cmd);
    if (ftruncate(fd, 0) || pwrite(fd, text, (size_t)len, 0) != len)
        return errno ? errno : EIO;
    return 0;
}

int ss_lockfile_take(const char *path, ss_lockfile **out, ss_lock_holder *holder, ss_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return ss_err_set(err, errno, "%s: cannot open the lock file: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        if (e == EWOULDBLOCK && holder)
            ssi_read_holder(fd, holder);
        close(fd);
        return e == EWOULDBLOCK ? SS_ELOCKED
                                : ss_err_set(err, e, "%s: cannot lock: %s", path, strerror(e));
    }
    ss_lockfile *l = malloc(sizeof *l);
    int rc = l ? ssi_write_holder(fd) : ENOMEM;
    if (rc) {
        free(l);
        close(fd);
        return ss_err_set(err, rc, "%s: cannot write the lock file: %s", path, strerror(rc));
    }
    l->fd = fd;
    *out = l;
    return 0;
}

void ss_lockfile_release(ss_lockfile *l)
{
    if (!l)
        return;
    close(l->fd); /* releases the flock, unless a fork()ed child still holds the description */
    free(l);
}
