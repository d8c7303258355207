// entry.S — the enclave's entry point (TCS.OENTRY) and its exit.
//
// EENTER (SDM Vol. 3D §40.3, "EENTER") hands over with RAX = CSSA, RBX = the
// TCS's linear address, RCX = the return point outside, FS.base = BASEADDR +
// TCS.OFSBASE and GS.base = the thread-info page (image/enclave_abi.h). RSP
// still is the untrusted caller's: nothing may be pushed before the switch.
//
// Every EENTER starts afresh at the top of this thread's stack: an EEXIT
// abandons the frames of the previous invocation, so there is nothing to
// unwind and the entry is re-entrant by construction.
//
// Also reset here: RFLAGS.DF (the C ABI wants it clear) and the x87 and SSE
// control words. They come from the host, which could otherwise unmask
// floating-point exceptions or change the rounding of the function's
// arithmetic (the SGX SDK does the same on entry).
#include "runtime/asm_abi.h"

	.text
	.globl confide_enclave_entry
	.type confide_enclave_entry, @function
confide_enclave_entry:
	movabs $THREAD_INFO_MAGIC, %rdx
	cmp %gs:TI_MAGIC, %rdx
	jne 1f                          // not a thread-info page: stop (#UD)
	mov %rbx, %rdi
	sub %gs:TI_TCS_OFFSET, %rdi     // rdi = BASEADDR = TCS - tcs_offset
	mov %rdi, %rsi
	add %gs:TI_SELF_OFFSET, %rsi    // rsi = the thread-info page
	mov %rdi, %rsp
	add %gs:TI_STACK_OFFSET, %rsp
	add %gs:TI_STACK_SIZE, %rsp
	and $-16, %rsp                  // the psABI's alignment at a call
	mov %rax, %rdx                  // rdx = CSSA
	xor %ebp, %ebp                  // the outermost frame, for debuggers
	cld
	fninit
	ldmxcsr mxcsr_default(%rip)
	call confide_runtime_main       // never returns
1:	ud2
	.size confide_enclave_entry, . - confide_enclave_entry

// confide_exit(status): scrub and EEXIT (enclu.h says why).
	.globl confide_exit
	.type confide_exit, @function
confide_exit:
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	pxor %xmm0, %xmm0
	pxor %xmm1, %xmm1
	pxor %xmm2, %xmm2
	pxor %xmm3, %xmm3
	pxor %xmm4, %xmm4
	pxor %xmm5, %xmm5
	pxor %xmm6, %xmm6
	pxor %xmm7, %xmm7
	pxor %xmm8, %xmm8
	pxor %xmm9, %xmm9
	pxor %xmm10, %xmm10
	pxor %xmm11, %xmm11
	pxor %xmm12, %xmm12
	pxor %xmm13, %xmm13
	pxor %xmm14, %xmm14
	pxor %xmm15, %xmm15
	fninit                          // empty x87 stack; then overwrite its
	fldz                            // eight registers, which FNINIT leaves
	fldz                            // as they were
	fldz
	fldz
	fldz
	fldz
	fldz
	fldz
	fninit
	ldmxcsr mxcsr_default(%rip)     // drop sticky exception flags
	xor %ebx, %ebx                  // EEXIT target: ignored by the monitor
	mov $ENCLU_EEXIT, %eax
	ENCLU
	ud2                             // EEXIT does not return
	.size confide_exit, . - confide_exit

	.section .rodata
	.balign 4
mxcsr_default:
	.long 0x1f80                    // all exceptions masked, round to nearest

	.section .note.GNU-stack, "", @progbits
