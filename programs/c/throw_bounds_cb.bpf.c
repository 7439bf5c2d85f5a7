// SPDX-License-Identifier: GPL-2.0
/*
 * The talk's first example: a bounds check that throws instead of returning,
 * with an exception callback that maps the cookie to the program's verdict.
 * Nothing is held at the throw, so today's kernel accepts it. The callback
 * is named in a BTF decl tag, which the distribution's libbpf 1.1 cannot load.
 */
#include "bakeoff.h"

#define ERR_TRUNCATED 17 /* a drop reason, not a tc verdict */

/* Runs after the unwind; its return value is the program's. */
__noinline int bounds_error(u64 cookie)
{
	if (cookie == ERR_TRUNCATED)
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}

SEC("tc")
__exception_cb(bounds_error)
int bounds_check(struct __sk_buff *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	/* The talk checks data + 4; an IPv4 header is what a real parser needs. */
	if (data + ETH_HLEN + 20 > data_end)
		bpf_throw(ERR_TRUNCATED);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
