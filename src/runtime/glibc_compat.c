// glibc_compat.c — the few glibc symbols that Debian's liblua5.4.a and
// libsodium.a need and musl lacks: _FORTIFY_SOURCE's checked variants (<bits/*_chk.h>), which
// glibc's headers substitute for memcpy, snprintf, fprintf and longjmp when
// the object size is known at compile time.
//
// Each does what glibc's does: check the size it was given, and on overflow
// report "*** buffer overflow detected ***" and abort (glibc's __chk_fail),
// then call musl's plain function. Every runtime ELF links this file.
#define _DEFAULT_SOURCE  // explicit_bzero
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void __chk_fail(void) __attribute__((noreturn));
void* __memcpy_chk(void* dst, const void* src, size_t len, size_t dst_len);
int __snprintf_chk(char* s, size_t max_len, int flag, size_t s_len, const char* format, ...);
int __fprintf_chk(FILE* stream, int flag, const char* format, ...);
void __longjmp_chk(jmp_buf env, int value) __attribute__((noreturn));
void __explicit_bzero_chk(void* dst, size_t len, size_t dst_len);

static __attribute__((noreturn)) void fortify_fail(const char* what) {
  static const char kPrefix[] = "*** ";
  static const char kSuffix[] = " ***: terminated\n";
  // write(2) straight to the library OS: stdio's state may be what broke.
  (void)!write(2, kPrefix, sizeof kPrefix - 1);
  (void)!write(2, what, strlen(what));
  (void)!write(2, kSuffix, sizeof kSuffix - 1);
  abort();
}

void __chk_fail(void) { fortify_fail("buffer overflow detected"); }

void __explicit_bzero_chk(void* dst, size_t len, size_t dst_len) {
  if (dst_len < len) __chk_fail();
  explicit_bzero(dst, len);
}

void* __memcpy_chk(void* dst, const void* src, size_t len, size_t dst_len) {
  if (dst_len < len) __chk_fail();
  return memcpy(dst, src, len);
}

// `flag` > 0 asks glibc to refuse %n in writable formats; musl's printf has
// no such mode, and liblua never passes a format from data.
int __snprintf_chk(char* s, size_t max_len, int flag, size_t s_len, const char* format, ...) {
  (void)flag;
  if (s_len < max_len) __chk_fail();
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(s, max_len, format, ap);
  va_end(ap);
  return n;
}

int __fprintf_chk(FILE* stream, int flag, const char* format, ...) {
  (void)flag;
  va_list ap;
  va_start(ap, format);
  int n = vfprintf(stream, format, ap);
  va_end(ap);
  return n;
}

// glibc refuses a longjmp to a frame below the current stack pointer (a
// frame that has already returned). musl's x86-64 jmp_buf keeps RSP in word
// 6 (src/setjmp/x86_64/setjmp.s: rbx, rbp, r12-r15, rsp, rip).
void __longjmp_chk(jmp_buf env, int value) {
  uintptr_t saved_sp = (uintptr_t)((const unsigned long*)env)[6];
  if (saved_sp < (uintptr_t)__builtin_frame_address(0)) {
    fortify_fail("longjmp causes uninitialized stack frame");
  }
  longjmp(env, value);
}
