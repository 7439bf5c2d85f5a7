// SPDX-License-Identifier: GPL-2.0
/*
 * The scenarios of the "Exceptions - Resource Cleanup" RFC's own tests
 * (exceptions_cleanup.c, Feb 2024), rewritten for this corpus; the shapes the
 * corpus already had (nested iterators, ringbuf records and dynptrs, per-CPU
 * objects, NULL-or-object and two-kind slots, an object in r6) live in
 * cleanup_kinds, merge_* and regs_callee_saved. Each throws 61 when the
 * packet is shorter than Ethernet + IPv4, and each has a _clean twin that
 * releases by hand before it throws and so computes what the program should:
 *  - num_iter:    a live bpf_for iterator at a throw from inside the loop;
 *  - dynptr_iter: a ringbuf dynptr in main, and a static callee throwing from
 *                 inside its own bpf_for loop (two frames, two kinds);
 *  - four_regs:   four objects live across a call that throws, which the
 *                 compiler keeps in r6-r9 (the RFC's callee_saved test);
 *  - four_frames: an object in main, a dynptr in a static subprog, a ringbuf
 *                 record in a global subprog, another in the global subprog
 *                 that throws: four resources across four frames;
 *  - padded:      an object live at a throw behind instructions the verifier
 *                 proves dead, which the kernel removes after verification,
 *                 so every later pc moves (the RFC's dead_code_elim);
 *  - misc_or_ptr: one stack slot holding a ringbuf record on one path and a
 *                 ktime scalar on the other at one throw (the RFC's
 *                 reject_slot_with_misc_vs_ptr: descriptors refuse it);
 *  - invalid_or_ptr: one stack slot holding a ringbuf record on one path and
 *                 never written on the other at one throw (the RFC's
 *                 reject_slot_with_invalid_vs_ptr, in C: descriptors refuse it);
 *  - fifty_objs:  fifty objects, NULL-checked only when dropped, kept in an
 *                 on-stack array, a throw after the last (the RFC's
 *                 loop_iterations, its loop unrolled: one slot per object).
 */
#include "bakeoff.h"

#define ERR_SHORT 61
#define SHORT(ctx) ((ctx)->len < ETH_HLEN + 20)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rfc_events SEC(".maps");

struct item {
	long v;
};

/* ---- num_iter --------------------------------------------------------- */

SEC("tc")
int num_iter(struct __sk_buff *ctx)
{
	int i, sum = 0;

	bpf_for(i, 0, 10) {
		if (i == 5 && SHORT(ctx))
			bpf_throw(ERR_SHORT); /* the iterator is live */
		sum += i;
	}
	return sum;
}

SEC("tc")
int num_iter_clean(struct __sk_buff *ctx)
{
	int i, sum = 0, thrown = 0;

	bpf_for(i, 0, 10) {
		if (i == 5 && SHORT(ctx)) {
			thrown = 1;
			break; /* destroys the iterator */
		}
		sum += i;
	}
	if (thrown)
		bpf_throw(ERR_SHORT);
	return sum;
}

/* ---- dynptr_iter ------------------------------------------------------ */

static __noinline int scan(struct __sk_buff *ctx)
{
	int i, n = 0;

	bpf_for(i, 0, 4) {
		if (i == 2 && SHORT(ctx))
			bpf_throw(ERR_SHORT); /* the callee's iterator is live */
		n++;
	}
	return n;
}

SEC("tc")
int dynptr_iter(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;
	int n;

	bpf_ringbuf_reserve_dynptr(&rfc_events, sizeof(struct item), 0, &ptr);
	n = scan(ctx); /* main's dynptr is live when scan throws */
	bpf_ringbuf_discard_dynptr(&ptr, 0);
	return n;
}

static __noinline int scan_clean(struct __sk_buff *ctx)
{
	int i, n = 0, thrown = 0;

	bpf_for(i, 0, 4) {
		if (i == 2 && SHORT(ctx)) {
			thrown = 1;
			break;
		}
		n++;
	}
	if (thrown)
		bpf_throw(ERR_SHORT);
	return n;
}

SEC("tc")
int dynptr_iter_clean(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;

	bpf_ringbuf_reserve_dynptr(&rfc_events, sizeof(struct item), 0, &ptr);
	bpf_ringbuf_discard_dynptr(&ptr, 0);
	return scan_clean(ctx);
}

/* ---- four_regs -------------------------------------------------------- */

static __noinline int check_len(struct __sk_buff *ctx)
{
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	return 1;
}

SEC("tc")
int four_regs(struct __sk_buff *ctx)
{
	struct item *a, *b, *c, *d;
	int r = 0;

	a = bpf_obj_new(struct item);
	b = bpf_obj_new(struct item);
	c = bpf_obj_new(struct item);
	d = bpf_obj_new(struct item);
	if (a && b && c && d)
		r = check_len(ctx); /* a, b, c, d live in r6-r9 across the call */
	if (a)
		bpf_obj_drop(a);
	if (b)
		bpf_obj_drop(b);
	if (c)
		bpf_obj_drop(c);
	if (d)
		bpf_obj_drop(d);
	return r;
}

SEC("tc")
int four_regs_clean(struct __sk_buff *ctx)
{
	struct item *a, *b, *c, *d;
	int ok;

	a = bpf_obj_new(struct item);
	b = bpf_obj_new(struct item);
	c = bpf_obj_new(struct item);
	d = bpf_obj_new(struct item);
	ok = a && b && c && d;
	if (a)
		bpf_obj_drop(a);
	if (b)
		bpf_obj_drop(b);
	if (c)
		bpf_obj_drop(c);
	if (d)
		bpf_obj_drop(d);
	return ok ? check_len(ctx) : 0;
}

/* ---- four_frames ------------------------------------------------------ */

__noinline int deepest(struct __sk_buff *ctx)
{
	struct item *s = bpf_ringbuf_reserve(&rfc_events, sizeof(*s), 0);

	if (!s)
		return 0;
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT); /* four resources, four frames */
	bpf_ringbuf_discard(s, 0);
	return 1;
}

__noinline int middle(struct __sk_buff *ctx)
{
	struct item *s = bpf_ringbuf_reserve(&rfc_events, sizeof(*s), 0);
	int r;

	if (!s)
		return 0;
	r = deepest(ctx) + 1;
	bpf_ringbuf_discard(s, 0);
	return r;
}

static __noinline int upper(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;
	int r;

	bpf_ringbuf_reserve_dynptr(&rfc_events, sizeof(struct item), 0, &ptr);
	r = middle(ctx) + 1;
	bpf_ringbuf_discard_dynptr(&ptr, 0);
	return r;
}

SEC("tc")
int four_frames(struct __sk_buff *ctx)
{
	struct item *o = bpf_obj_new(struct item);
	int r;

	if (!o)
		return 0;
	r = upper(ctx) + 1;
	bpf_obj_drop(o);
	return r;
}

__noinline int deepest_clean(struct __sk_buff *ctx)
{
	struct item *s = bpf_ringbuf_reserve(&rfc_events, sizeof(*s), 0);

	if (!s)
		return 0;
	bpf_ringbuf_discard(s, 0);
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	return 1;
}

__noinline int middle_clean(struct __sk_buff *ctx)
{
	struct item *s = bpf_ringbuf_reserve(&rfc_events, sizeof(*s), 0);

	if (!s)
		return 0;
	bpf_ringbuf_discard(s, 0);
	return deepest_clean(ctx) + 1;
}

static __noinline int upper_clean(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;

	bpf_ringbuf_reserve_dynptr(&rfc_events, sizeof(struct item), 0, &ptr);
	bpf_ringbuf_discard_dynptr(&ptr, 0);
	return middle_clean(ctx) + 1;
}

SEC("tc")
int four_frames_clean(struct __sk_buff *ctx)
{
	struct item *o = bpf_obj_new(struct item);

	if (!o)
		return 0;
	bpf_obj_drop(o);
	return upper_clean(ctx) + 1;
}

/* ---- padded ----------------------------------------------------------- */

/*
 * Two instructions the CFG reaches (check_cfg refuses unreachable ones) but the
 * verifier never visits, since r0 is known to be 0: opt_remove_dead_code drops them.
 */
#define DEAD_PADDING() asm volatile("r0 = 0; if r0 == 0 goto +2; r0 = r0; r0 = r0" ::: "r0")

SEC("tc")
int padded(struct __sk_buff *ctx)
{
	struct item *o = bpf_obj_new(struct item);

	if (!o)
		return 0;
	DEAD_PADDING();
	o->v = ctx->len;
	DEAD_PADDING();
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT); /* the object is live; its pc moved by four */
	bpf_obj_drop(o);
	return 1;
}

SEC("tc")
int padded_clean(struct __sk_buff *ctx)
{
	struct item *o = bpf_obj_new(struct item);

	if (!o)
		return 0;
	DEAD_PADDING();
	o->v = ctx->len;
	DEAD_PADDING();
	bpf_obj_drop(o);
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	return 1;
}

/* ---- misc_or_ptr ------------------------------------------------------ */

SEC("tc")
int misc_or_ptr(struct __sk_buff *ctx)
{
	volatile union {
		struct item *rec;
		__u64 stamp;
	} u;
	int has_rec = ctx->len & 1;

	if (has_rec) {
		struct item *s = bpf_ringbuf_reserve(&rfc_events, sizeof(*s), 0);

		if (!s)
			return 0;
		u.rec = s;
	} else {
		u.stamp = bpf_ktime_get_ns();
	}
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT); /* the slot is a record or a scalar */
	if (has_rec)
		bpf_ringbuf_discard(u.rec, 0);
	return 1;
}

SEC("tc")
int misc_or_ptr_clean(struct __sk_buff *ctx)
{
	volatile union {
		struct item *rec;
		__u64 stamp;
	} u;
	int has_rec = ctx->len & 1;

	if (has_rec) {
		struct item *s = bpf_ringbuf_reserve(&rfc_events, sizeof(*s), 0);

		if (!s)
			return 0;
		u.rec = s;
	} else {
		u.stamp = bpf_ktime_get_ns();
	}
	if (has_rec)
		bpf_ringbuf_discard(u.rec, 0);
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	return 1;
}

/* ---- invalid_or_ptr --------------------------------------------------- */

SEC("tc")
int invalid_or_ptr(struct __sk_buff *ctx)
{
	volatile union {
		struct item *rec;
		__u64 raw;
	} u; /* written only when the length is odd */
	int has_rec = ctx->len & 1;

	if (has_rec) {
		struct item *s = bpf_ringbuf_reserve(&rfc_events, sizeof(*s), 0);

		if (!s)
			return 0;
		u.rec = s;
	}
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT); /* the slot: a record, or never written */
	if (has_rec)
		bpf_ringbuf_discard(u.rec, 0);
	return 1;
}

SEC("tc")
int invalid_or_ptr_clean(struct __sk_buff *ctx)
{
	volatile union {
		struct item *rec;
		__u64 raw;
	} u;
	int has_rec = ctx->len & 1;

	if (has_rec) {
		struct item *s = bpf_ringbuf_reserve(&rfc_events, sizeof(*s), 0);

		if (!s)
			return 0;
		u.rec = s;
	}
	if (has_rec)
		bpf_ringbuf_discard(u.rec, 0);
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	return 1;
}

/* ---- fifty_objs ------------------------------------------------------- */

#define N_OBJS 50

SEC("tc")
int fifty_objs(struct __sk_buff *ctx)
{
	struct item *objs[N_OBJS];
	int i, n = 0;

#pragma clang loop unroll(full)
	for (i = 0; i < N_OBJS; i++) {
		objs[i] = bpf_obj_new(struct item);
		if (i == N_OBJS - 1 && SHORT(ctx))
			bpf_throw(ERR_SHORT); /* fifty objects live, each in its own slot */
	}
#pragma clang loop unroll(full)
	for (i = 0; i < N_OBJS; i++)
		if (objs[i]) {
			bpf_obj_drop(objs[i]);
			n++;
		}
	return n;
}

SEC("tc")
int fifty_objs_clean(struct __sk_buff *ctx)
{
	struct item *objs[N_OBJS];
	int i, n = 0;

#pragma clang loop unroll(full)
	for (i = 0; i < N_OBJS; i++)
		objs[i] = bpf_obj_new(struct item);
#pragma clang loop unroll(full)
	for (i = 0; i < N_OBJS; i++)
		if (objs[i]) {
			bpf_obj_drop(objs[i]);
			n++;
		}
	if (SHORT(ctx))
		bpf_throw(ERR_SHORT);
	return n;
}

char LICENSE[] SEC("license") = "GPL";
