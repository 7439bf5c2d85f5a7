/* resource-table's runtime: Eduard Zingerman's reply to the RFC (March 14, 2024).
 *
 * Each subprog holding resources has a region of 16-byte records {value; kind} at the end
 * of its stack, zeroed on entry by inserted stores. The program calls, as the mail has it,
 *   bakeoff_rt_push(region, value, kind, r0, records) after each acquire: the first free
 *     record takes (value, kind); it returns its 4th argument, so r0 stays the acquire's;
 *   bakeoff_rt_pop(value) before each release (the value is gone after the call): the
 *     record holding value, in the releasing frame or a caller's, is cleared. It keeps
 *     R1-R5 (the release's arguments), as a bpf_fastcall function keeps what it does not use.
 *   bakeoff_rt_pop_node before a list push or rbtree add, whose node argument (R2) points
 *     R0 bytes into the object: records hold an object's start, whatever pointer made it.
 * bpf_throw walks every frame's region and releases each live record by kind.
 *
 * The table (ResourceTable.rewrite's metadata, read as is): u32 count, then per subprog
 * { s16 region offset from the frame's rbp; u16 records }. */
#include "walk.h"

struct rt_sub {
	s16 off;
	u16 records;
};

struct rt_table {
	u32 count;
	struct rt_sub sub[];
};

struct rt_record {
	u64 value;
	u64 kind;
};

/* The region of the frame whose code holds ip and whose rbp is bp (0: it has none). */
static inline __attribute__((always_inline)) struct rt_record *rt_region(u64 ip, u64 bp, u32 *records)
{
	const struct rt_table *t = (const struct rt_table *)bakeoff_table_of(ip); /* happy path too: per program */
	const struct bakeoff_frame *f = bakeoff_frame_of(ip);

	if (!f || f->subprog >= t->count || !t->sub[f->subprog].records)
		return 0;
	*records = t->sub[f->subprog].records;
	return (struct rt_record *)(bp + t->sub[f->subprog].off);
}

BAKEOFF_RECORD __attribute__((used)) u64 bakeoff_rt_push(u64 region, u64 value, u64 kind, u64 r0, u64 records)
{
	struct rt_record *r = (struct rt_record *)region;

	if (!value)
		return r0; /* a NULL acquire holds nothing */
	for (u64 i = 0; i < records; i++) {
		if (!r[i].value) {
			r[i].value = value;
			r[i].kind = kind;
			return r0;
		}
	}
	__builtin_trap(); /* more held at once than the verifier's peak */
}

/* ip: the return address into the releasing frame; its rbp is the caller's rbp at the call. */
BAKEOFF_RECORD __attribute__((used)) void rt_pop(u64 value, u64 ip)
{
	u64 bp = *(u64 *)__builtin_frame_address(0);

	while (bp) {
		u32 records = 0;
		struct rt_record *r = rt_region(ip, bp, &records);

		for (u32 i = 0; r && i < records; i++) {
			if (r[i].value == value) {
				r[i].value = 0;
				return;
			}
		}
		if (bakeoff_main_of(ip))
			return; /* the boundary: nothing recorded it (a caller's record was popped already) */
		ip = ((u64 *)bp)[1];
		bp = ((u64 *)bp)[0];
	}
}

/* The fastcall wrapper: keep R1-R5 (rdi, rsi, rdx, rcx, r8), pass value and the return address. */
__asm__(".pushsection .text.record,\"ax\"\n"
	".globl bakeoff_rt_pop\n"
	"bakeoff_rt_pop:\n"
	"\tpush %rdi\n\tpush %rsi\n\tpush %rdx\n\tpush %rcx\n\tpush %r8\n"
	"\tmov 40(%rsp), %rsi\n"
	"\tcall rt_pop\n"
	"\tpop %r8\n\tpop %rcx\n\tpop %rdx\n\tpop %rsi\n\tpop %rdi\n"
	"\tret\n"
	/* Before a list push or an rbtree add (the object goes to the collection): the node
	 * argument (R2) points R0 bytes into the recorded object (R0 = the node's offset). */
	".globl bakeoff_rt_pop_node\n"
	"bakeoff_rt_pop_node:\n"
	"\tpush %rdi\n\tpush %rsi\n\tpush %rdx\n\tpush %rcx\n\tpush %r8\n"
	"\tmov %rsi, %rdi\n\tsub %rax, %rdi\n"
	"\tmov 40(%rsp), %rsi\n"
	"\tcall rt_pop\n"
	"\tpop %r8\n\tpop %rcx\n\tpop %rdx\n\tpop %rsi\n\tpop %rdi\n"
	"\tret\n"
	".popsection\n");

BAKEOFF_RELEASE static void rt_release(struct rt_record *r)
{
	bakeoff_release(r->kind, r->value);
	r->value = 0;
}

BAKEOFF_LOOKUP static void rt_frame(u64 ip, u64 bp, const struct bakeoff_frame *f)
{
	u32 records = 0;
	struct rt_record *r = rt_region(ip, bp, &records);

	(void)f;
	for (u32 i = 0; r && i < records; i++)
		if (r[i].value)
			rt_release(&r[i]);
}

/* No trampoline: records hold values, so no register needs rebuilding. */
BAKEOFF_WALK __attribute__((noinline, used)) void bpf_throw(u64 cookie)
{
	bakeoff_unwind(cookie, __builtin_frame_address(0), rt_frame);
}
