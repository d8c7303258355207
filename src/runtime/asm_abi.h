// asm_abi.h — the numbers of image/enclave_abi.h that the assembly files
// need, as plain #defines: enclave_abi.h declares C structs and `ull`
// constants, which the assembler cannot read. runtime.c checks with
// static_assert that every value here equals its enclave_abi.h source.
#ifndef CONFIDE_RUNTIME_ASM_ABI_H_
#define CONFIDE_RUNTIME_ASM_ABI_H_

// struct confide_thread_info field offsets (read as %gs:offset at entry).
#define TI_MAGIC 0
#define TI_SELF_OFFSET 8
#define TI_TCS_OFFSET 16
#define TI_STACK_OFFSET 24
#define TI_STACK_SIZE 32

#define THREAD_INFO_MAGIC 0x4f464e4944464e43  // CONFIDE_THREAD_INFO_MAGIC
#define ENCLU_EEXIT 4                         // CONFIDE_ENCLU_EEXIT

// ENCLU (SDM Vol. 2, "ENCLU—Execute an Enclave User Function of Specified
// Leaf Number"): 0F 01 D7, older assemblers do not know the mnemonic.
#define ENCLU .byte 0x0f, 0x01, 0xd7

#endif  // CONFIDE_RUNTIME_ASM_ABI_H_
