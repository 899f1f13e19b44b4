/**
 * @file worker.h
 * @brief The filter worker process, `skysieve worker`: the broker starts one per slot of a
 * filter-set generation (the wire between them is private to core/broker/, wire.h).
 */
#ifndef SS_WORKER_H
#define SS_WORKER_H

/**
 * The worker process: `skysieve worker --store DIR --set INI --fd N --shm N`. Runs until the broker
 * says quit or closes the socket. @return the process exit status.
 */
int ss_broker_worker_main(const char *store_dir, const char *set_ini, int fd, int shm_fd);

#endif
