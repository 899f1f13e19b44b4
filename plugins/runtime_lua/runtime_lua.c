/* Placeholder until the Lua runtime lands. */
#include "runtime.h"

static const char *const lua_exts[] = {".lua", NULL};
const ss_runtime_ops ssp_runtime_lua = {SS_RUNTIME_ABI, "lua", lua_exts, NULL, NULL, NULL, NULL};
