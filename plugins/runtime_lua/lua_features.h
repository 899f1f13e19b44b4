/* The `features` table of Lua filters (lua_features.c, sdk/lua-api.md). */
#ifndef SSP_LUA_FEATURES_H
#define SSP_LUA_FEATURES_H

#include <lua.h>

/**
 * Adds the global table `features` to @p L's globals, and the ss_features object its functions
 * share (freed when the state is closed). Raises a Lua error when out of memory: call it
 * protected.
 */
int ssp_lua_features_open(lua_State *L);

#endif
