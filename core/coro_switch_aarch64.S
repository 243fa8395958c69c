/*
 * core/coro_switch_aarch64.S - coroutine context switch, AArch64 (AAPCS64).
 *
 * A suspended context is its stack with this 176-byte frame on top:
 *
 *   sp+0    x19 .. x28
 *   sp+80   x29 (fp), x30 (lr: where the switch returns to)
 *   sp+96   d8 .. d15 (only the low 64 bits are callee-saved)
 *   sp+160  FPCR, padding
 *
 * Only callee-saved state is kept: the caller of ringo__coro_switch already
 * assumes everything else is clobbered by a call. FPCR (rounding mode,
 * flush-to-zero) travels with the context so a mode set inside a coroutine
 * stays local to it. FPSR (cumulative exception flags) is left alone, as a
 * call would leave it. No system call, no signal mask.
 */
#if defined(__aarch64__) && defined(__ELF__)

	.text

/* void ringo__coro_switch(void **save_sp, void *load_sp) */
	.p2align 4
	.globl	ringo__coro_switch
	.hidden	ringo__coro_switch
	.type	ringo__coro_switch, %function
ringo__coro_switch:
	.cfi_startproc
	sub	sp, sp, #176
	.cfi_adjust_cfa_offset 176
	stp	x19, x20, [sp, #0]
	.cfi_rel_offset x19, 0
	.cfi_rel_offset x20, 8
	stp	x21, x22, [sp, #16]
	.cfi_rel_offset x21, 16
	.cfi_rel_offset x22, 24
	stp	x23, x24, [sp, #32]
	.cfi_rel_offset x23, 32
	.cfi_rel_offset x24, 40
	stp	x25, x26, [sp, #48]
	.cfi_rel_offset x25, 48
	.cfi_rel_offset x26, 56
	stp	x27, x28, [sp, #64]
	.cfi_rel_offset x27, 64
	.cfi_rel_offset x28, 72
	stp	x29, x30, [sp, #80]
	.cfi_rel_offset x29, 80
	.cfi_rel_offset x30, 88
	stp	d8, d9, [sp, #96]
	.cfi_rel_offset d8, 96
	.cfi_rel_offset d9, 104
	stp	d10, d11, [sp, #112]
	.cfi_rel_offset d10, 112
	.cfi_rel_offset d11, 120
	stp	d12, d13, [sp, #128]
	.cfi_rel_offset d12, 128
	.cfi_rel_offset d13, 136
	stp	d14, d15, [sp, #144]
	.cfi_rel_offset d14, 144
	.cfi_rel_offset d15, 152
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x10, sp
	str	x10, [x0]
	mov	sp, x1
	/* Writing FPCR can stall the pipeline; it rarely differs, so compare. */
	ldr	x11, [sp, #160]
	cmp	x9, x11
	b.eq	1f
	msr	fpcr, x11
1:	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #176
	.cfi_adjust_cfa_offset -176
	ret
	.cfi_endproc
	.size	ringo__coro_switch, .-ringo__coro_switch

/*
 * void *ringo__coro_prepare(void *top, void (*entry)(void *), void *arg)
 *
 * Builds a suspended frame below top (16-byte aligned) whose first resume
 * "returns" into ringo__coro_trampoline with x19 = arg and x20 = entry, and
 * returns its stack pointer. The new context starts with the FPCR of the
 * thread that creates it, as a called function would.
 */
	.p2align 4
	.globl	ringo__coro_prepare
	.hidden	ringo__coro_prepare
	.type	ringo__coro_prepare, %function
ringo__coro_prepare:
	.cfi_startproc
	sub	x0, x0, #176
	stp	x2, x1, [x0, #0]
	stp	xzr, xzr, [x0, #16]
	stp	xzr, xzr, [x0, #32]
	stp	xzr, xzr, [x0, #48]
	stp	xzr, xzr, [x0, #64]
	adr	x9, ringo__coro_trampoline
	stp	xzr, x9, [x0, #80]
	stp	xzr, xzr, [x0, #96]
	stp	xzr, xzr, [x0, #112]
	stp	xzr, xzr, [x0, #128]
	stp	xzr, xzr, [x0, #144]
	mrs	x9, fpcr
	stp	x9, xzr, [x0, #160]
	ret
	.cfi_endproc
	.size	ringo__coro_prepare, .-ringo__coro_prepare

/*
 * First code of every coroutine: sp is the 16-byte aligned top, x29 is 0
 * (ends frame-pointer walks) and the return address is undefined (ends CFI
 * unwinding). entry never returns.
 */
	.p2align 4
	.type	ringo__coro_trampoline, %function
ringo__coro_trampoline:
	.cfi_startproc
	.cfi_undefined x30
	mov	x0, x19
	blr	x20
	brk	#1
	.cfi_endproc
	.size	ringo__coro_trampoline, .-ringo__coro_trampoline

#endif

	.section .note.GNU-stack,"",%progbits
