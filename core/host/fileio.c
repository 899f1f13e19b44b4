#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ss_file_read(const char *path, char **buf, size_t *len, ss_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ss_err_set(err, errno, "%s: %s", path, strerror(errno));
    struct stat st;
    char *b = NULL;
    int rc = fstat(fileno(f), &st) != 0 ? errno : 0;
    if (!rc && !S_ISREG(st.st_mode))
        rc = EINVAL;
    if (!rc && !(b = malloc((size_t)st.st_size + 1)))
        rc = ENOMEM;
    if (!rc && fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        rc = EIO; /* it shrank, or could not be read */
    fclose(f);
    if (rc) {
        free(b);
        return ss_err_set(err, rc, "%s: %s", path,
                          rc == EINVAL ? "not a regular file" : strerror(rc));
    }
    b[st.st_size] = '\0';
    *buf = b;
    *len = (size_t)st.st_size;
    return 0;
}

#define SSI_BOM "\xEF\xBB\xBF"

/* Grow l->buf to hold @p need bytes (doubling, at most l->max + 2). @return 0 or -1. */
static int ssi_lines_grow(ss_file_lines *l, size_t need)
{
    size_t cap = l->cap ? l->cap : 4096;
    while (cap < need)
        cap *= 2;
    cap = cap < l->max + 2 ? cap : l->max + 2;
    char *b = realloc(l->buf, cap);
    if (!b)
        return errno = ENOMEM, -1;
    l->buf = b;
    l->cap = cap;
    return 0;
}

/* getline() bounded by l->max: the buffer grows with the line up to max, and bytes past it are
 * counted and dropped. @return as getline(), the count of bytes stored; l->over is set to the
 * whole line's length (without its LF) when it was cut. */
static ssize_t ssi_getline_max(ss_file_lines *l)
{
    uint64_t total = 0;
    size_t kept = 0;
    int c = EOF;
    flockfile(l->fp);
    while ((c = getc_unlocked(l->fp)) != EOF) {
        /* one byte past max tells a cut line from one of max bytes; one more for the NUL */
        if (kept <= l->max && kept + 2 > l->cap && ssi_lines_grow(l, kept + 2)) {
            funlockfile(l->fp);
            return -1;
        }
        if (kept <= l->max)
            l->buf[kept++] = (char)c;
        total++;
        if (c == '\n')
            break;
    }
    funlockfile(l->fp);
    if (total == 0)
        return -1;
    uint64_t len = total - (c == '\n');
    if (len > l->max) {
        l->over = len;
        kept = l->max;
    }
    l->buf[kept] = '\0';
    return (ssize_t)kept;
}

int ss_file_lines_next(ss_file_lines *l, const char **line, size_t *len, ss_err *err)
{
    errno = 0;
    l->over = 0;
    ssize_t n = l->max ? ssi_getline_max(l) : getline(&l->buf, &l->cap, l->fp);
    if (n < 0) {
        if (feof(l->fp) && !ferror(l->fp))
            return 0;
        int e = errno == ENOMEM ? SS_ENOMEM : errno > 1 ? errno : EIO;
        return ss_err_set(err, e, "%s: read error: %s", l->name, ss_strerror(e));
    }
    l->lineno++;
    const char *p = l->buf;
    size_t m = (size_t)n;
    if (m && p[m - 1] == '\n' && !l->over)
        m--;
    if (m && p[m - 1] == '\r' && !l->over)
        m--;
    if (l->lineno == 1 && m >= 3 && memcmp(p, SSI_BOM, 3) == 0)
        p += 3, m -= 3;
    *line = p;
    *len = m;
    return 1;
}

void ss_file_lines_free(ss_file_lines *l)
{
    free(l->buf);
    l->buf = NULL;
    l->cap = 0;
}

int ss_file_parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    static const char suffixes[] = "KkMmGgTt";
    const char *suf = *end ? strchr(suffixes, *end) : NULL;
    int shift = suf ? 10 * (1 + (int)(suf - suffixes) / 2) : 0;
    if (end == s || s[0] == '-' || (*end && (!suf || end[1])))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

void ss_file_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *path = NULL;
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            asprintf(&path, "%s/%s", dir, e->d_name) < 0)
            continue;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            ss_file_remove_tree(path);
        else
            unlink(path);
        free(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int ss_file_dir_is_new(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}
