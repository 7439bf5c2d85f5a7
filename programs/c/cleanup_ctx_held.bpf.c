// SPDX-License-Identifier: GPL-2.0
/*
 * A throw while an object and a task reference are held, after reading
 * __sk_buff through context pointers that are not r1: main keeps a volatile
 * (spilled) copy of ctx and a bpf_obj_new object, and calls digest with the
 * filled copy; digest takes a task reference (bpf_task_from_pid(2), kthreadd)
 * and reads the fields through the pointer a static subprog returns. It
 * throws when the mark is odd, with the folded fields as the cookie (no
 * exception callback: the cookie is the return value), so a strategy's run
 * returns the right value only if every converted load read the right field:
 *  - ctx_held: throws holding the task (digest's frame) and the object
 *    (main's): rejected today ("Unreleased reference");
 *  - ctx_held_clean: digest releases the task and drops the object first.
 * With an even mark nothing throws and it returns the same fold mixed with
 * the object's fields.
 */
#include "bakeoff.h"

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u
#define KTHREADD 2

struct acc {
	__u64 sum;
	__u32 len;
	__u32 mark;
};

static __attribute__((always_inline)) __u32 fold(__u32 h, __u32 v)
{
	return (h ^ v) * FNV_PRIME;
}

static __noinline struct __sk_buff *pass(struct __sk_buff *skb)
{
	barrier_var(skb);
	return skb;
}

static __attribute__((always_inline)) __u32 fold_skb(struct __sk_buff *s, __u32 h)
{
	h = fold(h, s->len);
	h = fold(h, s->pkt_type);
	h = fold(h, s->mark);
	h = fold(h, s->protocol);
	h = fold(h, s->priority);
	h = fold(h, s->ingress_ifindex);
	h = fold(h, s->ifindex);
	h = fold(h, s->cb[0]);
	h = fold(h, s->cb[2]);
	h = fold(h, s->cb[4]);
	h = fold(h, (long)s->data_end - (long)s->data);
	h = fold(h, s->wire_len);
	h = fold(h, s->gso_segs);
	h = fold(h, s->gso_size);
	h = fold(h, (__u32)s->tstamp);
	h = fold(h, (__u32)s->hwtstamp);
	return h;
}

static __noinline __u32 digest(struct __sk_buff *skb, struct acc *a)
{
	struct task_struct *t = bpf_task_from_pid(KTHREADD);
	struct __sk_buff *s = pass(skb);
	__u32 h = fold_skb(s, a->len);

	if (t)
		h = fold(h, t->pid);
	a->sum += h;
	if (s->mark & 1)
		bpf_throw(h); /* holds t here and a in main */
	if (t)
		bpf_task_release(t);
	return h;
}

SEC("tc")
int ctx_held(struct __sk_buff *ctx)
{
	struct __sk_buff *volatile saved = ctx;
	struct acc *a = bpf_obj_new(struct acc);
	__u32 h;

	if (!a)
		return TC_ACT_SHOT;
	a->sum = 0; /* bpf_obj_new does not zero: bpf_mem_alloc hands back freed objects */
	a->len = saved->len;
	a->mark = saved->mark;
	h = digest(saved, a);
	h = fold(fold(h, a->mark), (__u32)a->sum * 3);
	bpf_obj_drop(a);
	return h;
}

static __noinline __u32 digest_clean(struct __sk_buff *skb, struct acc *a)
{
	struct task_struct *t = bpf_task_from_pid(KTHREADD);
	struct __sk_buff *s = pass(skb);
	__u32 h = fold_skb(s, a->len);

	if (t)
		h = fold(h, t->pid);
	a->sum += h;
	if (s->mark & 1) {
		if (t)
			bpf_task_release(t);
		bpf_obj_drop(a);
		bpf_throw(h);
	}
	if (t)
		bpf_task_release(t);
	return h;
}

SEC("tc")
int ctx_held_clean(struct __sk_buff *ctx)
{
	struct __sk_buff *volatile saved = ctx;
	struct acc *a = bpf_obj_new(struct acc);
	__u32 h;

	if (!a)
		return TC_ACT_SHOT;
	a->sum = 0; /* bpf_obj_new does not zero: bpf_mem_alloc hands back freed objects */
	a->len = saved->len;
	a->mark = saved->mark;
	h = digest_clean(saved, a);
	h = fold(fold(h, a->mark), (__u32)a->sum * 3);
	bpf_obj_drop(a);
	return h;
}

char LICENSE[] SEC("license") = "GPL";
