// SPDX-License-Identifier: GPL-2.0
// mcpu: v4
/*
 * Verifier rules the project once got wrong, each a program the live kernel
 * gives a verdict, a stack depth and (where it runs) a return value for:
 *  - may_goto_walk:   a loop bounded by `may_goto` (bpf_experimental.h's
 *                     cond_break) over a 32-byte stack buffer; do_misc_fixups
 *                     adds a 16-byte pair of slots below the frame (the count
 *                     and the timestamp of the timed may_goto), and the
 *                     kernel reports and JITs the larger depth;
 *  - bpf_loop_frame:  bpf_loop with flags 0 and a known callback below an
 *                     80-byte frame; optimize_bpf_loop inlines it into a loop
 *                     of calls and keeps its three slots under the frame;
 *  - var_off_unbounded: a stack read at fp-128 plus a length with no upper
 *                     bound: check_stack_access_within_bounds refuses it as
 *                     unbounded before it looks at its range
 *                     ("invalid unbounded variable-offset read from stack R1");
 *  - ptr_add_ptr:     `r1 += r2` with ctx and a stack pointer
 *                     (adjust_reg_min_max_vals: "R1 pointer += pointer prohibited").
 * The last two are naked functions: their instructions are the asm below.
 */
#include "bakeoff.h"

#define STEPS 100

SEC("tc")
int may_goto_walk(struct __sk_buff *ctx)
{
	volatile __u64 buf[4] = {};
	__u32 sum = 0, i = 0;

	for (;;) {
		asm volatile goto("may_goto %l[out]" :::: out);
		sum += ctx->len + i;
		buf[i & 3] += sum;
		if (++i > STEPS)
			break;
	}
out:
	return sum + buf[1];
}

struct acc {
	__u32 len;
	__u32 sum;
};

static long add_step(__u64 i, void *data)
{
	struct acc *a = data;

	a->sum = a->sum * 31 + a->len + (__u32)i;
	return 0;
}

SEC("tc")
int bpf_loop_frame(struct __sk_buff *ctx)
{
	volatile __u64 pad[8] = {};
	struct acc a = { .len = ctx->len, .sum = ctx->protocol };

	pad[ctx->len & 7] = ctx->mark;
	bpf_loop(16, add_step, &a, 0);
	return a.sum ^ pad[0] ^ pad[6];
}

__attribute__((naked)) SEC("tc") int var_off_unbounded(void)
{
	asm volatile("r2 = *(u32 *)(r1 + 0);"
		     "r2 &= -8;"
		     "r1 = r10;"
		     "r1 += -128;"
		     "r1 += r2;"
		     "r0 = *(u64 *)(r1 + 0);"
		     "exit;" ::: "memory");
}

__attribute__((naked)) SEC("tc") int ptr_add_ptr(void)
{
	asm volatile("r2 = r10;"
		     "r2 += -8;"
		     "r0 = 0;"
		     "*(u64 *)(r2 + 0) = r0;"
		     "r1 += r2;"
		     "r0 = *(u32 *)(r1 + 0);"
		     "exit;" ::: "memory");
}

char LICENSE[] SEC("license") = "GPL";
