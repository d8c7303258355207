// syscall_entry.S — where the monitor delivers a reflected syscall: the
// library OS's kernel entry, in the enclave, at CPL3.
//
// Contract (image/enclave_abi.h, CONFIDE_SYS_SET_HANDLER): on the caller's
// stack, RSP = caller RSP - 128 (its red zone, psABI §3.2.2) - 8, [RSP] = the
// return address, RCX = the same, R11 = RFLAGS, RAX = the number and RDI, RSI,
// RDX, R10, R8, R9 the arguments (Linux x86-64 syscall convention). Return
// with `ret $128`; everything but RAX (the result), RCX and R11 survives.
//
// "Everything" includes the SSE and x87 state: the caller's compiler assumes
// a syscall clobbers only RAX, RCX, R11 and memory, but the C dispatcher may
// use XMM registers (memcpy, struct copies), so FXSAVE/FXRSTOR keep them.
// RCX and R11 are restored to what Linux leaves there (return address and
// RFLAGS), and RFLAGS itself (DF is cleared for C) with PUSHFQ/POPFQ.
#include "runtime/asm_abi.h"

	.text
	.globl confide_syscall_handler
	.type confide_syscall_handler, @function
confide_syscall_handler:
	pushfq
	push %rbp
	mov %rsp, %rbp
	push %r9                        // the six arguments, so that
	push %r8                        //   args[0..5] = rdi, rsi, rdx, r10, r8, r9
	push %r10                       //   lie at -48(%rbp) upwards
	push %rdx
	push %rsi
	push %rdi
	push %rcx
	push %r11
	and $-16, %rsp                  // FXSAVE and the call both want 16
	sub $512, %rsp
	fxsave64 (%rsp)
	cld
	mov %rax, %rdi                  // long confide_libos_syscall(long nr,
	lea -48(%rbp), %rsi             //                            const long args[6])
	call confide_libos_syscall
	fxrstor64 (%rsp)
	lea -64(%rbp), %rsp
	pop %r11
	pop %rcx
	pop %rdi
	pop %rsi
	pop %rdx
	pop %r10
	pop %r8
	pop %r9
	pop %rbp
	popfq
	ret $128
	.size confide_syscall_handler, . - confide_syscall_handler

	.section .note.GNU-stack, "", @progbits
