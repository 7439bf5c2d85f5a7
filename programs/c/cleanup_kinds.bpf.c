// SPDX-License-Identifier: GPL-2.0
/*
 * One resource kind per program, each live at a throw, so every strategy's
 * release path meets every kind the kernel tracks as a reference (the RFC's
 * exceptions_cleanup.c covered the same ground):
 *  - ringbuf_record: a bpf_ringbuf_reserve record (discard on unwind);
 *  - ringbuf_dynptr: a bpf_ringbuf_reserve_dynptr dynptr in a stack slot
 *    (16 bytes, discard_dynptr on unwind);
 *  - percpu_obj:     a bpf_percpu_obj_new object (percpu_obj_drop);
 *  - cgroup_ref:     bpf_cgroup_from_id(1), the root (cgroup_release);
 *  - nested_iters:   three nested bpf_for loops, thrown from the innermost
 *                    (three iterators destroyed, innermost first).
 * Each throws 43 when the packet is shorter than Ethernet + IPv4 and is
 * rejected today ("Unreleased reference"); each has a _clean twin that
 * releases by hand before it throws.
 */
#include "bakeoff.h"

#define ERR_SHORT 43
#define SHORT(ctx) ((ctx)->len < ETH_HLEN + 20)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct sample {
	__u32 len;
	__u32 ifindex;
};

struct percpu_counter {
	long hits;
};

SEC("tc")
int ringbuf_record(struct __sk_buff *ctx)
{
	struct sample *s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);

	if (!s)
		return TC_ACT_SHOT;
	s->len = ctx->len;
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	s->ifindex = ctx->ifindex;
	bpf_ringbuf_submit(s, 0);
	return TC_ACT_OK;
}

SEC("tc")
int ringbuf_record_clean(struct __sk_buff *ctx)
{
	struct sample *s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);

	if (!s)
		return TC_ACT_SHOT;
	s->len = ctx->len;
	if (SHORT(ctx)) {
		bpf_ringbuf_discard(s, 0);
		bpf_throw(ERR_SHORT);
	}
	s->ifindex = ctx->ifindex;
	bpf_ringbuf_submit(s, 0);
	return TC_ACT_OK;
}

/* A dynptr must be released even when the reservation failed. */
SEC("tc")
int ringbuf_dynptr(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;

	bpf_ringbuf_reserve_dynptr(&events, sizeof(struct sample), 0, &ptr);
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	bpf_ringbuf_submit_dynptr(&ptr, 0);
	return TC_ACT_OK;
}

SEC("tc")
int ringbuf_dynptr_clean(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;

	bpf_ringbuf_reserve_dynptr(&events, sizeof(struct sample), 0, &ptr);
	if (SHORT(ctx)) {
		bpf_ringbuf_discard_dynptr(&ptr, 0);
		bpf_throw(ERR_SHORT);
	}
	bpf_ringbuf_submit_dynptr(&ptr, 0);
	return TC_ACT_OK;
}

SEC("tc")
int percpu_obj(struct __sk_buff *ctx)
{
	struct percpu_counter *c = bpf_percpu_obj_new(struct percpu_counter);

	if (!c)
		return TC_ACT_SHOT;
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	bpf_percpu_obj_drop(c);
	return TC_ACT_OK;
}

SEC("tc")
int percpu_obj_clean(struct __sk_buff *ctx)
{
	struct percpu_counter *c = bpf_percpu_obj_new(struct percpu_counter);

	if (!c)
		return TC_ACT_SHOT;
	if (SHORT(ctx)) {
		bpf_percpu_obj_drop(c);
		bpf_throw(ERR_SHORT);
	}
	bpf_percpu_obj_drop(c);
	return TC_ACT_OK;
}

SEC("tc")
int cgroup_ref(struct __sk_buff *ctx)
{
	struct cgroup *cg = bpf_cgroup_from_id(1);
	int level;

	if (!cg)
		return TC_ACT_SHOT;
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	level = cg->level;
	bpf_cgroup_release(cg);
	return level;
}

SEC("tc")
int cgroup_ref_clean(struct __sk_buff *ctx)
{
	struct cgroup *cg = bpf_cgroup_from_id(1);
	int level;

	if (!cg)
		return TC_ACT_SHOT;
	if (SHORT(ctx)) {
		bpf_cgroup_release(cg);
		bpf_throw(ERR_SHORT);
	}
	level = cg->level;
	bpf_cgroup_release(cg);
	return level;
}

SEC("tc")
int nested_iters(struct __sk_buff *ctx)
{
	int i, j, k, sum = 0;

	bpf_for(i, 0, 2) {
		bpf_for(j, 0, 2) {
			bpf_for(k, 0, 2) {
				if (SHORT(ctx))
					bpf_throw(ERR_SHORT); /* three live iterators */
				sum += i + j + k;
			}
		}
	}
	return sum;
}

SEC("tc")
int nested_iters_clean(struct __sk_buff *ctx)
{
	int i, j, k, sum = 0;

	/* The only way out of all three loops by hand is to leave them. */
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	bpf_for(i, 0, 2) {
		bpf_for(j, 0, 2) {
			bpf_for(k, 0, 2) {
				sum += i + j + k;
			}
		}
	}
	return sum;
}

char LICENSE[] SEC("license") = "GPL";
