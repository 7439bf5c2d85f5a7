// SPDX-License-Identifier: GPL-2.0
/*
 * Three resource kinds, one per frame, live at one throw (the talk's
 * "obj / sk / ref" picture):
 *   main:       obj = bpf_obj_new(struct counted)          (local kptr)
 *   open_sock:  sk  = bpf_sk_lookup_tcp(...)               (socket)
 *   take_ref:   ref = bpf_refcount_acquire(obj), then bpf_throw when the
 *               packet is too short for its TCP header.
 * On a long enough packet nothing throws and every frame releases what it
 * took. three_frames is rejected today ("Unreleased reference"); the
 * strategies exist to make it acceptable. three_frames_clean releases all
 * three by hand before throwing and is accepted.
 * Compiled plainly, the three live in callee-saved registers (obj in main's
 * r6, sk in open_sock's r8, ref in take_ref's r6). three_frames_stack keeps
 * each in a stack slot of its frame instead (volatile locals), as the talk
 * draws it: *(u64 *)(r10 - 8) = r0 after each acquire.
 */
#include "bakeoff.h"

#define ERR_TRUNCATED 17
#define TCP_END (ETH_HLEN + 20 + 20)

struct counted {
	long len;
	struct bpf_refcount rc;
};

/* Innermost frame: takes a second reference on obj and may throw. */
static __noinline int take_ref(struct __sk_buff *ctx, struct counted *obj)
{
	struct counted *ref = bpf_refcount_acquire(obj);
	int len;

	if (!ref)
		return 0;
	if (ctx->len < TCP_END)
		bpf_throw(ERR_TRUNCATED); /* holds ref here, sk and obj above */
	len = ref->len;
	bpf_obj_drop(ref);
	return len;
}

static __noinline int open_sock(struct __sk_buff *ctx, struct counted *obj)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;
	int ret;

	tuple.ipv4.daddr = __builtin_bswap32(0x0a000002);
	tuple.ipv4.dport = __builtin_bswap16(80);
	sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	ret = take_ref(ctx, obj);
	if (sk)
		bpf_sk_release(sk);
	return ret;
}

SEC("tc")
int three_frames(struct __sk_buff *ctx)
{
	struct counted *obj = bpf_obj_new(struct counted);
	int ret;

	if (!obj)
		return TC_ACT_SHOT;
	obj->len = ctx->len;
	ret = open_sock(ctx, obj);
	bpf_obj_drop(obj);
	return ret > 0 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

/* The same frames, but the innermost one releases everything before it throws. */
static __noinline int take_ref_clean(struct __sk_buff *ctx, struct counted *obj,
				     struct bpf_sock *sk)
{
	struct counted *ref = bpf_refcount_acquire(obj);
	int len;

	if (!ref)
		return 0;
	if (ctx->len < TCP_END) {
		bpf_obj_drop(ref);
		if (sk)
			bpf_sk_release(sk);
		bpf_obj_drop(obj);
		bpf_throw(ERR_TRUNCATED);
	}
	len = ref->len;
	bpf_obj_drop(ref);
	return len;
}

static __noinline int open_sock_clean(struct __sk_buff *ctx, struct counted *obj)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;
	int ret;

	tuple.ipv4.daddr = __builtin_bswap32(0x0a000002);
	tuple.ipv4.dport = __builtin_bswap16(80);
	sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	ret = take_ref_clean(ctx, obj, sk);
	if (sk)
		bpf_sk_release(sk);
	return ret;
}

SEC("tc")
int three_frames_clean(struct __sk_buff *ctx)
{
	struct counted *obj = bpf_obj_new(struct counted);
	int ret;

	if (!obj)
		return TC_ACT_SHOT;
	obj->len = ctx->len;
	ret = open_sock_clean(ctx, obj);
	bpf_obj_drop(obj);
	return ret > 0 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

/* three_frames with every resource in a stack slot of its own frame. */
static __noinline int take_ref_stack(struct __sk_buff *ctx, struct counted *obj)
{
	struct counted *volatile ref = bpf_refcount_acquire(obj);
	struct counted *r;
	int len;

	if (ctx->len < TCP_END)
		bpf_throw(ERR_TRUNCATED); /* ref (maybe NULL) in this frame's slot */
	r = ref;
	if (!r)
		return 0;
	len = r->len;
	bpf_obj_drop(r);
	return len;
}

static __noinline int open_sock_stack(struct __sk_buff *ctx, struct counted *obj)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *volatile sk;
	struct bpf_sock *s;
	int ret;

	tuple.ipv4.daddr = __builtin_bswap32(0x0a000002);
	tuple.ipv4.dport = __builtin_bswap16(80);
	sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	ret = take_ref_stack(ctx, obj);
	s = sk;
	if (s)
		bpf_sk_release(s);
	return ret;
}

SEC("tc")
int three_frames_stack(struct __sk_buff *ctx)
{
	struct counted *volatile obj = bpf_obj_new(struct counted);
	struct counted *o = obj;
	int ret;

	if (!o)
		return TC_ACT_SHOT;
	o->len = ctx->len;
	ret = open_sock_stack(ctx, o);
	bpf_obj_drop(obj);
	return ret > 0 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
