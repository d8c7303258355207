// syscall_regs.S — checks the reflected-syscall contract from the caller's
// side (image/enclave_abi.h, syscall_entry.S): across a `syscall` that the
// library OS serves, every register but RAX, RCX and R11 keeps its value,
// the SSE registers included, and so does the caller's red zone.
//
// uint64_t confide_syscall_clobbers(uint64_t misalign): makes
// mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
// a call whose C path (heap.c) uses many registers, with RSP offset by
// `misalign` (0 or 8) from 16-byte alignment, and munmaps the page again.
// Returns a bit mask of what changed: bits 0-11 = rbx rbp rsi rdi rdx r8 r9
// r10 r12 r13 r14 r15, bit 16+n = xmm<n>, bit 32 = the red zone, bit 33 =
// mmap failed.
#define K(n) (0x0123456789abcdef ^ ((n) * 0x1111111111111111))

#define SET(reg, n) movabs $K(n), reg
#define CHECK(reg, n, bit) \
	movabs $K(n), %r11; \
	cmp %r11, reg; \
	je 1f; \
	bts $(bit), %rcx; \
1:
#define CHECKV(reg, v, bit) \
	mov $(v), %r11; \
	cmp %r11, reg; \
	je 1f; \
	bts $(bit), %rcx; \
1:
#define SETX(x, n) \
	movabs $K(n), %rax; \
	movq %rax, x; \
	pinsrw $4, %eax, x
#define CHECKX(x, n, bit) \
	movq x, %r11; \
	movabs $K(n), %rax; \
	cmp %rax, %r11; \
	jne 2f; \
	pextrw $4, x, %r11d; \
	cmp %ax, %r11w; \
	je 3f; \
2:	bts $(bit), %rcx; \
3:

	.text
	.globl confide_syscall_clobbers
	.type confide_syscall_clobbers, @function
confide_syscall_clobbers:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %r12                  // restored at the end
	and $-16, %rsp
	sub $16, %rsp                   // 0(%rsp): the mmap result
	sub %rdi, %rsp
	// The red zone: 128 bytes below RSP, which the handler must not touch.
	lea -128(%rsp), %rax
	mov $16, %ecx
4:	movabs $0x5a5a5a5a5a5a5a5a, %rdx
	mov %rdx, (%rax)
	add $8, %rax
	loop 4b
	movq %r12, %xmm15               // the saved RSP (xmm15 is not checked)
	SETX(%xmm0, 16)
	SETX(%xmm1, 17)
	SETX(%xmm2, 18)
	SETX(%xmm3, 19)
	SETX(%xmm4, 20)
	SETX(%xmm5, 21)
	SETX(%xmm6, 22)
	SETX(%xmm7, 23)
	SETX(%xmm8, 24)
	SETX(%xmm9, 25)
	SETX(%xmm10, 26)
	SETX(%xmm11, 27)
	SETX(%xmm12, 28)
	SETX(%xmm13, 29)
	SETX(%xmm14, 30)
	SET(%rbx, 0)
	SET(%rbp, 1)
	xor %edi, %edi                  // the arguments: checked against
	mov $4096, %esi                 // these values afterwards
	mov $3, %edx
	mov $0x22, %r10d
	mov $-1, %r8
	xor %r9d, %r9d
	SET(%r12, 8)
	SET(%r13, 9)
	SET(%r14, 10)
	SET(%r15, 11)
	mov $9, %eax                    // mmap: served by the library OS
	syscall
	mov %rax, (%rsp)
	xor %ecx, %ecx
	cmp $-4096, %rax
	jb 5f
	bts $33, %rcx
5:	CHECK(%rbx, 0, 0)
	CHECK(%rbp, 1, 1)
	CHECKV(%rsi, 4096, 2)
	CHECKV(%rdi, 0, 3)
	CHECKV(%rdx, 3, 4)
	CHECKV(%r8, -1, 5)
	CHECKV(%r9, 0, 6)
	CHECKV(%r10, 0x22, 7)
	CHECK(%r12, 8, 8)
	CHECK(%r13, 9, 9)
	CHECK(%r14, 10, 10)
	CHECK(%r15, 11, 11)
	CHECKX(%xmm0, 16, 16)
	CHECKX(%xmm1, 17, 17)
	CHECKX(%xmm2, 18, 18)
	CHECKX(%xmm3, 19, 19)
	CHECKX(%xmm4, 20, 20)
	CHECKX(%xmm5, 21, 21)
	CHECKX(%xmm6, 22, 22)
	CHECKX(%xmm7, 23, 23)
	CHECKX(%xmm8, 24, 24)
	CHECKX(%xmm9, 25, 25)
	CHECKX(%xmm10, 26, 26)
	CHECKX(%xmm11, 27, 27)
	CHECKX(%xmm12, 28, 28)
	CHECKX(%xmm13, 29, 29)
	CHECKX(%xmm14, 30, 30)
	lea -128(%rsp), %rax
	mov $16, %edx
	movabs $0x5a5a5a5a5a5a5a5a, %r11
6:	cmp %r11, (%rax)
	je 7f
	bts $32, %rcx
7:	add $8, %rax
	dec %edx
	jnz 6b
	mov %rcx, %rbx
	mov $11, %eax                   // munmap(the page, 4096)
	mov (%rsp), %rdi
	mov $4096, %esi
	syscall
	movq %xmm15, %rsp
	mov %rbx, %rax
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
	.size confide_syscall_clobbers, . - confide_syscall_clobbers

	.section .note.GNU-stack, "", @progbits
