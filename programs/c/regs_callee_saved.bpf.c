// SPDX-License-Identifier: GPL-2.0
/*
 * A resource kept in a callee-saved register (r6-r9) across a call to a
 * subprog that throws. When verify() throws, the object is in no stack
 * slot: it is in the caller's r6, which the JITed verify() saved in its own
 * frame. Frame descriptors recover it from where the callee saved it (the
 * RFC's throw trampoline); a resource table does not care where it lives.
 *  - in_register: rejected today ("Unreleased reference");
 *  - in_register_clean: verify_clean() consumes the object on every path,
 *    dropping it before it throws: accepted.
 */
#include "bakeoff.h"

#define ERR_SHORT 37

struct token {
	long stamp;
};

static __noinline int verify(struct __sk_buff *ctx)
{
	if (ctx->len < ETH_HLEN + 20)
		bpf_throw(ERR_SHORT);
	return ctx->len;
}

SEC("tc")
int in_register(struct __sk_buff *ctx)
{
	struct token *t = bpf_obj_new(struct token);
	int len;

	if (!t)
		return TC_ACT_SHOT;
	len = verify(ctx); /* t lives in r6 across this call */
	t->stamp = len;
	bpf_obj_drop(t);
	return TC_ACT_OK;
}

static __noinline int verify_clean(struct __sk_buff *ctx, struct token *t)
{
	if (ctx->len < ETH_HLEN + 20) {
		bpf_obj_drop(t);
		bpf_throw(ERR_SHORT);
	}
	t->stamp = ctx->len;
	bpf_obj_drop(t);
	return ctx->len;
}

SEC("tc")
int in_register_clean(struct __sk_buff *ctx)
{
	struct token *t = bpf_obj_new(struct token);

	if (!t)
		return TC_ACT_SHOT;
	verify_clean(ctx, t);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
