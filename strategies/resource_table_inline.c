/* resource-table-inline's runtime: Eduard Zingerman's reply to the RFC (March 14, 2024), in the
 * variant with inline stores into a slot fixed per acquire site.
 *
 * Each acquire site owns an 8-byte slot in its subprog's frame, zeroed on entry, set after the
 * acquire (the value, or the address of an iterator or dynptr) and cleared before its release,
 * all by inserted BPF stores: the program calls nothing here. bpf_throw walks every frame and
 * releases, by the site's kind, each nonzero slot of the frame's subprog.
 *
 * The table (ResourceTableInline.runtime_table, from the plan's metadata): u32 count, then per
 * site { u16 subprog; s16 slot offset from the frame's rbp; u8 kind; 3 pad }. */
#include "walk.h"

struct rti_site {
	u16 subprog;
	s16 off;
	u8 kind;
	u8 pad[3];
};

struct rti_table {
	u32 count;
	struct rti_site site[];
};

BAKEOFF_RELEASE static void rti_release(u64 kind, u64 *slot)
{
	bakeoff_release(kind, *slot);
	*slot = 0;
}

BAKEOFF_LOOKUP static void rti_frame(u64 ip, u64 bp, const struct bakeoff_frame *f)
{
	const struct rti_table *t = (const struct rti_table *)bakeoff_rt.table;

	(void)ip;
	for (u32 i = 0; i < t->count; i++) {
		u64 *slot = (u64 *)(bp + t->site[i].off);

		if (t->site[i].subprog == f->subprog && *slot)
			rti_release(t->site[i].kind, slot);
	}
}

/* No trampoline: slots hold values, so no register needs rebuilding. */
BAKEOFF_WALK __attribute__((noinline, used)) void bpf_throw(u64 cookie)
{
	bakeoff_unwind(cookie, __builtin_frame_address(0), rti_frame);
}
