// SPDX-License-Identifier: GPL-2.0
/*
 * A call chain within 16 bytes of the 512-byte combined stack limit, with
 * two local objects live in main at a throw from its callee. It measures
 * what a strategy's stack costs: frame descriptors add no stack; a resource
 * table needs 16 bytes per resource main holds at once (32 here) and so
 * pushes the chain past 512; hybrid spill needs slots only where
 * descriptors would conflict (nowhere here).
 *  - near_limit: main 480 bytes (a 464-byte scratch buffer, two object
 *    slots), fill() 16 more: rejected today ("Unreleased reference").
 *  - near_limit_clean: drops both objects before the call that throws.
 * Throws 53 when the packet is shorter than Ethernet + IPv4.
 */
#include "bakeoff.h"

#define ERR_SHORT 53
#define SCRATCH 464

struct half {
	long v;
};

static __noinline int fill(struct __sk_buff *ctx)
{
	volatile __u64 seen[2];

	seen[0] = ctx->len;
	seen[1] = ctx->ifindex;
	if (seen[0] < ETH_HLEN + 20)
		bpf_throw(ERR_SHORT);
	return seen[0] + seen[1];
}

/* Zero the whole buffer, let it escape, read one byte the packet picks. */
static __always_inline int touch(__u8 *scratch, struct __sk_buff *ctx)
{
	__builtin_memset(scratch, 0, SCRATCH);
	asm volatile("" : : "r"(scratch) : "memory");
	return scratch[ctx->len & 0xff] + 1;
}

SEC("tc")
int near_limit(struct __sk_buff *ctx)
{
	__u8 scratch[SCRATCH];
	struct half *volatile a = bpf_obj_new(struct half);
	struct half *volatile b = bpf_obj_new(struct half);
	struct half *p;
	int sum = touch(scratch, ctx);

	sum += fill(ctx); /* throws with a and b live */
	p = a;
	if (p)
		bpf_obj_drop(p);
	p = b;
	if (p)
		bpf_obj_drop(p);
	return sum > 0 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

SEC("tc")
int near_limit_clean(struct __sk_buff *ctx)
{
	__u8 scratch[SCRATCH];
	struct half *volatile a = bpf_obj_new(struct half);
	struct half *volatile b = bpf_obj_new(struct half);
	struct half *p;
	int sum = touch(scratch, ctx);

	p = a;
	if (p)
		bpf_obj_drop(p);
	p = b;
	if (p)
		bpf_obj_drop(p);
	sum += fill(ctx);
	return sum > 0 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
