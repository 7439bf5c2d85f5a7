// SPDX-License-Identifier: GPL-2.0
// mcpu: v4
/*
 * Sub-register spills: a `struct { __u32 next; __u32 val; }` on the stack,
 * filled with two 4-byte stores into one 8-byte slot and read back in pieces.
 * The store into the slot's first half is a 4-byte spill (save_register_state);
 * the store into its second half is a plain write, which scrubs the spill
 * (check_stack_write_fixed_off: is_stack_slot_special, scrub_spilled_slot), so
 * the slot reads back as STACK_MISC: an unknown scalar of the read's size.
 * Linux accepts every program here; the project once refused the first with
 * `invalid read from stack off -56+0 size 4` (the upper half left as dangling
 * spill bytes). The halves are __sk_buff fields (or, in imm_halves, immediates
 * on two paths), and each program returns what it read, so a wrong half, byte
 * or width changes the value:
 *  - half_lo:    `wX = *(u32 *)(r10 - 8)`, the half that was a 4-byte spill;
 *  - half_hi:    `wX = *(u32 *)(r10 - 4)`, the half written second;
 *  - slot_u64:   `rX = *(u64 *)(r10 - 8)` after the two halves, bits 16..47;
 *  - byte_lo_hi: `*(u8 *)(r10 - 7)`, `*(u8 *)(r10 - 3)` and `*(u8 *)(r10 - 2)`:
 *                bytes of either half;
 *  - imm_halves: both halves immediates (`*(u32 *)(r10 - 8) = 0x11`, BPF_ST:
 *                hence cpu v4) in either order by the mark's low bit, read as
 *                two halves and as the whole slot.
 * `llvm-objdump-19 -d --mcpu=v4 programs/obj/stack_subreg_spill.o` shows the
 * stores and reads named above.
 */
#include "bakeoff.h"

struct pair {
	__u32 next;
	__u32 val;
};

union slot {
	struct pair p;
	__u64 all;
	__u8 b[8];
};

/* The slot's address escapes into an empty asm that clobbers memory: every
 * store before it and every read after it stays a stack access. */
#define stack_barrier(p) asm volatile("" : : "r"(p) : "memory")

#define FILL(u, ctx)                                          \
	do {                                                  \
		(u).p.next = (ctx)->mark ^ (ctx)->len;        \
		(u).p.val = (ctx)->priority ^ (ctx)->protocol; \
		stack_barrier(&(u));                          \
	} while (0)

SEC("tc")
int half_lo(struct __sk_buff *ctx)
{
	union slot u;

	FILL(u, ctx);
	return u.p.next;
}

SEC("tc")
int half_hi(struct __sk_buff *ctx)
{
	union slot u;

	FILL(u, ctx);
	return u.p.val;
}

SEC("tc")
int slot_u64(struct __sk_buff *ctx)
{
	union slot u;

	FILL(u, ctx);
	return (__u32)(u.all >> 16);
}

SEC("tc")
int byte_lo_hi(struct __sk_buff *ctx)
{
	union slot u;

	FILL(u, ctx);
	return u.b[1] << 16 | u.b[5] << 8 | u.b[6];
}

SEC("tc")
int imm_halves(struct __sk_buff *ctx)
{
	union slot u;

	if (ctx->mark & 1) {
		u.p.next = 0x11;
		stack_barrier(&u);
		u.p.val = 0x2222;
	} else {
		u.p.val = 0x4444;
		stack_barrier(&u);
		u.p.next = 0x33;
	}
	stack_barrier(&u);
	return (u.p.next << 8) + u.p.val + (__u32)(u.all >> 24);
}

char LICENSE[] SEC("license") = "GPL";
