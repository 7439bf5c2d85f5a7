// SPDX-License-Identifier: GPL-2.0
/*
 * The stock throw, three ways, none holding anything (all accepted today):
 *  - throw_no_cb:  no exception callback, so the cookie becomes the return value;
 *  - throw_static: the throw happens two static frames below main;
 *  - assert_range: bpf_assert_range's inline compare-and-throw on a value read
 *    from the packet, after which the verifier knows the value's bounds.
 */
#include "bakeoff.h"

#define COOKIE_SHORT 64	  /* tc has no return range, so any cookie is a valid retval */
#define COOKIE_DEEP 65
#define COOKIE_RANGE 66

/* Throw unless the packet holds an Ethernet and an IPv4 header. */
SEC("tc")
int throw_no_cb(struct __sk_buff *ctx)
{
	if (ctx->len < ETH_HLEN + 20)
		bpf_throw(COOKIE_SHORT);
	return TC_ACT_OK;
}

static __noinline int check_len(struct __sk_buff *ctx, __u32 need)
{
	if (ctx->len < need)
		bpf_throw(COOKIE_DEEP);
	return ctx->len - need;
}

static __noinline int check_headers(struct __sk_buff *ctx)
{
	/* A frame of its own between main and the throw. */
	return check_len(ctx, ETH_HLEN + 20) + 1;
}

/* main -> check_headers -> check_len -> bpf_throw. */
SEC("tc")
int throw_static(struct __sk_buff *ctx)
{
	int spare = check_headers(ctx);

	return spare > 0 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

/* Throw unless the IPv4 TTL byte is in [1, 64]; then index a table by it. */
SEC("tc")
int assert_range(struct __sk_buff *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *ttl = data + ETH_HLEN + 8;
	__u64 v;

	if ((void *)(ttl + 1) > data_end)
		return TC_ACT_SHOT;
	v = *ttl;
	bpf_assert_range_with(v, 1, 64, COOKIE_RANGE);
	return (int)v;
}

char LICENSE[] SEC("license") = "GPL";
