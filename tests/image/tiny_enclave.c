/* tiny_enclave.c — the smallest ELF the layout tests lay out: a static PIE with
 * no libc whose _start spins forever. It has code (r-x), read-only data (r--),
 * initialized data and bss (rw-), so every permission path of the layout is
 * exercised, and a confide_syscall_handler for the thread-info page. Never
 * run. */

const char kTinyEnclaveTag[] = "confide tiny enclave";
volatile unsigned long tiny_enclave_data = 0x1234567890abcdefUL;
volatile unsigned long tiny_enclave_bss[1024];

/* The symbol the layout names in the thread-info page (image/layout.h). */
__attribute__((used)) void confide_syscall_handler(void) {
  for (;;) {
  }
}

void _start(void) {
  for (;;) {
    tiny_enclave_bss[tiny_enclave_data & 1023] += (unsigned char)kTinyEnclaveTag[0];
  }
}
