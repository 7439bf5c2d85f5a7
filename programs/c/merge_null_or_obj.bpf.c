// SPDX-License-Identifier: GPL-2.0
/*
 * One stack slot (a volatile local, so the compiler keeps it in memory)
 * holds NULL on one path and a local object on the other when the program
 * throws. Frame descriptors must merge the two states of that slot into one
 * entry ("NULL merges with a pointer"); the unwinder then skips a NULL slot.
 *  - null_or_obj: throws with the slot live: rejected today when it holds
 *    the object ("Unreleased reference").
 *  - null_or_obj_clean: drops the object before it throws: accepted.
 * The packet's 15th byte picks the path (odd: allocate), its length whether
 * it throws (shorter than Ethernet + IPv4).
 */
#include "bakeoff.h"

#define ERR_SHORT 29

struct blob {
	long a;
	long b;
};

static __always_inline int want_object(struct __sk_buff *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *b = data + ETH_HLEN;

	if ((void *)(b + 1) > data_end)
		return 0;
	return *b & 1;
}

SEC("tc")
int null_or_obj(struct __sk_buff *ctx)
{
	struct blob *volatile slot = NULL;
	struct blob *p;

	if (want_object(ctx)) {
		p = bpf_obj_new(struct blob);
		if (!p)
			return TC_ACT_SHOT;
		slot = p;
	}
	if (ctx->len < ETH_HLEN + 20)
		bpf_throw(ERR_SHORT); /* slot: NULL or the object */
	p = slot;
	if (p) {
		p->a = ctx->len;
		bpf_obj_drop(p);
		return TC_ACT_OK;
	}
	return TC_ACT_UNSPEC;
}

SEC("tc")
int null_or_obj_clean(struct __sk_buff *ctx)
{
	struct blob *volatile slot = NULL;
	struct blob *p;

	if (want_object(ctx)) {
		p = bpf_obj_new(struct blob);
		if (!p)
			return TC_ACT_SHOT;
		slot = p;
	}
	if (ctx->len < ETH_HLEN + 20) {
		p = slot;
		if (p)
			bpf_obj_drop(p);
		bpf_throw(ERR_SHORT);
	}
	p = slot;
	if (p) {
		p->a = ctx->len;
		bpf_obj_drop(p);
		return TC_ACT_OK;
	}
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
