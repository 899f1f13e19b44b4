/**
 * @file lua_sandbox.h
 * @brief The Lua filter runtime's sandbox: a Lua 5.4 state whose globals hold only allow-listed
 * names, with a byte-capped allocator and an instruction budget per call.
 *
 * ssl_sandbox_new() stands where luaL_newstate() would, ssl_sandbox_close() where lua_close()
 * would. Around each protected call into script code: ssl_sandbox_arm() before it,
 * ssl_sandbox_limit() after it (was a limit the cause?), ssl_sandbox_reclaim() once its results are
 * popped. Script text enters through ssl_sandbox_load() only.
 *
 * The names let in are static lists at the top of lua_sandbox.c (sdk/lua-api.md, "The sandbox"):
 * a name a library has and the list lacks, such as one a later Lua release adds, stays out. The
 * unit's shape follows Suricata's util-lua-sandbox.c.
 *
 * Threading: a state is used by one thread at a time; states share nothing.
 */
#ifndef SSL_LUA_SANDBOX_H
#define SSL_LUA_SANDBOX_H

#include "err.h"

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define SSL_DEFAULT_MEMORY       ((size_t)64 << 20)
#define SSL_DEFAULT_INSTRUCTIONS 10000000u
#define SSL_DEFAULT_RUN_MS       1000u  /* the runtime's wall-clock limit per run() */
#define SSL_DEFAULT_SETUP_MS     10000u /* ... per script load and setup(): may read data */

/** The state of a sandbox's limits, as ssl_sandbox_usage() reports it. */
typedef struct ssl_usage {
    size_t mem_used;  /**< bytes the state holds now */
    size_t mem_cap;   /**< the most it may hold */
    int mem_refused;  /**< the last growth was refused for the cap (cleared by ssl_sandbox_arm()
                           and by a growth that fits) */
    uint64_t budget;  /**< instructions allowed per armed call */
    uint64_t spent;   /**< instructions since ssl_sandbox_arm(), counted in steps of up to 1000 */
    int over_budget;  /**< this call's budget is spent */
    uint32_t time_ms; /**< wall-clock milliseconds per armed call; 0: no limit */
    int over_time;    /**< this call ran out of time */
} ssl_usage;

/**
 * Create a sandboxed state: the allow-listed libraries opened, nothing else reachable, armed.
 *
 * @param memory_bytes cap on everything the state allocates; 0 means SSL_DEFAULT_MEMORY.
 * @param instructions Lua VM instructions per armed call; 0 means SSL_DEFAULT_INSTRUCTIONS.
 * @param user given back by ssl_sandbox_user(), never read by the sandbox; the caller keeps
 *             it valid until ssl_sandbox_close().
 * @param out receives the state, which the caller owns until ssl_sandbox_close(); untouched on
 *            failure.
 * @param err may be NULL; says why on failure (no file name: the caller adds it).
 * @return 0; SS_ELIMIT when @p memory_bytes is too small for the state ("memory limit too small
 *         for Lua") or its libraries ("memory limit of N bytes exceeded (...)"); SS_ENOMEM.
 */
int ssl_sandbox_new(size_t memory_bytes, uint64_t instructions, void *user, lua_State **out,
                    ss_err *err);

/** @return the @p user given to ssl_sandbox_new() for @p L, a sandbox's state. */
void *ssl_sandbox_user(lua_State *L);

/**
 * Give the next call a fresh budget and clear the failure flags. Call before each lua_pcall()
 * into script code: the budget is per call, not per state. Does not allocate.
 */
void ssl_sandbox_arm(lua_State *L);

/**
 * After lua_pcall() returned @p status (its error object on the top when not LUA_OK): whether a
 * limit is why it failed. A spent budget counts even when @p status is LUA_OK (a script's pcall
 * in a tail call can catch the budget's error with no instruction left to raise it again); a
 * refused allocation counts only when the call failed (a script may catch "not enough memory").
 * Reads only a string error object and leaves the stack as it is.
 *
 * @param err may be NULL; set only when a limit is to blame.
 * @return SS_ELIMIT with @p err saying "instruction budget of N exceeded" or "time limit of N ms
 *         exceeded" (the script's position first when the error carries it) or "memory limit of N
 * bytes exceeded (Lua's message)"; 0 when no limit is to blame.
 */
int ssl_sandbox_limit(lua_State *L, int status, ss_err *err);

/**
 * After a call that ended with @p status, once its results or error object are popped: when it
 * ran into the memory cap, collect the garbage it left now, so the next call has the whole cap.
 */
void ssl_sandbox_reclaim(lua_State *L, int status);

/**
 * Compile @p len bytes at @p buf as a text chunk named @p name (lua_load's chunkname, e.g.
 * "@f.lua") and push it as a function, or push the error message. A precompiled (binary) chunk is
 * refused: Lua does not verify bytecode, so crafted bytecode could break out of the VM. @p buf and
 * @p name are read during the call only. Lua parses in protected mode, so a memory error is
 * returned, not raised: no protected call is needed around this one.
 * @return LUA_OK, LUA_ERRSYNTAX (a syntax error or a binary chunk) or LUA_ERRMEM.
 */
int ssl_sandbox_load(lua_State *L, const char *buf, size_t len, const char *name);

/**
 * Limit each armed call to @p ms milliseconds of wall-clock time (0: no limit, the default), from
 * the next ssl_sandbox_arm() on. Guarantee: while the call executes Lua code, it is stopped with
 * "time limit of N ms exceeded" at the first hook after the deadline (every 1000 instructions, so
 * within microseconds of it). Library functions run in C, out of the hook's reach: each is
 * bounded instead, by the memory cap (string.rep, table.concat: linear in it) or, for the
 * pattern functions (find, match, gmatch, gsub, whose matcher backtracks), by refusing a call
 * whose worst case exceeds 2e7 matcher steps for its subject and pattern, raising "pattern too
 * costly". A call is therefore stopped within the time of one such library call after its limit.
 */
void ssl_sandbox_time_limit(lua_State *L, uint32_t ms);

/**
 * For library functions that run long in C (lua_bounded.c): when the armed call is past its
 * deadline, raise "time limit of N ms exceeded" (and keep raising at every instruction, as the
 * hook does); otherwise return. Call only from a C function called by Lua.
 */
void ssl_sandbox_check_time(lua_State *L);

/**
 * Mark the armed call's next error as a limit's (a library call refused as too costly), so that
 * ssl_sandbox_limit() reports it as SS_ELIMIT with its message when the call fails.
 */
void ssl_sandbox_refuse(lua_State *L);

/** Fill @p out with the limits of @p L now. */
void ssl_sandbox_usage(lua_State *L, ssl_usage *out);

/**
 * Close @p L and free its sandbox; @p L and its user pointer's use by the sandbox end here. Script
 * code that closing runs (pending to-be-closed variables) runs on a fresh budget. @p L may be NULL.
 */
void ssl_sandbox_close(lua_State *L);

#endif
