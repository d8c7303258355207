// lua_runtime.c — confide_function for Lua 5.4: runs the function plugin's
// Lua chunk on the input. With a data plugin mapped, the function gets a
// second argument: a table {name = ..., size = n, sub = f}, where
// data.sub(i, j) (or data:sub(i, j)) returns bytes i..j of the data with
// string.sub's rules, read in place from the plugin: no copy of the whole.
//
// The function's code lives in the function slot (image/enclave_abi.h): a
// struct confide_blob_header at CONFIDE_ENCLAVE_BASE + CONFIDE_FUNCTION_SLOT,
// then Lua source (loaded with mode "t") or bytecode (mode "b") from
// CONFIDE_BLOB_DATA. The slot is enclave memory, measured (or an EMAPped,
// measured plugin): the runtime reads it in place. The chunk returns a
// function; it is called with the input as a string and returns a string.
//
// Each invocation gets a fresh lua_State, closed afterwards: no Lua state
// leaks from one request to the next (warm enclaves serve many). Only the
// pure libraries are opened: base, string, table, math, utf8, coroutine; not
// io, os, package or debug, which reach files, the environment and the
// interpreter's internals. dofile and loadfile are removed, and `load` only
// takes text: Lua does not verify bytecode, so loading it from data would let
// an input corrupt the interpreter. `print` writes to stdout: the host's log.
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/function.h"

struct invocation {
  const struct confide_blob_header* blob;
  const uint8_t* in;
  size_t in_len;
};

// load(chunk [, chunkname [, mode [, env]]]) with mode forced to "t"; the
// original load is upvalue 1.
static int load_text_only(lua_State* L) {
  if (lua_gettop(L) < 3) lua_settop(L, 3);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static void open_libraries(lua_State* L) {
  static const luaL_Reg kLibs[] = {
      {LUA_GNAME, luaopen_base},       {LUA_COLIBNAME, luaopen_coroutine},
      {LUA_TABLIBNAME, luaopen_table}, {LUA_STRLIBNAME, luaopen_string},
      {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8},
  };
  for (size_t i = 0; i < sizeof kLibs / sizeof kLibs[0]; i++) {
    luaL_requiref(L, kLibs[i].name, kLibs[i].func, 1);
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  lua_setglobal(L, "dofile");
  lua_pushnil(L);
  lua_setglobal(L, "loadfile");
  lua_getglobal(L, "load");
  lua_pushcclosure(L, load_text_only, 1);
  lua_setglobal(L, "load");
}

// data.sub(i [, j]) with string.sub's index rules; the blob is upvalue 1.
static int data_sub(lua_State* L) {
  const struct confide_blob_header* blob = lua_touserdata(L, lua_upvalueindex(1));
  if (lua_istable(L, 1)) lua_remove(L, 1);  // data:sub(...)
  const lua_Integer n = (lua_Integer)blob->length;
  lua_Integer i = luaL_optinteger(L, 1, 1);
  lua_Integer j = luaL_optinteger(L, 2, -1);
  if (i < 0) i = n + i + 1 > 1 ? n + i + 1 : 1;
  if (i == 0) i = 1;
  if (j < 0) j = n + j + 1;
  if (j > n) j = n;
  if (i > j) {
    lua_pushliteral(L, "");
  } else {
    lua_pushlstring(L, (const char*)blob + CONFIDE_BLOB_DATA + (i - 1), (size_t)(j - i + 1));
  }
  return 1;
}

// Pushes the data argument: the table, or nothing if no data is mapped.
static int push_data(lua_State* L) {
  const struct confide_blob_header* blob = confide_data_plugin();
  if (blob == NULL) return 0;
  lua_createtable(L, 0, 3);
  lua_pushstring(L, blob->name);
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, (lua_Integer)blob->length);
  lua_setfield(L, -2, "size");
  lua_pushlightuserdata(L, (void*)blob);
  lua_pushcclosure(L, data_sub, 1);
  lua_setfield(L, -2, "sub");
  return 1;
}

// Runs under lua_pcall, so that every error, also of opening the libraries
// or running out of memory, ends as a message. Leaves the result string.
static int run(lua_State* L) {
  const struct invocation* inv = lua_touserdata(L, 1);
  const struct confide_blob_header* blob = inv->blob;
  open_libraries(L);
  const char* code = (const char*)blob + CONFIDE_BLOB_DATA;
  const char* mode = blob->kind == CONFIDE_FUNCTION_LUA_SOURCE ? "t" : "b";
  lua_pushfstring(L, "=%s", blob->name);
  if (luaL_loadbufferx(L, code, blob->length, lua_tostring(L, -1), mode) != LUA_OK) {
    return lua_error(L);
  }
  lua_call(L, 0, 1);
  if (lua_type(L, -1) != LUA_TFUNCTION) {
    return luaL_error(L, "chunk returned %s, not a function", luaL_typename(L, -1));
  }
  lua_pushlstring(L, (const char*)inv->in, inv->in_len);
  lua_call(L, 1 + push_data(L), 1);
  if (lua_type(L, -1) != LUA_TSTRING) {
    return luaL_error(L, "function returned %s, not a string", luaL_typename(L, -1));
  }
  return 1;
}

// lua_pcall's message handler: a string error as it is, anything else as
// its __tostring or its type (as lua.c does).
static int message_handler(lua_State* L) {
  if (lua_type(L, 1) == LUA_TSTRING) return 1;
  if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
  lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  return 1;
}

// The function slot's header, or an error message.
static const char* check_blob(const struct confide_blob_header* blob) {
  if (blob->magic != CONFIDE_FUNCTION_MAGIC) return "no Lua function in the function slot";
  if (blob->length > CONFIDE_FUNCTION_SLOT_SIZE - CONFIDE_BLOB_DATA) {
    return "the function's length exceeds the function slot";
  }
  if (blob->kind != CONFIDE_FUNCTION_LUA_SOURCE && blob->kind != CONFIDE_FUNCTION_LUA_BYTECODE) {
    return "the function is neither Lua source nor Lua bytecode";
  }
  if (memchr(blob->name, '\0', sizeof blob->name) == NULL)
    return "the function's name is not terminated";
  return NULL;
}

int confide_function(const uint8_t* in, size_t in_len, uint8_t** out, size_t* out_len) {
  struct invocation inv = {
      .blob = (const struct confide_blob_header*)(uintptr_t)(CONFIDE_ENCLAVE_BASE +
                                                             CONFIDE_FUNCTION_SLOT),
      .in = in,
      .in_len = in_len,
  };
  const char* bad = check_blob(inv.blob);
  if (bad != NULL) return confide_reply_string(out, out_len, CONFIDE_STATUS_FUNCTION_ERROR, bad);

  lua_State* L = luaL_newstate();
  if (L == NULL) {
    return confide_reply_string(out, out_len, CONFIDE_STATUS_NO_MEMORY,
                                "cannot create a Lua state");
  }
  lua_pushcfunction(L, message_handler);
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, &inv);
  int rc = lua_pcall(L, 1, 1, 1);
  int status = rc == LUA_OK       ? CONFIDE_STATUS_OK
               : rc == LUA_ERRMEM ? CONFIDE_STATUS_NO_MEMORY
                                  : CONFIDE_STATUS_FUNCTION_ERROR;
  size_t len = 0;
  const char* text = lua_tolstring(L, -1, &len);
  if (text == NULL) text = "", len = 0;  // a message handler that failed (LUA_ERRERR)
  status = confide_reply(out, out_len, status, text, len);
  lua_close(L);
  return status;
}
