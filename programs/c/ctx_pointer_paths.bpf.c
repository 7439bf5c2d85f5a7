// SPDX-License-Identifier: GPL-2.0
/*
 * __sk_buff reads through a context pointer that reaches the load some other
 * way than as r1 itself. The verifier types each load's base register; the
 * kernel's convert_ctx_accesses rewrites exactly the loads and stores it typed
 * as the context into struct sk_buff ones, whatever copy, call, spill or
 * arithmetic led there. Each program folds many fields into one 32-bit value
 * (FNV-1a over the fields, `fold`), so reading any field in place of another
 * changes what it returns:
 *  - via_subprog:      the pointer a static subprog returns (its own argument);
 *  - via_derived:      a static subprog returns ctx + a register the verifier
 *                      knows is zero (a volatile stack zero), as `r1 += r2`;
 *  - via_zero_index:   `(void *)skb + idx` and ctx->cb[idx] with idx a
 *                      verifier-known zero: `r6 = r1; r6 += r7; *(u32 *)(r6 + 0)`;
 *  - via_two_paths:    one load of a pointer chosen on two paths: ctx itself
 *                      or a copy of ctx passed through a subprog;
 *  - mixed_paths:      one load of ctx on one path and a stack buffer on the
 *                      other: Linux refuses it ("same insn cannot be used with
 *                      different pointers"); mixed_paths_clean makes one load
 *                      per pointer kind and is accepted;
 *  - via_spill:        ctx spilled across helper calls and filled into
 *                      another register (a volatile local), and a throw when
 *                      the packet is shorter than its Ethernet header
 *                      (never, in a test run: forced throws only);
 *  - via_caller_stack: ctx stored in a struct on the caller's stack, loaded
 *                      back by a static callee through the struct's pointer;
 *  - ctx_rw:           mark, tstamp, tstamp_type and the test run's socket
 *                      (ctx->sk, never NULL there) read through a returned
 *                      copy; mark, priority and cb written through it and read
 *                      back.
 */
#include "bakeoff.h"

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u
#define ERR_RUNT 23

static __attribute__((always_inline)) __u32 fold(__u32 h, __u32 v)
{
	return (h ^ v) * FNV_PRIME;
}

/* The fields every program folds: most tc can read, including the
 * converted ones (ifindex through skb->dev, gso_size through shinfo). */
#define FOLD_FIELDS(h, s)                                 \
	do {                                              \
		h = fold(h, (s)->len);                    \
		h = fold(h, (s)->pkt_type);               \
		h = fold(h, (s)->mark);                   \
		h = fold(h, (s)->queue_mapping);          \
		h = fold(h, (s)->protocol);               \
		h = fold(h, (s)->vlan_present);           \
		h = fold(h, (s)->vlan_tci);               \
		h = fold(h, (s)->vlan_proto);             \
		h = fold(h, (s)->priority);               \
		h = fold(h, (s)->ingress_ifindex);        \
		h = fold(h, (s)->ifindex);                \
		h = fold(h, (s)->tc_index);               \
		h = fold(h, (s)->cb[0]);                  \
		h = fold(h, (s)->cb[4]);                  \
		h = fold(h, (s)->hash);                   \
		h = fold(h, (s)->tc_classid);             \
		h = fold(h, (long)(s)->data_end - (long)(s)->data); \
		h = fold(h, (s)->wire_len);               \
		h = fold(h, (s)->gso_segs);               \
		h = fold(h, (s)->gso_size);               \
		h = fold(h, (__u32)(s)->hwtstamp);        \
		h = fold(h, (__u32)(s)->tstamp);          \
	} while (0)

/* Returns its argument, opaquely: the caller cannot use its own copy instead. */
static __noinline struct __sk_buff *pass(struct __sk_buff *skb)
{
	barrier_var(skb);
	return skb;
}

SEC("tc")
int via_subprog(struct __sk_buff *ctx)
{
	struct __sk_buff *s = pass(ctx);
	__u32 h = FNV_BASIS;

	FOLD_FIELDS(h, s);
	return h;
}

/* ctx plus a register the verifier knows is zero (and the compiler does not). */
static __noinline struct __sk_buff *derive(struct __sk_buff *skb)
{
	volatile __u64 zero = 0;

	return (struct __sk_buff *)((void *)skb + zero);
}

SEC("tc")
int via_derived(struct __sk_buff *ctx)
{
	struct __sk_buff *s = derive(ctx);
	__u32 h = FNV_BASIS;

	FOLD_FIELDS(h, s);
	return h;
}

SEC("tc")
int via_zero_index(struct __sk_buff *ctx)
{
	volatile __u32 zero = 0;
	__u32 idx = zero;
	__u32 h = FNV_BASIS;

	h = fold(h, *(__u32 *)((void *)ctx + idx));                    /* len */
	h = fold(h, *(__u32 *)((void *)ctx + idx + 8));                /* mark: off 8 on ctx + 0 */
	h = fold(h, ctx->cb[idx]);                                     /* cb[0] */
	idx = zero;
	h = fold(h, *(__u32 *)((void *)ctx + __builtin_offsetof(struct __sk_buff, priority) + idx));
	idx = zero;
	h = fold(h, *(__u16 *)((void *)ctx + __builtin_offsetof(struct __sk_buff, protocol) + idx));
	idx = zero;
	h = fold(h, *(__u32 *)((void *)ctx + __builtin_offsetof(struct __sk_buff, ifindex) + idx));
	idx = zero;
	h = fold(h, *(__u32 *)((void *)ctx + __builtin_offsetof(struct __sk_buff, wire_len) + idx));
	idx = zero;
	h = fold(h, *(__u32 *)((void *)ctx + __builtin_offsetof(struct __sk_buff, gso_size) + idx));
	idx = zero;
	h = fold(h, *(__u8 *)((void *)ctx + __builtin_offsetof(struct __sk_buff, pkt_type) + idx));
	return h;
}

SEC("tc")
int via_two_paths(struct __sk_buff *ctx)
{
	struct __sk_buff *s = ctx;
	__u32 h = FNV_BASIS;

	if (ctx->len & 1)
		s = pass(ctx);
	barrier_var(s);
	FOLD_FIELDS(h, s);
	return h;
}

/* One load, the context on one path and a stack buffer on the other. */
SEC("tc")
int mixed_paths(struct __sk_buff *ctx)
{
	__u32 buf[4] = { 1, 2, 3, 4 };
	void *p = buf;

	if (ctx->len & 1)
		p = ctx;
	barrier_var(p);
	return *(volatile __u32 *)(p + 8);
}

static __noinline __u32 mark_of(struct __sk_buff *skb)
{
	return skb->mark;
}

/* mixed_paths with one load per pointer kind: the context's in a subprog,
 * so the compiler cannot merge the two loads back into one. */
SEC("tc")
int mixed_paths_clean(struct __sk_buff *ctx)
{
	__u32 buf[4] = { 1, 2, 3, 4 };
	__u32 *p = buf;

	barrier_var(p);
	if (ctx->len & 1)
		return mark_of(ctx);
	return p[2];
}

SEC("tc")
int via_spill(struct __sk_buff *ctx)
{
	struct __sk_buff *volatile saved = ctx;
	struct __sk_buff *s;
	__u32 h = FNV_BASIS;

	bpf_ktime_get_ns();
	s = saved;
	if (s->len < ETH_HLEN)
		bpf_throw(ERR_RUNT);
	h = fold(h, s->len);
	h = fold(h, s->mark);
	h = fold(h, s->protocol);
	bpf_get_current_pid_tgid();
	s = saved;
	FOLD_FIELDS(h, s);
	return h;
}

struct holder {
	__u32 salt;
	struct __sk_buff *skb;
};

static __noinline __u32 read_held(struct holder *hd)
{
	struct __sk_buff *s;
	__u32 h;

	barrier_var(hd);
	s = hd->skb;
	h = hd->salt;
	FOLD_FIELDS(h, s);
	return h;
}

SEC("tc")
int via_caller_stack(struct __sk_buff *ctx)
{
	struct holder hd = { .salt = FNV_BASIS, .skb = ctx };

	return read_held(&hd);
}

SEC("tc")
int ctx_rw(struct __sk_buff *ctx)
{
	struct __sk_buff *s = pass(ctx);
	struct bpf_sock *sk;
	__u32 h = FNV_BASIS;

	h = fold(h, s->mark);
	h = fold(h, (__u32)s->tstamp);
	h = fold(h, (__u32)(s->tstamp >> 32));
	h = fold(h, s->tstamp_type);
	sk = s->sk;
	if (!sk)
		return 1;
	h = fold(h, sk->family);
	h = fold(h, sk->src_ip4);
	h = fold(h, sk->dst_ip4);
	h = fold(h, sk->state);
	s->mark = h;
	s->priority = h ^ 0x5a5a5a5a;
	s->cb[1] = s->len * 3;
	s->cb[3] = h >> 7;
	s = pass(s);
	h = fold(h, s->mark);
	h = fold(h, s->priority);
	h = fold(h, s->cb[0]);
	h = fold(h, s->cb[1]);
	h = fold(h, s->cb[2]);
	h = fold(h, s->cb[3]);
	h = fold(h, s->cb[4]);
	return h;
}

char LICENSE[] SEC("license") = "GPL";
