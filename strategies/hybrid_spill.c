/* hybrid-spill's runtime: frame-descriptors' (frame_descriptors.c), and per frame the spill
 * slots its subprog reserves (Kumar Kartikeya Dwivedi's reply, March 18, 2024: "a new 8-byte
 * entry would be reserved for the pc after max_stack_depth ... zeroed upon entry").
 *
 * The runtime table: frame-descriptors' runtime table, then u32 count and per slot
 * { u16 subprog; s16 fp offset; u8 kind; u8 pad[3] }. A slot holding 0 holds nothing
 * (never acquired on this path, a NULL acquire, or released: the release clears it). */
#define FD_NO_ENTRY
#include "frame_descriptors.c"

struct hs_slot {
	u16 subprog;
	s16 off;
	u8 kind;
	u8 pad[3];
};

BAKEOFF_RELEASE static void hs_release(u64 kind, u64 *slot)
{
	bakeoff_release(kind, *slot);
	*slot = 0;
}

BAKEOFF_LOOKUP static void hs_frame(u64 ip, u64 bp, const struct bakeoff_frame *f)
{
	const struct fd_table *t = (const struct fd_table *)bakeoff_rt.table;
	const u8 *end = (const u8 *)&t->desc[t->count] + sizeof(struct fd_entry) * t->entries;
	const struct hs_slot *s = (const struct hs_slot *)(end + 4);
	u32 n = *(const u32 *)end;

	fd_frame(ip, bp, f);
	for (u32 i = 0; i < n; i++)
		if (s[i].subprog == f->subprog && *(u64 *)(bp + s[i].off))
			hs_release(s[i].kind, (u64 *)(bp + s[i].off));
}

BAKEOFF_WALK __attribute__((noinline, used)) void hs_throw(u64 cookie, const u64 *saved)
{
	bakeoff_regs_from(saved);
	bakeoff_unwind(cookie, __builtin_frame_address(0), hs_frame);
}

BAKEOFF_TRAMPOLINE(hs_throw);
