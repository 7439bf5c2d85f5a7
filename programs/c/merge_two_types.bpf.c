// SPDX-License-Identifier: GPL-2.0
/*
 * One stack slot (a volatile local) holds resources of two different types
 * on two paths when the program throws. A frame descriptor describes a slot
 * by one kind and one BTF type per throwing pc, so frame-descriptors must
 * refuse both programs; hybrid-spill gives each acquire its own slot.
 *  - two_kinds: a local object (bpf_obj_drop) or a task (bpf_task_release);
 *  - two_btf_types: two local object types, both freed by bpf_obj_drop but
 *    each with its own BTF record;
 *  - two_kinds_clean: two_kinds releasing by hand before the throw: accepted.
 * The packet's 15th byte picks the type (odd: object), its length whether
 * the program throws (shorter than Ethernet + IPv4). Rejected today when
 * they throw holding either ("Unreleased reference").
 */
#include "bakeoff.h"

#define ERR_SHORT 31
#define KTHREADD 2 /* a pid every Linux has: kthreadd */

struct small {
	long a;
};

struct large {
	long a;
	long b;
	long c;
	long d;
};

static __always_inline int pick_object(struct __sk_buff *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *b = data + ETH_HLEN;

	if ((void *)(b + 1) > data_end)
		return 0;
	return *b & 1;
}

SEC("tc")
int two_kinds(struct __sk_buff *ctx)
{
	void *volatile slot;
	int is_obj = pick_object(ctx);

	if (is_obj)
		slot = bpf_obj_new(struct small);
	else
		slot = bpf_task_from_pid(KTHREADD);
	if (!slot)
		return TC_ACT_SHOT;
	if (ctx->len < ETH_HLEN + 20)
		bpf_throw(ERR_SHORT); /* slot: a struct small or a task_struct */
	if (is_obj)
		bpf_obj_drop((struct small *)slot);
	else
		bpf_task_release((struct task_struct *)slot);
	return TC_ACT_OK;
}

SEC("tc")
int two_btf_types(struct __sk_buff *ctx)
{
	void *volatile slot;
	int is_small = pick_object(ctx);

	if (is_small)
		slot = bpf_obj_new(struct small);
	else
		slot = bpf_obj_new(struct large);
	if (!slot)
		return TC_ACT_SHOT;
	if (ctx->len < ETH_HLEN + 20)
		bpf_throw(ERR_SHORT); /* slot: a struct small or a struct large */
	if (is_small)
		bpf_obj_drop((struct small *)slot);
	else
		bpf_obj_drop((struct large *)slot);
	return TC_ACT_OK;
}

SEC("tc")
int two_kinds_clean(struct __sk_buff *ctx)
{
	void *volatile slot;
	int is_obj = pick_object(ctx);

	if (is_obj)
		slot = bpf_obj_new(struct small);
	else
		slot = bpf_task_from_pid(KTHREADD);
	if (!slot)
		return TC_ACT_SHOT;
	if (is_obj)
		bpf_obj_drop((struct small *)slot);
	else
		bpf_task_release((struct task_struct *)slot);
	if (ctx->len < ETH_HLEN + 20)
		bpf_throw(ERR_SHORT);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
