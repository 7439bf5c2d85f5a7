# Forms clang does not emit from C: addr_space_cast, may_goto, gotol, legacy
# packet loads, le/be, neg, jmp32 with every comparison, store immediates.
	.text
	.globl	extras
	.type	extras,@function
extras:
	r6 = r1
	r0 = *(u8 *)skb[0x17]
	r0 = *(u16 *)skb[r6]
	r0 = *(u32 *)skb[-0x4]
	r1 = addr_space_cast(r2, 0x0, 0x1)
	r1 = addr_space_cast(r1, 0x1, 0x0)
	may_goto +0x1
	w1 = -w1
	r1 = -r1
	r1 = le16 r1
	r1 = be32 r1
	r1 = be64 r1
	r1 = bswap16 r1
	*(u8 *)(r10 - 0x1) = 0x7f
	*(u16 *)(r10 - 0x4) = -0x2
	*(u32 *)(r10 - 0x8) = 0x12345678
	*(u64 *)(r10 - 0x10) = -0x1
	if w1 s< w2 goto +0x1
	if w1 s>= -0x3 goto +0x1
	if w1 & 0x10 goto +0x1
	if w1 <= 0x20 goto +0x1
	if r1 s<= r2 goto +0x1
	gotol +0x1
	r1 = 0x123456789abcdef0 ll
	callx r1
	w0 = (s8)w1
	r0 = (s32)r1
	w0 s>>= 0x3
	r0 s%= -0x7
	exit
