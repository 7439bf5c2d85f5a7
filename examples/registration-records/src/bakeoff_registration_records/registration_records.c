/* registration-records' runtime: registration records in a linked list, as setjmp/longjmp
 * handlers, x86-32 SEH frames and Go's defer records before Go 1.13 are kept.
 *
 * A record {value, kind, next} is taken from a pool (Go's deferproc takes a _defer from a
 * per-P pool) and linked at the list's head; nothing is kept per frame or per pc. The
 * program calls
 *   rr_push(value, kind, r0) after each acquire: a NULL value holds nothing; it returns its
 *     third argument, so r0 stays the acquire's;
 *   rr_pop(value) before each release: the record holding value is unlinked (the most recent
 *     first: a release in LIFO order finds its record at the head) and goes back to the
 *     pool; it keeps R1-R5, the release's arguments;
 *   rr_pop_node before a list push or an rbtree add: the node argument (R2) points R0 bytes
 *     into the recorded object.
 * bpf_throw releases every record from the head down (the list is the program's whole
 * state), then walks to the exception boundary as stock does.
 *
 * The pool and the head live in bakeoff_rt.scratch, zeroed before each run; a push past the
 * pool's end stops the run (ud2): a figure of the run is never taken. */
#include "walk.h"

struct rr_record {
	u64 value;
	u64 kind;
	u64 next; /* 1 + the index of the next record, 0 at the end */
};

struct rr_state {
	u64 head; /* 1 + the index of the most recent record, 0 for none */
	u64 free; /* 1 + the index of the first free record, 0: take a fresh one */
	u64 used; /* records ever taken from the pool */
	struct rr_record rec[];
};

#define RR ((struct rr_state *)bakeoff_rt.scratch)
#define RR_MAX ((sizeof(bakeoff_rt.scratch) - sizeof(struct rr_state)) / sizeof(struct rr_record))

BAKEOFF_RECORD __attribute__((used)) u64 rr_push(u64 value, u64 kind, u64 r0)
{
	u64 i;

	if (!value)
		return r0; /* a NULL acquire holds nothing */
	if (RR->free) {
		i = RR->free - 1;
		RR->free = RR->rec[i].next;
	} else {
		if (RR->used >= RR_MAX)
			__builtin_trap(); /* more held at once than the pool has records */
		i = RR->used++;
	}
	RR->rec[i].value = value;
	RR->rec[i].kind = kind;
	RR->rec[i].next = RR->head;
	RR->head = i + 1;
	return r0;
}

BAKEOFF_RECORD __attribute__((used)) void rr_unlink(u64 value)
{
	u64 *link = &RR->head;

	while (*link) {
		u64 i = *link - 1;

		if (RR->rec[i].value == value) {
			*link = RR->rec[i].next;
			RR->rec[i].value = 0;
			RR->rec[i].next = RR->free;
			RR->free = i + 1;
			return;
		}
		link = &RR->rec[i].next;
	}
	/* no record: a value some other path released or handed on already */
}

/* The fastcall wrappers: keep R1-R5 (rdi, rsi, rdx, rcx, r8), as the release after them needs. */
__asm__(".pushsection .text.record,\"ax\"\n"
	".globl rr_pop\n"
	"rr_pop:\n"
	"\tpush %rdi\n\tpush %rsi\n\tpush %rdx\n\tpush %rcx\n\tpush %r8\n"
	"\tcall rr_unlink\n"
	"\tpop %r8\n\tpop %rcx\n\tpop %rdx\n\tpop %rsi\n\tpop %rdi\n"
	"\tret\n"
	".globl rr_pop_node\n"
	"rr_pop_node:\n"
	"\tpush %rdi\n\tpush %rsi\n\tpush %rdx\n\tpush %rcx\n\tpush %r8\n"
	"\tmov %rsi, %rdi\n\tsub %rax, %rdi\n"
	"\tcall rr_unlink\n"
	"\tpop %r8\n\tpop %rcx\n\tpop %rdx\n\tpop %rsi\n\tpop %rdi\n"
	"\tret\n"
	".popsection\n");

/* Every live record, the most recent first. */
BAKEOFF_LOOKUP static void rr_release_all(void)
{
	while (RR->head) {
		u64 i = RR->head - 1;

		RR->head = RR->rec[i].next;
		bakeoff_release(RR->rec[i].kind, RR->rec[i].value);
		RR->rec[i].value = 0;
	}
}

/* No trampoline: records hold values, so no register needs rebuilding. */
BAKEOFF_WALK __attribute__((noinline, used)) void bpf_throw(u64 cookie)
{
	rr_release_all();
	bakeoff_unwind(cookie, __builtin_frame_address(0), 0);
}
