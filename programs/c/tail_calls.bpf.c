// SPDX-License-Identifier: GPL-2.0
/*
 * Tail calls through one program array (bpf_tail_call, helper 12), the manifest
 * filling its slots per input with programs of this object:
 *  - tail_main:     a tail call from main; an empty slot falls through (returns 1);
 *  - tail_range:    an index past max_entries falls through (returns 2);
 *  - tail_subprog:  a tail call from a static subprog: the target's return value
 *                   goes to main, which adds 8 (as the selftest exceptions.c does);
 *  - tail_then_call: hop, then plain -> leaf: which frames the JIT gives the counter;
 *  - tail_chain:    a program that tail-calls itself, counting its runs in .bss:
 *                   the x86-64 JIT lets 33 tail calls succeed (MAX_TAIL_CALL_CNT);
 *  - tail_after_misses: 40 tail calls to an empty slot do not count towards it;
 *  - len_target, throw_target, throw_cb_target: the programs the slots hold
 *    (throw_target throws 16 with the default callback, throw_cb_target throws 16
 *    with a callback that adds 100; both return 5 for a bare Ethernet header);
 *  - throw_held_target: throws 16 holding a bpf_obj_new object (stock refuses it;
 *    a strategy releases the object from the target's own tables, however it was
 *    reached); throw_target is its clean twin.
 */
#include "bakeoff.h"

#define BPF_MAP_TYPE_PROG_ARRAY 3

static long (* const bpf_tail_call)(void *ctx, void *prog_array, __u32 index) = (void *)12;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jmp_table SEC(".maps");

__u32 chain_runs;

SEC("tc")
int len_target(struct __sk_buff *ctx)
{
	return ctx->len + 1000;	/* the same ctx the caller had */
}

SEC("tc")
int throw_target(struct __sk_buff *ctx)
{
	if (ctx->len > ETH_HLEN)	/* every packet but a bare Ethernet header */
		bpf_throw(16);
	return 5;
}

struct held {
	long len;
};

SEC("tc")
int throw_held_target(struct __sk_buff *ctx)
{
	struct held *obj = bpf_obj_new(struct held);

	if (!obj)
		return 0;
	obj->len = ctx->len;
	if (ctx->len > ETH_HLEN)	/* every packet but a bare Ethernet header */
		bpf_throw(16);	/* holds obj */
	bpf_obj_drop(obj);
	return 5;
}

__noinline int add_hundred(__u64 cookie)
{
	return cookie + 100;
}

__exception_cb(add_hundred)
SEC("tc")
int throw_cb_target(struct __sk_buff *ctx)
{
	if (ctx->len > ETH_HLEN)	/* every packet but a bare Ethernet header */
		bpf_throw(16);
	return 5;
}

SEC("tc")
int tail_main(struct __sk_buff *ctx)
{
	bpf_tail_call(ctx, &jmp_table, 0);
	return 1;
}

SEC("tc")
int tail_range(struct __sk_buff *ctx)
{
	bpf_tail_call(ctx, &jmp_table, ctx->len);	/* every packet is longer than 4 bytes */
	return 2;
}

static __noinline int hop(struct __sk_buff *ctx)
{
	bpf_tail_call(ctx, &jmp_table, 1);
	return ctx->len;	/* not a constant, so main uses what hop returns */
}

SEC("tc")
int tail_subprog(struct __sk_buff *ctx)
{
	return hop(ctx) + 8;
}

static __noinline int leaf(struct __sk_buff *ctx)
{
	return ctx->len & 7;
}

static __noinline int plain(struct __sk_buff *ctx)
{
	return leaf(ctx) + 1;
}

/* A tail-calling subprog, then plain -> leaf: check_max_stack_depth_subprog keeps its
 * tail_call_reachable flag once set, so plain gets the counter's slots too (and leaf not). */
SEC("tc")
int tail_then_call(struct __sk_buff *ctx)
{
	int a = hop(ctx);

	return a + plain(ctx);
}

SEC("tc")
int tail_chain(struct __sk_buff *ctx)
{
	chain_runs++;
	bpf_tail_call(ctx, &jmp_table, 2);
	return chain_runs;
}

/* 40 tail calls to the empty slot 3, then one to slot 0: x86-64 counts only the tail
 * calls that found a program, so the last one still succeeds. */
SEC("tc")
int tail_after_misses(struct __sk_buff *ctx)
{
	for (int i = 0; i < 40; i++)
		bpf_tail_call(ctx, &jmp_table, 3);
	bpf_tail_call(ctx, &jmp_table, 0);
	return 3;
}

char LICENSE[] SEC("license") = "GPL";
