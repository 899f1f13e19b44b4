/**
 * @file search_impl.h
 * @brief Private to core/query/: the search with its in-memory sort cap as a parameter, so that a
 * test reaches the cap with a handful of loci.
 */
#ifndef SS_SEARCH_IMPL_H
#define SS_SEARCH_IMPL_H

#include "search.h"

/** ss_query_search_run() with at most @p cap loci sorted in memory (SS_QUERY_SORT_CAP there). */
int ssi_query_search_capped(ss_store *s, const ss_query_search *q, size_t cap, ss_query_page *out,
                            ss_err *err);

#endif
