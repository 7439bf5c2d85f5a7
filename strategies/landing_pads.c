/* landing-pads' runtime: the 2026 landing-pad series (eddyz87/bpf kernel/bpf/exception.c).
 *
 * bpf_throw (the trampoline: the throwing frame's R6-R9 are the pad's) starts unwinding at
 * the throwing frame. For each BPF frame, innermost first: the range holding its return
 * address gives its pad; the runtime enters the pad in that frame (rsp and rbp as at the
 * call, R6-R9 rebuilt), and the pad, verified BPF, releases and calls bpf_unwind_resume,
 * which goes on with the caller. A frame without a pad is passed. Past the boundary the
 * exception callback runs, as stock's walk has it.
 *
 * The table (LandingPads.runtime_table): u64 count, then per covered call, by address,
 * { u64 lo; u64 hi; u64 pad }: a return address ip with lo < ip <= hi lands on pad. */
#include "walk.h"

struct lp_range {
	u64 lo, hi, pad;
};

struct lp_table {
	u64 count;
	struct lp_range r[];
};

/* Where unwinding is, across pads: bakeoff_rt.scratch. */
struct lp_state {
	u64 sp, bp, r6, r7, r8, r9, pad; /* what lp_enter loads: keep this order */
	u64 ip, cookie, frames;
};

#define LP ((struct lp_state *)bakeoff_rt.scratch)

BAKEOFF_LOOKUP static u64 lp_lookup(u64 ip)
{
	const struct lp_table *t = (const struct lp_table *)bakeoff_rt.table;
	u64 lo = 0, hi = t->count;

	while (lo < hi) {
		u64 mid = lo + (hi - lo) / 2;

		if (ip <= t->r[mid].lo)
			hi = mid;
		else if (ip > t->r[mid].hi)
			lo = mid + 1;
		else
			return t->r[mid].pad;
	}
	return 0;
}

/* Into the pad, in its frame: rsp, rbp and R6-R9 (rbx, r13, r14, r15) as at the call. */
BAKEOFF_RELEASE static void __attribute__((noreturn)) lp_enter(void)
{
	__asm__ volatile("mov 0(%%rax), %%rsp\n\t"
			 "mov 8(%%rax), %%rbp\n\t"
			 "mov 16(%%rax), %%rbx\n\t"
			 "mov 24(%%rax), %%r13\n\t"
			 "mov 32(%%rax), %%r14\n\t"
			 "mov 40(%%rax), %%r15\n\t"
			 "jmp *48(%%rax)\n\t" ::"a"(LP)
			 : "memory");
	__builtin_unreachable();
}

/* After the frame LP names: its caller's R6-R9 are what its prologue saved, else unchanged. */
BAKEOFF_LOOKUP static void lp_regs_up(const struct bakeoff_frame *f)
{
	for (u8 i = 0; i < f->npush; i++)
		if (f->push[i] >= 6)
			(&LP->r6)[f->push[i] - 6] = *(u64 *)(LP->bp - f->stack_size - 8 * (i + 1));
}

/* From the frame LP names, on up: the first pad found is entered (not the frame's own pad
 * when a pad of it resumes); past the boundary, the exception callback. */
BAKEOFF_WALK static void __attribute__((noreturn)) lp_continue(u64 resumed)
{
	for (;;) {
		const struct bakeoff_frame *f = bakeoff_frame_of(LP->ip);
		const struct bakeoff_main *boundary;
		u64 *saved = (u64 *)LP->bp;

		if (!f)
			__builtin_trap(); /* BPF text the JIT described no frame for */
		if (!resumed) {
			LP->frames++;
			LP->pad = lp_lookup(LP->ip);
			if (LP->pad)
				lp_enter();
		}
		resumed = 0;
		boundary = bakeoff_main_of(LP->ip);
		if (boundary) {
			bakeoff_rt.threw = BAKEOFF_THREW(boundary);
			bakeoff_rt.cookie = LP->cookie;
			bakeoff_rt.frames = LP->frames;
			((bakeoff_exception_cb)boundary->cb)(LP->cookie, LP->sp, LP->bp, 0, 0);
			__builtin_trap(); /* "A call to BPF exception callback should never return" */
		}
		lp_regs_up(f);
		LP->ip = saved[1];
		LP->sp = (u64)(saved + 2);
		LP->bp = saved[0];
	}
}

/* A pad's last call: its frame is done; on with the caller (or, from the boundary, the callback). */
BAKEOFF_WALK __attribute__((noinline, used, noreturn)) void bpf_unwind_resume(void)
{
	lp_continue(1);
}

BAKEOFF_LOOKUP static void lp_regs_from(const u64 *saved)
{
	LP->r6 = saved[0];
	LP->r7 = saved[1];
	LP->r8 = saved[2];
	LP->r9 = saved[3];
}

/* From the trampoline: find the throwing frame (the first BPF return address on the rbp chain). */
BAKEOFF_WALK __attribute__((noinline, used)) void lp_throw(u64 cookie, const u64 *saved)
{
	u64 *fp = __builtin_frame_address(0);

	while (fp[1] <= bakeoff_rt.text_lo || fp[1] > bakeoff_rt.text_hi)
		fp = (u64 *)fp[0];
	bakeoff_select_table(fp[1]);
	LP->cookie = cookie;
	LP->frames = 0;
	lp_regs_from(saved);
	LP->ip = fp[1];
	LP->sp = (u64)(fp + 2);
	LP->bp = fp[0];
	lp_continue(0);
}

BAKEOFF_TRAMPOLINE(lp_throw);
