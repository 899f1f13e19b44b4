/**
 * @file lockfile.h
 * @brief One holder at a time of a role (a store's writer, a broker's run directory): an exclusive
 * flock() on a file whose content names the holder, so the one refused can say who holds it.
 *
 * The lock belongs to the open file description: it is released when the holder closes it
 * (ss_lockfile_release()) or exits, even by SIGKILL, so a holder that died leaves no stale lock
 * (the file stays, its content is only read while someone holds the lock). A child made by fork()
 * shares the description and so holds the lock with its parent until it closes it too; the
 * descriptor is close-on-exec, so a child that executes another program does not keep it. Two
 * takes in one process use two descriptions, so the second is refused as another process's would
 * be.
 */
#ifndef SS_LOCKFILE_H
#define SS_LOCKFILE_H

#include "err.h"

#include <sys/types.h>

typedef struct ss_lockfile ss_lockfile;

/** Who holds a lock: what its file says. */
typedef struct ss_lock_holder {
    pid_t pid;     /**< 0 when the file did not name one */
    char cmd[128]; /**< e.g. "skysieve run"; "" when unknown */
} ss_lock_holder;

/**
 * Take the exclusive lock on @p path (created 0644 when absent) without waiting, and write this
 * process's pid and command ("1234 skysieve run") into it.
 * @param[out] out the held lock, owned by the caller until ss_lockfile_release().
 * @param[out] holder when another process holds it: who (may be NULL).
 * @return 0; SS_ELOCKED when held elsewhere (nothing else is set in @p err: the caller names the
 * role); an errno value with @p err naming @p path.
 */
int ss_lockfile_take(const char *path, ss_lockfile **out, ss_lock_holder *holder, ss_err *err);

/** Release and free @p l (the file stays). NULL is allowed. */
void ss_lockfile_release(ss_lockfile *l);

#endif
