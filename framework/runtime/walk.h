/* The frame walk every cleanup runtime shares: the RFC's x86 walk (PATCH 10/14), which
 * follows the rbp chain of JITed frames where Linux uses ORC (arch_bpf_stack_walk), and
 * rebuilds R6-R9 for each frame from the spill areas below it (saved_reg[]).
 *
 * A strategy that reads R6-R9 makes bpf_throw a trampoline: it pushes rbx, r13, r14, r15
 * (BPF R6-R9 of the throwing frame) and calls the strategy's entry with their address. The
 * RFC makes the same saves in a hidden BPF subprog, bpf_throw_tramp (PATCH 07/14), whose
 * JITed prologue pushes every callee-saved register; here they are the runtime's first
 * instructions, counted as the strategy's lookup (the walk is the same for every strategy). */
#ifndef BAKEOFF_WALK_H
#define BAKEOFF_WALK_H

#include "runtime.h"

#define BAKEOFF_TRAMPOLINE(entry)                                                   \
	__asm__(".pushsection .text.lookup,\"ax\"\n"                                   \
		".globl bpf_throw\n"                                                   \
		"bpf_throw:\n"                                                         \
		"\tpush %rbp\n\tmov %rsp, %rbp\n"                                      \
		"\tpush %r15\n\tpush %r14\n\tpush %r13\n\tpush %rbx\n"                 \
		"\tmov %rsp, %rsi\n"                                                   \
		"\tcall " #entry "\n"                                                  \
		"\tud2\n"                                                              \
		".popsection\n")

/* What a strategy does with one BPF frame: ip is the return address into it, bp its rbp
 * (BPF R10), f what the JIT says of its subprog. */
typedef void (*bakeoff_frame_fn)(u64 ip, u64 bp, const struct bakeoff_frame *f);

/* bpf_stack_walker: the frame holding return address ip (it belongs to the function
 * holding ip - 1: a call may be a function's last instruction). Both lookups are inlined
 * into their caller, so they count in the caller's section (walk, or a happy-path record). */
static inline __attribute__((always_inline)) const struct bakeoff_frame *bakeoff_frame_of(u64 ip)
{
	for (u64 i = 0; i < bakeoff_rt.n_frame; i++)
		if (bakeoff_rt.frame[i].lo < ip && ip <= bakeoff_rt.frame[i].hi)
			return &bakeoff_rt.frame[i];
	return 0;
}

static inline __attribute__((always_inline)) const struct bakeoff_main *bakeoff_main_of(u64 ip)
{
	for (u64 i = 0; i < bakeoff_rt.n_main; i++)
		if (bakeoff_rt.main[i].lo < ip && ip <= bakeoff_rt.main[i].hi)
			return &bakeoff_rt.main[i];
	return 0;
}

#ifdef BAKEOFF_TAIL_CALLS
/* Built so where tail-call targets run beside the caller (framework.machine.tailcalls): each
 * program has its own table, and a throw's walk starts by finding the throwing program's (as
 * bpf_prog_ksym_find finds a frame's bpf_prog, whose aux holds its descriptors). Without
 * targets the runtime is built without this, so its figures carry none of its cost. */

/* The program whose code holds return address ip. */
static inline __attribute__((always_inline)) const struct bakeoff_main *bakeoff_program_of(u64 ip)
{
	for (u64 i = 0; i < bakeoff_rt.n_main; i++)
		if (bakeoff_rt.main[i].code_lo < ip && ip <= bakeoff_rt.main[i].code_hi)
			return &bakeoff_rt.main[i];
	return 0;
}

/* The strategy table of the program whose code holds return address ip. */
static inline __attribute__((always_inline)) u64 bakeoff_table_of(u64 ip)
{
	const struct bakeoff_main *m = bakeoff_program_of(ip);

	return m ? m->table : bakeoff_rt.table;
}

/* A throw reads the throwing program's table (first_ip: its first BPF frame). */
static inline __attribute__((always_inline)) void bakeoff_select_table(u64 first_ip)
{
	const struct bakeoff_main *m = bakeoff_program_of(first_ip);

	bakeoff_rt.table = m ? m->table : 0;
	bakeoff_rt.table_len = m ? m->table_len : 0;
}

/* bakeoff_rt.threw: 1 + the index of the main whose callback takes the throw. */
#define BAKEOFF_THREW(boundary) (1 + (u64)((boundary) - bakeoff_rt.main))
#else
#define bakeoff_table_of(ip) (bakeoff_rt.table)
#define bakeoff_select_table(ip) ((void)(ip))
#define BAKEOFF_THREW(boundary) 1
#endif

/* The walk every strategy shares (DESIGN.md: differences show in lookup and release): from fp
 * (the runtime's own frame) to the exception boundary, each BPF frame found as
 * bpf_stack_walker finds its program (bpf_prog_ksym_find) and handed to fn, the boundary
 * included; then the exception callback on the boundary's frame. fn NULL: stock. */
BAKEOFF_WALK static inline void __attribute__((noreturn)) bakeoff_unwind(u64 cookie, u64 *fp, bakeoff_frame_fn fn)
{
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
			const struct bakeoff_frame *f = bakeoff_frame_of(ip);

			if (!cnt)
				bakeoff_select_table(ip);
			cnt++;
			if (!f)
				__builtin_trap(); /* BPF text the JIT described no frame for */
			if (fn)
				fn(ip, bp, f);
			if (f->subprog == 0) { /* bpf_stack_walker: !bpf_is_subprog(prog), the boundary */
				boundary = bakeoff_main_of(ip);
				break;
			}
		}
		fp = (u64 *)bp;
	}
	if (!boundary)
		__builtin_trap(); /* WARN_ON_ONCE(!ctx.aux || !ctx.bp || !ctx.sp): no boundary */
	bakeoff_rt.threw = BAKEOFF_THREW(boundary);
	bakeoff_rt.cookie = cookie;
	bakeoff_rt.frames = cnt;
	((bakeoff_exception_cb)boundary->cb)(cookie, sp, bp, 0, 0);
	__builtin_trap(); /* "A call to BPF exception callback should never return" */
}

/* A strategy that reads R6-R9: the throwing frame's, as the trampoline saved them, then each
 * caller's rebuilt from the spill area of the frame below it (the RFC's saved_reg[]). */
#define BAKEOFF_REGS ((u64 *)bakeoff_rt.scratch) /* regs[6..9] */

BAKEOFF_LOOKUP static void bakeoff_regs_from(const u64 *saved)
{
	for (int r = 0; r < 4; r++)
		BAKEOFF_REGS[6 + r] = saved[r];
}

/* After frame f (rbp bp) is done: its caller's R6-R9 are what f's prologue saved, else f's. */
BAKEOFF_LOOKUP static void bakeoff_regs_up(u64 bp, const struct bakeoff_frame *f)
{
	for (u8 i = 0; i < f->npush; i++)
		if (f->push[i])
			BAKEOFF_REGS[f->push[i]] = *(u64 *)(bp - f->stack_size - 8 * (i + 1));
}

/* bpf_cleanup_resource's dispatch (RFC PATCH 10/14): the machine's release stub for the kind. */
BAKEOFF_RELEASE static void bakeoff_release(u64 kind, u64 value)
{
	if (kind >= BAKEOFF_MAX_KINDS || !bakeoff_rt.release[kind])
		__builtin_trap(); /* a kind the table cannot name: "failed to simulate cleanup" at load */
	bakeoff_rt.released++;
	((void (*)(u64))bakeoff_rt.release[kind])(value);
}

#endif
