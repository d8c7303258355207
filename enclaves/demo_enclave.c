// demo_enclave.c — the enclave program of `confide demo`.
//
// Freestanding and position independent: it runs inside an enclave, where
// there is no libc (issue 4 brings musl). Its 4 MiB `runtime` array stands in
// for the read-only state of a language runtime: in an SGX1 enclave every one
// of its pages is added and measured per start; with PIE it lives in a plugin
// enclave, measured once and mapped into each host.
#define RUNTIME_BYTES (4u << 20)

__attribute__((used, aligned(4096))) static unsigned char runtime[RUNTIME_BYTES];

// Entry (TCS.OENTRY): touch the runtime, then spin; the model never runs it.
void _start(void) {
  unsigned char sum = 0;
  for (unsigned i = 0; i < RUNTIME_BYTES; i += 4096) sum ^= runtime[i];
  __asm__ volatile("" : : "r"(sum));  // keep the loop: it is the program
  for (;;) __asm__ volatile("pause");
}
