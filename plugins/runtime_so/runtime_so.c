/*
 * C filters as shared objects: dlopen, find skysieve_filter(), check the descriptor's version
 * fields before trusting anything else in it.
 *
 * dlopen returns the object already loaded for a path, so a .so replaced at the same path would not
 * be reloaded: the file is first copied to a private path named by its content hash, which both
 * forces a fresh load of changed code and lets old and new generations coexist during a reload.
 */
#include "fileio.h"
#include "runtime.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* The size of a 1.0 descriptor: every later minor version is at least this large. */
#define SO_DESC_1_0_SIZE (offsetof(ss_filter_descriptor, teardown) + sizeof(void (*)(void *)))

typedef struct so_filter {
    void *handle;
    char *copy; /* the private copy that was dlopen'ed; removed at unload */
    const ss_filter_descriptor *desc;
    void *state;
    int set_up;
} so_filter;

static const char *const so_exts[] = {".so", NULL};

/* Copy the object to $TMPDIR/skysieve-so-<uid>/<hash>-<name>, once per content. */
static int so_private_copy(const char *path, char **out, ss_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = ss_file_read(path, &buf, &len, err);
    if (rc)
        return rc;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/skysieve-so-%u", tmp, (unsigned)getuid());
    mkdir(dir, 0700);
    if (asprintf(out, "%s/%016" PRIx64 "-%s", dir, (uint64_t)XXH3_64bits(buf, len), base) < 0) {
        free(buf);
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", path);
    }
    char *tmpname = NULL;
    int fd = -1;
    if (asprintf(&tmpname, "%s.XXXXXX", *out) >= 0)
        fd = mkstemp(tmpname);
    rc = fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) != 0 || rename(tmpname, *out);
    free(buf);
    if (rc) {
        if (tmpname)
            unlink(tmpname);
        free(tmpname);
        free(*out);
        return ss_err_set(err, EIO, "%s: cannot copy to %s: %s", path, dir, strerror(errno));
    }
    free(tmpname);
    return 0;
}

static int so_check(const char *path, const ss_filter_descriptor *d, ss_err *err)
{
    if (!d)
        return ss_err_set(err, SS_EINVAL, "%s: skysieve_filter() returned NULL", path);
    if (d->magic != SS_FILTER_MAGIC)
        return ss_err_set(err, SS_EINVAL, "%s: damaged descriptor (magic 0x%08x, expected 0x%08x)",
                          path, d->magic, SS_FILTER_MAGIC);
    if (d->abi_major != SS_FILTER_ABI_MAJOR)
        return ss_err_set(err, SS_EINVAL,
                          "%s: built against filter ABI %u.%u; this skysieve loads %d.x only: "
                          "rebuild it against the installed SDK",
                          path, d->abi_major, d->abi_minor, SS_FILTER_ABI_MAJOR);
    if (d->abi_minor > SS_FILTER_ABI_MINOR)
        return ss_err_set(err, SS_EINVAL,
                          "%s: built against filter ABI %u.%u, newer than this skysieve's %d.%d: "
                          "upgrade skysieve (the filter may call what this one lacks)",
                          path, d->abi_major, d->abi_minor, SS_FILTER_ABI_MAJOR,
                          SS_FILTER_ABI_MINOR);
    if (d->size < SO_DESC_1_0_SIZE)
        return ss_err_set(err, SS_EINVAL, "%s: damaged descriptor (size %u, at least %zu expected)",
                          path, d->size, (size_t)SO_DESC_1_0_SIZE);
    if (!d->run)
        return ss_err_set(err, SS_EINVAL, "%s: the descriptor has no run function", path);
    return 0;
}

static void so_unload(void *impl)
{
    so_filter *f = impl;
    if (!f)
        return;
    if (f->set_up && f->desc->teardown)
        f->desc->teardown(f->state);
    if (f->handle)
        dlclose(f->handle);
    if (f->copy)
        unlink(f->copy);
    free(f->copy);
    free(f);
}

static int so_load(const char *path, const ss_filter_limits *limits, void **impl,
                   const ss_filter_descriptor **desc, ss_err *err)
{
    (void)limits; /* a C filter runs at full speed; isolation comes with worker processes */
    so_filter *f = calloc(1, sizeof *f);
    if (!f)
        return ss_err_set(err, SS_ENOMEM, "%s: out of memory", path);
    int rc = so_private_copy(path, &f->copy, err);
    if (!rc && !(f->handle = dlopen(f->copy, RTLD_NOW | RTLD_LOCAL)))
        rc = ss_err_set(err, SS_EINVAL, "%s: %s", path, dlerror());
    const ss_filter_descriptor *(*entry)(void) = NULL;
    if (!rc)
        *(void **)&entry = dlsym(f->handle, SS_FILTER_ENTRY_SYMBOL);
    if (!rc && !entry)
        rc = ss_err_set(err, SS_EINVAL, "%s: no %s() exported: not a skysieve filter", path,
                        SS_FILTER_ENTRY_SYMBOL);
    if (!rc && !(rc = so_check(path, f->desc = entry(), err))) {
        *impl = f;
        *desc = f->desc;
        return 0;
    }
    so_unload(f);
    return rc;
}

static int so_setup(void *impl, const ss_host_api *host, const ss_setup_item *items, size_t n,
                    ss_err *err)
{
    so_filter *f = impl;
    int rc = f->desc->setup ? f->desc->setup(host, items, n, &f->state) : 0;
    if (rc)
        return ss_err_set(err, SS_EFILTER, "%s: setup failed: %s", f->desc->name,
                          host->strerror(rc));
    f->set_up = 1;
    return 0;
}

static int so_run(void *impl, const ss_host_api *host, ss_locus_view *locus, ss_err *err)
{
    so_filter *f = impl;
    int rc = f->desc->run(host, f->state, locus);
    return rc ? ss_err_set(err, rc, "%s", host->strerror(rc)) : 0;
}

const ss_runtime_ops ssp_runtime_so = {
    .abi = SS_RUNTIME_ABI,
    .name = "so",
    .extensions = so_exts,
    .load = so_load,
    .setup = so_setup,
    .run = so_run,
    .unload = so_unload,
};
