/**
 * @file lua_bounded.h
 * @brief Library functions of the Lua sandbox that could run long in C, bounded.
 *
 * The sandbox's hook (instruction budget, time limit) fires between Lua instructions only, never
 * inside a library function, so one call of these could otherwise outlast any limit:
 *
 * Pattern functions (string.find, match, gmatch, gsub): Lua's matcher backtracks, e.g.
 * string.find(("a"):rep(5000), ("a*"):rep(200) .. "b") would run for ages. The wrappers bound the
 * matcher's work from the pattern's shape and the subject's length before calling the library:
 *  - a call whose bound is at most SSL_PATTERN_STEPS runs as the library's own;
 *  - otherwise, when one start position is within it, find, match and gmatch try the start
 *    positions one library call at a time (same results), checking the time limit between them;
 *  - otherwise (and gsub over a long subject, which has no such split) the call is refused with
 *    "string.NAME: pattern too costly ...", a limit error (ssl_sandbox_refuse()).
 *
 * table.sort without a comparator over more than SSL_SORT_DIRECT elements: sorted with a C
 * comparator (the same "<") that checks the time limit every 4096 comparisons. With a comparator
 * the hook fires in it already.
 *
 * Every wrapper checks the time limit on entry, so a loop of cheap calls stops too. Other library
 * calls are linear in their arguments and results, which the memory cap bounds.
 */
#ifndef SSL_LUA_BOUNDED_H
#define SSL_LUA_BOUNDED_H

#include <lua.h>

/** Matcher steps one library call may take: about 25 ms of Lua 5.4's matcher in a Release build
 * (the bound overestimates; at most about 0.2 s when it is tight). */
#define SSL_PATTERN_STEPS 2e7

/** Elements table.sort sorts with no checks (about 30 ms in a Release build). */
#define SSL_SORT_DIRECT 65536

/** Replace string.find, match, gmatch, gsub and table.sort in the globals table at absolute index
 * @p g with their wrappers. Allocates in @p L: call in protected mode. */
void ssl_bounded_wrap(lua_State *L, int g);

#endif
