// SPDX-License-Identifier: GPL-2.0
/*
 * Throws inside sections the verifier tracks as locks rather than
 * references. No strategy in the bake-off releases these (the RFC left spin
 * locks and RCU as verification errors); landing pads could, as the 2026
 * series does for RCU and preemption. All rejected today, each with its own
 * message; the throw sits in a static subprog for rcu_in_subprog, which only
 * the March 2026 lock-check fix (in 6.18.44) catches.
 *  - rcu_section:    bpf_rcu_read_lock(); throw;
 *  - rcu_in_subprog: bpf_rcu_read_lock(); call a static subprog that throws;
 *  - preempt_section: bpf_preempt_disable(); throw;
 *  - spin_locked:    bpf_spin_lock(&v->lock); throw (a call under a lock);
 *  - throw_in_callback: bpf_loop's callback throws (callbacks may not).
 * Each has a _clean twin that leaves the section (or the callback) before
 * throwing, which the kernel accepts.
 */
#include "bakeoff.h"

#define ERR_SHORT 47
#define SHORT(ctx) ((ctx)->len < ETH_HLEN + 20)

struct locked {
	struct bpf_spin_lock lock;
	long count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked);
} guarded SEC(".maps");

SEC("tc")
int rcu_section(struct __sk_buff *ctx)
{
	bpf_rcu_read_lock();
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	bpf_rcu_read_unlock();
	return TC_ACT_OK;
}

static __noinline int must_be_long(struct __sk_buff *ctx)
{
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	return 0;
}

SEC("tc")
int rcu_in_subprog(struct __sk_buff *ctx)
{
	int ret;

	bpf_rcu_read_lock();
	ret = must_be_long(ctx);
	bpf_rcu_read_unlock();
	return ret;
}

SEC("tc")
int preempt_section(struct __sk_buff *ctx)
{
	bpf_preempt_disable();
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	bpf_preempt_enable();
	return TC_ACT_OK;
}

SEC("tc")
int spin_locked(struct __sk_buff *ctx)
{
	__u32 key = 0;
	struct locked *v = bpf_map_lookup_elem(&guarded, &key);

	if (!v)
		return TC_ACT_SHOT;
	bpf_spin_lock(&v->lock);
	v->count++;
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	bpf_spin_unlock(&v->lock);
	return TC_ACT_OK;
}

static long count_one(__u64 index, void *data)
{
	__u32 *len = data;

	if (*len < ETH_HLEN + 20)
		bpf_throw(ERR_SHORT);
	return 0;
}

SEC("tc")
int throw_in_callback(struct __sk_buff *ctx)
{
	__u32 len = ctx->len;

	bpf_loop(4, count_one, &len, 0);
	return TC_ACT_OK;
}

SEC("tc")
int rcu_section_clean(struct __sk_buff *ctx)
{
	bpf_rcu_read_lock();
	if (SHORT(ctx)) {
		bpf_rcu_read_unlock();
		bpf_throw(ERR_SHORT);
	}
	bpf_rcu_read_unlock();
	return TC_ACT_OK;
}

/* Unlocks the caller's section on the throwing path only: that path never returns. */
static __noinline int must_be_long_clean(struct __sk_buff *ctx)
{
	if (SHORT(ctx)) {
		bpf_rcu_read_unlock();
		bpf_throw(ERR_SHORT);
	}
	return 0;
}

SEC("tc")
int rcu_in_subprog_clean(struct __sk_buff *ctx)
{
	int ret;

	bpf_rcu_read_lock();
	ret = must_be_long_clean(ctx);
	bpf_rcu_read_unlock();
	return ret;
}

SEC("tc")
int preempt_section_clean(struct __sk_buff *ctx)
{
	bpf_preempt_disable();
	if (SHORT(ctx)) {
		bpf_preempt_enable();
		bpf_throw(ERR_SHORT);
	}
	bpf_preempt_enable();
	return TC_ACT_OK;
}

SEC("tc")
int spin_locked_clean(struct __sk_buff *ctx)
{
	__u32 key = 0;
	struct locked *v = bpf_map_lookup_elem(&guarded, &key);
	int is_short;

	if (!v)
		return TC_ACT_SHOT;
	bpf_spin_lock(&v->lock);
	v->count++;
	is_short = SHORT(ctx);
	bpf_spin_unlock(&v->lock);
	if (is_short)
		bpf_throw(ERR_SHORT);
	return TC_ACT_OK;
}

/* The callback stops the loop and says why; the caller throws. */
static long count_one_clean(__u64 index, void *data)
{
	__u32 *len = data;

	if (*len < ETH_HLEN + 20) {
		*len = 0;
		return 1;
	}
	return 0;
}

SEC("tc")
int throw_in_callback_clean(struct __sk_buff *ctx)
{
	__u32 len = ctx->len;

	bpf_loop(4, count_one_clean, &len, 0);
	if (len == 0)
		bpf_throw(ERR_SHORT);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
