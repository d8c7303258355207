/* enclave_abi.h — the contract between the monitor (the "CPU and OS" side)
 * and the code inside an enclave (src/runtime, built with musl). Plain C so
 * both sides include it; constants and layouts only.
 *
 * Address map of every enclave address space (linear addresses):
 *
 *   kEnclaveBase                 +0            runtime slot: the runtime ELF, linked at
 *   (CONFIDE_ENCLAVE_BASE)                     this address (a plugin, or EADDed in SGX1)
 *                                +512 MiB      function slot: the function plugin
 *                                +1 GiB        data slot: a data plugin (model, table)
 *                                +2 GiB        host-private: heap, per thread TCS, SSA,
 *                                              stack and thread-info page (image/layout.h)
 *                                4 GiB         end of ELRANGE (SECS.SIZE)
 *   CONFIDE_WINDOW_BASE                        untrusted I/O window (outside ELRANGE,
 *                                              user RW, NX): what SGX code sees as the
 *                                              host process's memory
 *
 * Slots are 2 MiB aligned so the monitor can share a plugin's page-table
 * subtree between hosts (monitor/page_tables.h). A host ELRANGE always spans
 * the slots, so a PIE host and a monolithic SGX1 enclave of the same function
 * put every byte at the same address.
 *
 * Entry (EENTER, SDM Vol. 3D §40.3 / 41.x): RAX = CSSA, RBX = the TCS's
 * linear address, RCX = the return point outside (unused here); FS.base =
 * BASEADDR + TCS.OFSBASE, GS.base = BASEADDR + TCS.OGSBASE (the thread-info
 * page below). RSP is not the enclave's: the entry code switches to its stack.
 *
 * ENCLU inside an enclave (EEXIT, EREPORT, EGETKEY, EACCEPT, EACCEPTCOPY,
 * EMODPE, EMAP, EUNMAP) is the real instruction (0F 01 D7, leaf in EAX); no
 * CPU here runs it (#UD without SGX, #GP(0) where SGX is disabled), and the
 * monitor executes the leaf on the machine model and resumes after it with
 * RAX = 0 or the SGX error code (base/status.h, the SDM's numbers):
 *   * EEXIT: RBX = target (ignored), RDI = the run status (CONFIDE_STATUS_*).
 *   * EMAP (PIE): RBX = the plugin's handle (its SECS, as the host names it:
 *     untrusted), RCX = the linear address of the MRENCLAVE the enclave
 *     expects (32 bytes of its own memory: the thread-info page's plugin
 *     table). A plugin that is not what the enclave expects is not mapped.
 *   * EUNMAP (PIE): RBX = the plugin's handle.
 *   * EGETKEY: RBX = a KEYREQUEST (512 bytes, 512-aligned), RCX = where the
 *     16-byte key goes (16-aligned); both in the enclave's memory.
 *
 * Syscalls (the `syscall` instruction, Linux numbers and registers):
 *   * the syscall handler: the monitor reflects every syscall that is not an
 *     ocall, exit, CONFIDE_SYS_SET_HANDLER or arch_prctl(ARCH_SET_FS) to the
 *     handler inside the enclave, at CPL3, on the caller's stack: RSP =
 *     caller RSP - 128 (the red zone) - 8, [RSP] = the return address (the
 *     instruction after `syscall`), RCX = the same, R11 = RFLAGS, RAX and the
 *     argument registers as the caller left them. The handler preserves every
 *     register but RAX (the result), RCX and R11, and returns with `ret $128`.
 *     This is the runtime's library OS. The handler is the thread-info page's
 *     syscall_handler_offset (below: measured, no exit), or the last one
 *     registered by CONFIDE_SYS_SET_HANDLER in this entry, which wins.
 *   * CONFIDE_SYS_SET_HANDLER (rdi = handler): from then on until EEXIT,
 *     syscalls are reflected to `handler`; returns 0, or -EINVAL (and
 *     nothing changes) if `handler` is outside ELRANGE. For enclaves whose
 *     thread-info page names no handler: one VM exit per entry.
 *   * arch_prctl(ARCH_SET_FS, addr) (158, 0x1002): the monitor sets FS.base
 *     if addr lies inside ELRANGE; else -EPERM. Code that can should use
 *     WRFSBASE instead (CR4.FSGSBASE is on in every confide vCPU): the same
 *     effect without a VM exit (monitor/vcpu_setup.h says why that is safe).
 *   * exit (60) / exit_group (231): the enclave stops with that status, as if
 *     it had crashed (no EEXIT): the run reports it.
 *   * ocalls, CONFIDE_OCALL_*: serviced by the host, then resumed with RAX.
 *     Arguments point into the window, never into the enclave.
 *   * anything else while there is no handler (none named, none
 *     registered): -ENOSYS.
 */
#ifndef CONFIDE_IMAGE_ENCLAVE_ABI_H_
#define CONFIDE_IMAGE_ENCLAVE_ABI_H_

#include <stdint.h>

/* ---- address map ---------------------------------------------------------- */
#define CONFIDE_ENCLAVE_BASE 0x0000004000000000ull /* 256 GiB */
#define CONFIDE_ENCLAVE_SIZE 0x0000000100000000ull /* 4 GiB ELRANGE */
#define CONFIDE_RUNTIME_SLOT 0x0000000000000000ull /* offsets from the base */
#define CONFIDE_RUNTIME_SLOT_SIZE 0x0000000020000000ull
#define CONFIDE_FUNCTION_SLOT 0x0000000020000000ull
#define CONFIDE_FUNCTION_SLOT_SIZE 0x0000000020000000ull
#define CONFIDE_DATA_SLOT 0x0000000040000000ull
#define CONFIDE_DATA_SLOT_SIZE 0x0000000040000000ull
#define CONFIDE_PRIVATE_OFFSET 0x0000000080000000ull /* heap, TCS, SSA, stack */

#define CONFIDE_WINDOW_BASE 0x0000700000000000ull
#define CONFIDE_WINDOW_MAX_SIZE 0x0000000040000000ull /* 1 GiB */

/* ---- thread-info page: at BASEADDR + TCS.OGSBASE, measured --------------- */
#define CONFIDE_MAX_PLUGINS 64
#define CONFIDE_THREAD_INFO_MAGIC 0x4f464e4944464e43ull /* "CNFDINFO" */
struct confide_thread_info {
  uint64_t magic;
  uint64_t self_offset; /* every *_offset is from BASEADDR */
  uint64_t tcs_offset;
  uint64_t stack_offset; /* lowest stack byte; the stack grows down from */
  uint64_t stack_size;   /*   stack_offset + stack_size */
  uint64_t heap_offset;
  uint64_t heap_size;
  uint64_t thread_index;
  uint64_t thread_count;
  uint64_t enclave_size; /* SECS.SIZE */
  /* The plugins this host may EMAP, from its manifest, in manifest order:
   * the MRENCLAVE each EMAP compares against. Measured with the page, so the
   * host's identity covers which code it can ever run. */
  uint64_t plugin_count;
  uint8_t plugin_mrenclave[CONFIDE_MAX_PLUGINS][32];
  /* Where the monitor reflects syscalls (the ABI above): BASEADDR + this, the
   * ELF symbol confide_syscall_handler as the layout found it (image/layout.h;
   * a PIE host: its runtime plugin's). 0: none, and the enclave registers one
   * with CONFIDE_SYS_SET_HANDLER. Why here: registering costs a VM exit at
   * every entry (~130 us on nested KVM), and a handler that is part of the
   * measured page is part of the enclave's identity, so the untrusted host
   * cannot point the enclave's syscalls anywhere else without changing
   * MRENCLAVE. The monitor ignores a value outside ELRANGE. */
  uint64_t syscall_handler_offset;
};

/* ---- window: untrusted memory shared with the host ------------------------- */
#define CONFIDE_WINDOW_MAGIC 0x574f444e49464e43ull /* "CNFINDOW" */
#define CONFIDE_WINDOW_DATA 4096ull                /* first data byte */
struct confide_window {
  uint64_t magic;
  uint64_t capacity; /* bytes of the whole window */
  uint64_t op;       /* CONFIDE_OP_*, set by the host */
  /* set by the host: the request */
  uint64_t input_offset; /* from the window base, >= CONFIDE_WINDOW_DATA */
  uint64_t input_len;
  /* set by the enclave: the reply (an error message if status != OK) */
  uint64_t output_offset;
  uint64_t output_len;
  /* set by the host: chains (CONFIDE_OP_CHAIN) and sealed hand-off */
  uint64_t flags;        /* CONFIDE_WINDOW_* */
  uint64_t step_count;   /* CONFIDE_OP_CHAIN: entries of the step table */
  uint64_t steps_offset; /* from the window base: struct confide_chain_step[] */
  uint8_t key_id[32];    /* sealed hand-off: EGETKEY's KEYID, one per chain */
};

/* One function of an in-situ chain: the host EMAPs `handle` (checking it
 * against plugin_mrenclave[plugin_index] of its thread-info page), runs it on
 * the previous step's output, which never leaves the enclave, and EUNMAPs it. */
struct confide_chain_step {
  uint64_t handle;
  uint64_t plugin_index;
};

#define CONFIDE_OP_RUN 1   /* run the function on the input, reply with its output */
#define CONFIDE_OP_CHAIN 2 /* run the steps in order in this enclave (in-situ chain) */

/* flags: the input arrives, or the output leaves, sealed for the next enclave
 * of a transfer chain: nonce (12 bytes) | ciphertext | tag (16 bytes),
 * AES-256-GCM (libsodium) under a key derived from EGETKEY(SEAL, MRSIGNER,
 * key_id): only enclaves of the same signer can open it. */
#define CONFIDE_WINDOW_SEALED_INPUT 0x1ull
#define CONFIDE_WINDOW_SEALED_OUTPUT 0x2ull
/* A data plugin is mapped at the data slot. The host's word: if it lies, the
 * enclave faults on the unmapped slot (a crash the host could cause anyway);
 * what is there is checked by its header and was checked by EMAP. */
#define CONFIDE_WINDOW_DATA_PLUGIN 0x4ull
/* Set by the monitor at every entry, whatever the requester wrote: WRFSBASE
 * works in this enclave (its vCPU has CR4.FSGSBASE, which needs a CPU with
 * FSGSBASE). Without it the runtime sets its thread pointer with
 * arch_prctl(ARCH_SET_FS), which the monitor serves: one VM exit more per
 * entry. The host's word: a false one makes WRFSBASE raise #UD, a crash the
 * host could cause anyway. */
#define CONFIDE_WINDOW_FSGSBASE 0x8ull
#define CONFIDE_SEAL_NONCE_BYTES 12
#define CONFIDE_SEAL_TAG_BYTES 16

/* EEXIT status (RDI) */
#define CONFIDE_STATUS_OK 0
#define CONFIDE_STATUS_FUNCTION_ERROR 1 /* the function failed; output = message */
#define CONFIDE_STATUS_BAD_REQUEST 2    /* the window or the op was malformed */
#define CONFIDE_STATUS_NO_MEMORY 3      /* the heap or the window was too small */

/* ---- syscalls -------------------------------------------------------------- */
#define CONFIDE_SYS_SET_HANDLER 0x2000
#define CONFIDE_OCALL_LOG 0x1000   /* rdi = fd (1 or 2), rsi = window offset, rdx = len */
#define CONFIDE_OCALL_CLOCK 0x1001 /* rdi = clockid; returns nanoseconds (untrusted) */

/* ENCLU leaves (SDM Vol. 3D Table 40-2; PIE's two at confide's numbers,
 * machine/instruction.cc). */
#define CONFIDE_ENCLU_EREPORT 0x0
#define CONFIDE_ENCLU_EGETKEY 0x1
#define CONFIDE_ENCLU_EEXIT 0x4
#define CONFIDE_ENCLU_EACCEPT 0x5
#define CONFIDE_ENCLU_EMODPE 0x6
#define CONFIDE_ENCLU_EACCEPTCOPY 0x7
#define CONFIDE_ENCLU_EMAP 0x20
#define CONFIDE_ENCLU_EUNMAP 0x21

/* ---- plugin headers: page 0 of a function or data plugin ------------------- */
#define CONFIDE_FUNCTION_MAGIC 0x4e55464546494e43ull /* "CNIFEFUN" */
#define CONFIDE_DATA_MAGIC 0x41544144464e4943ull     /* "CINFDATA" */
struct confide_blob_header {
  uint64_t magic;
  uint64_t length; /* bytes that follow the header page */
  uint64_t kind;   /* function: CONFIDE_FUNCTION_LUA_SOURCE or _BYTECODE */
  char name[64];   /* NUL-terminated */
};
#define CONFIDE_FUNCTION_LUA_SOURCE 1
#define CONFIDE_FUNCTION_LUA_BYTECODE 2
#define CONFIDE_BLOB_DATA 4096ull /* first byte after the header page */

#endif /* CONFIDE_IMAGE_ENCLAVE_ABI_H_ */
