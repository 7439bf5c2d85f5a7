// SPDX-License-Identifier: GPL-2.0
/*
 * The talk's pre-pass example: main -> static -> global -> static -> bpf_throw.
 * The verifier checks the global function on its own, so while it walks main
 * it cannot see that the call into the global one throws; a strategy needs a
 * pre-pass to know that main's and relay's frames must be described.
 *  - global_chain: main holds a local object and relay a task across the
 *    chain. Stock semantics (after "bpf: Check global subprog exception
 *    paths") reject it; Linux 6.18.44 lacks that check, accepts it and leaks
 *    both on a throw.
 *  - global_chain_clean: main drops its object before the chain and relay
 *    holds nothing; both accept.
 */
#include "bakeoff.h"

#define ERR_SHORT 23

struct scratch {
	long seen;
};

static __noinline int check(struct __sk_buff *ctx)
{
	if (ctx->len < ETH_HLEN + 20)
		bpf_throw(ERR_SHORT);
	return 1;
}

/* Global: verified once, on its own, from its BTF prototype. */
__noinline int parse(struct __sk_buff *ctx)
{
	return check(ctx) + 1;
}

static __noinline int relay(struct __sk_buff *ctx)
{
	struct task_struct *t = bpf_task_from_pid(2); /* kthreadd */
	int ret = parse(ctx) + 1;                      /* may throw while t is held */

	if (t)
		bpf_task_release(t);
	return ret;
}

static __noinline int relay_clean(struct __sk_buff *ctx)
{
	return parse(ctx) + 1;
}

SEC("tc")
int global_chain(struct __sk_buff *ctx)
{
	struct scratch *s = bpf_obj_new(struct scratch);
	int depth;

	if (!s)
		return TC_ACT_SHOT;
	depth = relay(ctx); /* may throw while s is held */
	s->seen = depth;
	bpf_obj_drop(s);
	return depth == 3 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

SEC("tc")
int global_chain_clean(struct __sk_buff *ctx)
{
	struct scratch *s = bpf_obj_new(struct scratch);
	int depth;

	if (!s)
		return TC_ACT_SHOT;
	s->seen = ctx->len;
	bpf_obj_drop(s);
	depth = relay_clean(ctx);
	return depth == 3 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
