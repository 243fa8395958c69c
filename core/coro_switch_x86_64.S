/*
 * core/coro_switch_x86_64.S - coroutine context switch, x86-64 System V.
 *
 * A suspended context is its stack with this frame on top (low to high):
 *
 *   sp+0   MXCSR (4 bytes), x87 control word (2 bytes), padding
 *   sp+8   r15, r14, r13, r12, rbx, rbp
 *   sp+56  return address
 *
 * Only callee-saved state is kept: the caller of ringo__coro_switch already
 * assumes every other register is clobbered by a call. The ABI makes the
 * MXCSR control bits and the x87 control word callee-saved too, which is
 * what keeps a rounding mode local to the coroutine that set it (MXCSR is
 * reloaded whole, so its sticky exception flags follow the context as
 * well). Nothing here touches the signal mask: no system call on a switch.
 *
 * The CFI describes the frame at each instruction; the frame layout is the
 * same on both stacks, so unwinding stays correct across the stack swap.
 */
#if defined(__x86_64__) && defined(__ELF__)

	.text

/* void ringo__coro_switch(void **save_sp, void *load_sp) */
	.p2align 4
	.globl	ringo__coro_switch
	.hidden	ringo__coro_switch
	.type	ringo__coro_switch, @function
ringo__coro_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movl	(%rsp), %eax
	movzwl	4(%rsp), %ecx
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	/* Reloading the control words costs more than comparing them, and they
	 * almost never differ between contexts. */
	cmpl	(%rsp), %eax
	je	1f
	ldmxcsr	(%rsp)
1:	cmpw	4(%rsp), %cx
	je	2f
	fldcw	4(%rsp)
2:	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	/*
	 * Not `ret`: the return-stack predictor pairs it with the call into
	 * this function, which was made on the other stack, so it would miss
	 * on every switch. An indirect jump goes through the branch-target
	 * predictor, which learns the alternation (what Boost.Context does
	 * too). In perf/micro/coro_bench a round trip costs about a third
	 * less than with `ret`.
	 * The target has no endbr64, so this object is not IBT-marked.
	 */
	popq	%rdx
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rdx
	jmp	*%rdx
	.cfi_endproc
	.size	ringo__coro_switch, .-ringo__coro_switch

/*
 * void *ringo__coro_prepare(void *top, void (*entry)(void *), void *arg)
 *
 * Builds a suspended frame below top (16-byte aligned) whose first resume
 * "returns" into ringo__coro_trampoline with rbx = arg and r12 = entry, and
 * returns its stack pointer. The new context starts with the FP control
 * words of the thread that creates it, as a called function would.
 */
	.p2align 4
	.globl	ringo__coro_prepare
	.hidden	ringo__coro_prepare
	.type	ringo__coro_prepare, @function
ringo__coro_prepare:
	.cfi_startproc
	leaq	-64(%rdi), %rax
	movq	$0, (%rax)
	stmxcsr	(%rax)
	fnstcw	4(%rax)
	movq	$0, 8(%rax)
	movq	$0, 16(%rax)
	movq	$0, 24(%rax)
	movq	%rsi, 32(%rax)
	movq	%rdx, 40(%rax)
	movq	$0, 48(%rax)
	leaq	ringo__coro_trampoline(%rip), %rcx
	movq	%rcx, 56(%rax)
	ret
	.cfi_endproc
	.size	ringo__coro_prepare, .-ringo__coro_prepare

/*
 * First code of every coroutine: rsp is the 16-byte aligned top, rbp is 0
 * (ends frame-pointer walks), and the return address is undefined (ends
 * CFI unwinding). entry never returns.
 */
	.p2align 4
	.type	ringo__coro_trampoline, @function
ringo__coro_trampoline:
	.cfi_startproc
	.cfi_undefined %rip
	movq	%rbx, %rdi
	call	*%r12
	ud2
	.cfi_endproc
	.size	ringo__coro_trampoline, .-ringo__coro_trampoline

#endif

	.section .note.GNU-stack,"",%progbits
