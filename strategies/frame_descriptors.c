/* frame-descriptors' throw-time runtime: the RFC's x86 cleanup (PATCH 10/14).
 *
 * For each BPF frame the shared walk (walk.h) finds, look its return address up in the
 * descriptor table (the pcs the JIT converted to code addresses, PATCH 09/14) and release
 * each entry by kind: a stack entry through bp + off, a register entry from the rebuilt
 * R6-R9 (saved_reg[]). A NULL pointer is skipped (bpf_cleanup_resource does nothing for it).
 *
 * The runtime table (strategies/frame_descriptors.py, FrameDescriptors.runtime_table):
 *   u32 count; u32 entries;
 *   count x { u64 return address; u32 first entry; u16 entry count; u16 subprog }, by address;
 *   entries x { u8 location; u8 kind; s16 fp offset or register; u32 btf id }.
 * Location 0: the value a stack slot holds; 1: the value a register holds; 2: the slot's
 * address (iterators and dynptrs live in the slot). Kind numbers are framework.kernel.kinds'. */
#include "walk.h"

struct fd_desc {
	u64 ret;
	u32 first;
	u16 count;
	u16 subprog;
};

struct fd_entry {
	u8 loc;
	u8 kind;
	s16 where;
	u32 btf_id;
};

struct fd_table {
	u32 count;
	u32 entries;
	struct fd_desc desc[];
};

#define LOC_STACK 0
#define LOC_REG 1
#define LOC_SLOT 2

/* arch_bpf_cleanup_frame_resource's lookup: the descriptor for return address ip (binary search). */
BAKEOFF_LOOKUP static const struct fd_desc *fd_lookup(u64 ip)
{
	const struct fd_table *t = (const struct fd_table *)bakeoff_rt.table;
	u32 lo = 0, hi = t->count;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (t->desc[mid].ret == ip)
			return &t->desc[mid];
		if (t->desc[mid].ret < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

BAKEOFF_RELEASE static void fd_release(const struct fd_entry *e, u64 bp)
{
	u64 value;

	if (e->loc == LOC_REG)
		value = BAKEOFF_REGS[e->where];
	else if (e->loc == LOC_SLOT)
		value = bp + e->where;
	else
		value = *(u64 *)(bp + e->where);
	if (value)
		bakeoff_release(e->kind, value);
}

BAKEOFF_LOOKUP static void fd_frame(u64 ip, u64 bp, const struct bakeoff_frame *f)
{
	const struct fd_table *t = (const struct fd_table *)bakeoff_rt.table;
	const struct fd_entry *entries = (const struct fd_entry *)&t->desc[t->count];
	const struct fd_desc *d = fd_lookup(ip);

	if (!d)
		bakeoff_rt.misses++;
	for (u32 i = 0; d && i < d->count; i++)
		fd_release(&entries[d->first + i], bp);
	bakeoff_regs_up(bp, f);
}

#ifndef FD_NO_ENTRY /* hybrid_spill.c includes this file and brings its own entry */
BAKEOFF_WALK __attribute__((noinline, used)) void fd_throw(u64 cookie, const u64 *saved)
{
	bakeoff_regs_from(saved);
	bakeoff_unwind(cookie, __builtin_frame_address(0), fd_frame);
}

BAKEOFF_TRAMPOLINE(fd_throw);
#endif
