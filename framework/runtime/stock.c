/* The stock bpf_throw (kernel/bpf/helpers.c bpf_throw, Linux 6.18): walk to the
 * exception boundary, call the exception callback on the boundary's frame.
 * The walk follows the rbp chain of JITed frames (the RFC's x86 walk) where
 * the kernel uses ORC (arch_bpf_stack_walk); both yield each frame's return
 * address with the sp and bp at that address. Nothing is released. */
#include "runtime.h"

/* bpf_stack_walker: the program holding ip, when it is a main program (func_idx 0).
 * ip is a return address: it belongs to the function holding ip - 1 (a call may
 * be a function's last instruction, as a noreturn bpf_throw often is). */
BAKEOFF_WALK static const struct bakeoff_main *main_of(u64 ip)
{
	for (u64 i = 0; i < bakeoff_rt.n_main; i++)
		if (bakeoff_rt.main[i].lo < ip && ip <= bakeoff_rt.main[i].hi)
			return &bakeoff_rt.main[i];
	return 0;
}

/* bpf_throw: find the boundary as arch_bpf_stack_walk(bpf_stack_walker) does, then
 * aux->bpf_exception_cb(cookie, sp, bp, 0, 0); it never returns. */
BAKEOFF_WALK __attribute__((noinline, used)) void bpf_throw(u64 cookie)
{
	u64 *fp = __builtin_frame_address(0);
	const struct bakeoff_main *boundary = 0;
	u64 sp = 0, bp = 0, cnt = 0;

	while (fp) {
		u64 ip = fp[1];

		sp = (u64)(fp + 2);
		bp = fp[0];
		if (ip <= bakeoff_rt.text_lo || ip > bakeoff_rt.text_hi) {
			if (cnt) /* bpf_stack_walker: stop at the first non-BPF frame after BPF ones */
				break;
		} else {
			cnt++;
			boundary = main_of(ip);
			if (boundary)
				break;
		}
		fp = (u64 *)bp;
	}
	if (!boundary)
		__builtin_trap(); /* WARN_ON_ONCE(!ctx.aux || !ctx.bp || !ctx.sp): no boundary */
	bakeoff_rt.threw = 1;
	bakeoff_rt.cookie = cookie;
	bakeoff_rt.frames = cnt;
	((bakeoff_exception_cb)boundary->cb)(cookie, sp, bp, 0, 0);
	__builtin_trap(); /* "A call to BPF exception callback should never return" */
}
