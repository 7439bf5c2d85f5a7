# program: every_opcode
# type: sched_cls
# section: tc
# license: GPL
# description: every instruction form of framework/isa/opcodes.SPECS once, in SPECS order
#
# Not meant to verify (it reads uninitialised registers, divides by what it
# likes and jumps nowhere): it is the decoder's and printers' coverage case.
# Each line ends with the Spec it exercises. Conditional jumps, goto, gotol
# and may_goto jump to the next instruction (+0). The load_acquire and
# store_release lines (LLVM 21 syntax) are turned into raw .quad words by
# programs/build.py before llvm-mc-19 sees them.

	.text
	.section	tc,"ax",@progbits
	.globl	every_opcode
	.type	every_opcode,@function
every_opcode:
	w1 += 0x3	# alu32_add_k
	w1 += w2	# alu32_add_x
	w1 -= 0x3	# alu32_sub_k
	w1 -= w2	# alu32_sub_x
	w1 *= 0x3	# alu32_mul_k
	w1 *= w2	# alu32_mul_x
	w1 /= 0x3	# alu32_div_k
	w1 s/= 0x3	# alu32_sdiv_k
	w1 /= w2	# alu32_div_x
	w1 s/= w2	# alu32_sdiv_x
	w1 |= 0x3	# alu32_or_k
	w1 |= w2	# alu32_or_x
	w1 &= 0x3	# alu32_and_k
	w1 &= w2	# alu32_and_x
	w1 <<= 0x3	# alu32_lsh_k
	w1 <<= w2	# alu32_lsh_x
	w1 >>= 0x3	# alu32_rsh_k
	w1 >>= w2	# alu32_rsh_x
	w1 %= 0x3	# alu32_mod_k
	w1 s%= 0x3	# alu32_smod_k
	w1 %= w2	# alu32_mod_x
	w1 s%= w2	# alu32_smod_x
	w1 ^= 0x3	# alu32_xor_k
	w1 ^= w2	# alu32_xor_x
	w1 = 0x3	# alu32_mov_k
	w1 = w2	# alu32_mov_x
	w1 = (s8)w2	# alu32_movsx8_x
	w1 = (s16)w2	# alu32_movsx16_x
	w1 s>>= 0x3	# alu32_arsh_k
	w1 s>>= w2	# alu32_arsh_x
	w1 = -w1	# alu32_neg
	r1 += 0x3	# alu64_add_k
	r1 += r2	# alu64_add_x
	r1 -= 0x3	# alu64_sub_k
	r1 -= r2	# alu64_sub_x
	r1 *= 0x3	# alu64_mul_k
	r1 *= r2	# alu64_mul_x
	r1 /= 0x3	# alu64_div_k
	r1 s/= 0x3	# alu64_sdiv_k
	r1 /= r2	# alu64_div_x
	r1 s/= r2	# alu64_sdiv_x
	r1 |= 0x3	# alu64_or_k
	r1 |= r2	# alu64_or_x
	r1 &= 0x3	# alu64_and_k
	r1 &= r2	# alu64_and_x
	r1 <<= 0x3	# alu64_lsh_k
	r1 <<= r2	# alu64_lsh_x
	r1 >>= 0x3	# alu64_rsh_k
	r1 >>= r2	# alu64_rsh_x
	r1 %= 0x3	# alu64_mod_k
	r1 s%= 0x3	# alu64_smod_k
	r1 %= r2	# alu64_mod_x
	r1 s%= r2	# alu64_smod_x
	r1 ^= 0x3	# alu64_xor_k
	r1 ^= r2	# alu64_xor_x
	r1 = 0x3	# alu64_mov_k
	r1 = r2	# alu64_mov_x
	r1 = (s8)r2	# alu64_movsx8_x
	r1 = (s16)r2	# alu64_movsx16_x
	r1 = (s32)r2	# alu64_movsx32_x
	r1 s>>= 0x3	# alu64_arsh_k
	r1 s>>= r2	# alu64_arsh_x
	r1 = -r1	# alu64_neg
	r1 = addr_space_cast(r2, 0x1, 0x0)	# alu64_addr_space_cast
	r1 = le16 r1	# le16
	r1 = be16 r1	# be16
	r1 = bswap16 r1	# bswap16
	r1 = le32 r1	# le32
	r1 = be32 r1	# be32
	r1 = bswap32 r1	# bswap32
	r1 = le64 r1	# le64
	r1 = be64 r1	# be64
	r1 = bswap64 r1	# bswap64
	goto +0x0	# ja
	gotol +0x0	# gotol
	if r1 == 0x3 goto +0x0	# jmp_jeq_k
	if r1 == r2 goto +0x0	# jmp_jeq_x
	if r1 > 0x3 goto +0x0	# jmp_jgt_k
	if r1 > r2 goto +0x0	# jmp_jgt_x
	if r1 >= 0x3 goto +0x0	# jmp_jge_k
	if r1 >= r2 goto +0x0	# jmp_jge_x
	if r1 & 0x3 goto +0x0	# jmp_jset_k
	if r1 & r2 goto +0x0	# jmp_jset_x
	if r1 != 0x3 goto +0x0	# jmp_jne_k
	if r1 != r2 goto +0x0	# jmp_jne_x
	if r1 s> 0x3 goto +0x0	# jmp_jsgt_k
	if r1 s> r2 goto +0x0	# jmp_jsgt_x
	if r1 s>= 0x3 goto +0x0	# jmp_jsge_k
	if r1 s>= r2 goto +0x0	# jmp_jsge_x
	if r1 < 0x3 goto +0x0	# jmp_jlt_k
	if r1 < r2 goto +0x0	# jmp_jlt_x
	if r1 <= 0x3 goto +0x0	# jmp_jle_k
	if r1 <= r2 goto +0x0	# jmp_jle_x
	if r1 s< 0x3 goto +0x0	# jmp_jslt_k
	if r1 s< r2 goto +0x0	# jmp_jslt_x
	if r1 s<= 0x3 goto +0x0	# jmp_jsle_k
	if r1 s<= r2 goto +0x0	# jmp_jsle_x
	if w1 == 0x3 goto +0x0	# jmp32_jeq_k
	if w1 == w2 goto +0x0	# jmp32_jeq_x
	if w1 > 0x3 goto +0x0	# jmp32_jgt_k
	if w1 > w2 goto +0x0	# jmp32_jgt_x
	if w1 >= 0x3 goto +0x0	# jmp32_jge_k
	if w1 >= w2 goto +0x0	# jmp32_jge_x
	if w1 & 0x3 goto +0x0	# jmp32_jset_k
	if w1 & w2 goto +0x0	# jmp32_jset_x
	if w1 != 0x3 goto +0x0	# jmp32_jne_k
	if w1 != w2 goto +0x0	# jmp32_jne_x
	if w1 s> 0x3 goto +0x0	# jmp32_jsgt_k
	if w1 s> w2 goto +0x0	# jmp32_jsgt_x
	if w1 s>= 0x3 goto +0x0	# jmp32_jsge_k
	if w1 s>= w2 goto +0x0	# jmp32_jsge_x
	if w1 < 0x3 goto +0x0	# jmp32_jlt_k
	if w1 < w2 goto +0x0	# jmp32_jlt_x
	if w1 <= 0x3 goto +0x0	# jmp32_jle_k
	if w1 <= w2 goto +0x0	# jmp32_jle_x
	if w1 s< 0x3 goto +0x0	# jmp32_jslt_k
	if w1 s< w2 goto +0x0	# jmp32_jslt_x
	if w1 s<= 0x3 goto +0x0	# jmp32_jsle_k
	if w1 s<= w2 goto +0x0	# jmp32_jsle_x
	may_goto +0x0	# may_goto
	call 0x5	# call
	callx r1	# callx
	r1 = 0x1 ll	# ld_imm64
	r0 = *(u8 *)skb[0xe]	# ld_abs_b
	r0 = *(u16 *)skb[0xe]	# ld_abs_h
	r0 = *(u32 *)skb[0xe]	# ld_abs_w
	r0 = *(u8 *)skb[r7]	# ld_ind_b
	r0 = *(u16 *)skb[r7]	# ld_ind_h
	r0 = *(u32 *)skb[r7]	# ld_ind_w
	w1 = *(u8 *)(r10 - 0x8)	# ldx_b
	r1 = *(s8 *)(r10 - 0x8)	# ldxs_b
	*(u8 *)(r10 - 0x8) = 0x7	# st_b
	*(u8 *)(r10 - 0x8) = w2	# stx_b
	w1 = *(u16 *)(r10 - 0x8)	# ldx_h
	r1 = *(s16 *)(r10 - 0x8)	# ldxs_h
	*(u16 *)(r10 - 0x8) = 0x7	# st_h
	*(u16 *)(r10 - 0x8) = w2	# stx_h
	w1 = *(u32 *)(r10 - 0x8)	# ldx_w
	r1 = *(s32 *)(r10 - 0x8)	# ldxs_w
	*(u32 *)(r10 - 0x8) = 0x7	# st_w
	*(u32 *)(r10 - 0x8) = w2	# stx_w
	r1 = *(u64 *)(r10 - 0x8)	# ldx_dw
	*(u64 *)(r10 - 0x8) = 0x7	# st_dw
	*(u64 *)(r10 - 0x8) = r2	# stx_dw
	lock *(u32 *)(r10 - 0x8) += w2	# atomic_w_add
	w2 = atomic_fetch_add((u32 *)(r10 - 0x8), w2)	# atomic_w_fetch_add
	lock *(u32 *)(r10 - 0x8) |= w2	# atomic_w_or
	w2 = atomic_fetch_or((u32 *)(r10 - 0x8), w2)	# atomic_w_fetch_or
	lock *(u32 *)(r10 - 0x8) &= w2	# atomic_w_and
	w2 = atomic_fetch_and((u32 *)(r10 - 0x8), w2)	# atomic_w_fetch_and
	lock *(u32 *)(r10 - 0x8) ^= w2	# atomic_w_xor
	w2 = atomic_fetch_xor((u32 *)(r10 - 0x8), w2)	# atomic_w_fetch_xor
	w2 = xchg32_32(r10 - 0x8, w2)	# atomic_w_xchg
	w0 = cmpxchg32_32(r10 - 0x8, w0, w2)	# atomic_w_cmpxchg
	lock *(u64 *)(r10 - 0x8) += r2	# atomic_dw_add
	r2 = atomic_fetch_add((u64 *)(r10 - 0x8), r2)	# atomic_dw_fetch_add
	lock *(u64 *)(r10 - 0x8) |= r2	# atomic_dw_or
	r2 = atomic_fetch_or((u64 *)(r10 - 0x8), r2)	# atomic_dw_fetch_or
	lock *(u64 *)(r10 - 0x8) &= r2	# atomic_dw_and
	r2 = atomic_fetch_and((u64 *)(r10 - 0x8), r2)	# atomic_dw_fetch_and
	lock *(u64 *)(r10 - 0x8) ^= r2	# atomic_dw_xor
	r2 = atomic_fetch_xor((u64 *)(r10 - 0x8), r2)	# atomic_dw_fetch_xor
	r2 = xchg_64(r10 - 0x8, r2)	# atomic_dw_xchg
	r0 = cmpxchg_64(r10 - 0x8, r0, r2)	# atomic_dw_cmpxchg
	w1 = load_acquire((u8 *)(r10 - 0x8))	# load_acquire_b
	store_release((u8 *)(r10 - 0x8), w2)	# store_release_b
	w1 = load_acquire((u16 *)(r10 - 0x8))	# load_acquire_h
	store_release((u16 *)(r10 - 0x8), w2)	# store_release_h
	w1 = load_acquire((u32 *)(r10 - 0x8))	# load_acquire_w
	store_release((u32 *)(r10 - 0x8), w2)	# store_release_w
	r1 = load_acquire((u64 *)(r10 - 0x8))	# load_acquire_dw
	store_release((u64 *)(r10 - 0x8), r2)	# store_release_dw
	exit	# exit
.Lfunc_end0:
	.size	every_opcode, .Lfunc_end0-every_opcode

	.section	license,"aw",@progbits
	.globl	LICENSE
	.type	LICENSE,@object
LICENSE:
	.asciz	"GPL"
	.size	LICENSE, 4
