// lua_baseline.c — the peer baseline of bench_monitor: the same Lua function
// run without any enclave, as a plain process that a worker fork+execs per
// request (the "one process per invocation" serverless baseline).
//
//   lua_baseline <function.lua>  < input  > output
//
// Reads the Lua source from the file named by argv[1] (a chunk that returns
// a function, as src/runtime/lua_runtime.c expects), the input from stdin,
// calls the function with the input as a string and writes the string it
// returns to stdout. The same libraries as the enclave runtime are opened
// (base, coroutine, table, string, math, utf8; not io, os, package or debug),
// with dofile and loadfile removed: the interpreter does the same work.
//
// Exit status: 0 on success; 1 with a message on stderr for any error (the
// file, the chunk, the function, a non-string result).
//
// Built by bench/CMakeLists.txt as a static musl executable against Debian's
// liblua5.4.a (with src/runtime/glibc_compat.c for glibc's fortify symbols),
// so that exec costs what a static enclave-free program costs: no dynamic
// loader, no shared libraries.
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Reads all of `f` into a malloc'ed buffer (caller frees); NULL on error.
static char* read_all(FILE* f, size_t* len) {
  size_t cap = 1 << 16, n = 0;
  char* buf = malloc(cap);
  if (buf == NULL) return NULL;
  for (;;) {
    if (n == cap) {
      cap *= 2;
      char* bigger = realloc(buf, cap);
      if (bigger == NULL) {
        free(buf);
        return NULL;
      }
      buf = bigger;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
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
}

static int fail(const char* what, const char* detail) {
  fprintf(stderr, "lua_baseline: %s: %s\n", what, detail);
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) return fail("usage", "lua_baseline <function.lua> < input > output");
  FILE* src = fopen(argv[1], "rb");
  if (src == NULL) return fail(argv[1], "cannot open");
  size_t code_len = 0, in_len = 0;
  char* code = read_all(src, &code_len);
  fclose(src);
  if (code == NULL) return fail(argv[1], "cannot read");
  char* in = read_all(stdin, &in_len);
  if (in == NULL) return fail("stdin", "cannot read");

  lua_State* L = luaL_newstate();
  if (L == NULL) return fail("lua", "cannot create a Lua state");
  open_libraries(L);
  if (luaL_loadbufferx(L, code, code_len, "=function", "t") != LUA_OK) {
    return fail("load", lua_tostring(L, -1));
  }
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) return fail("chunk", lua_tostring(L, -1));
  if (lua_type(L, -1) != LUA_TFUNCTION) return fail("chunk", "did not return a function");
  lua_pushlstring(L, in, in_len);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) return fail("function", lua_tostring(L, -1));
  size_t out_len = 0;
  const char* out = lua_tolstring(L, -1, &out_len);
  if (out == NULL || lua_type(L, -1) != LUA_TSTRING) return fail("function", "returned no string");
  if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0) {
    return fail("stdout", "cannot write");
  }
  lua_close(L);
  free(in);
  free(code);
  return 0;
}
