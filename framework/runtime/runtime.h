/* The table the machine fills before a run and the runtime reads (and writes back). */
#ifndef BAKEOFF_RUNTIME_H
#define BAKEOFF_RUNTIME_H

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef short s16;
typedef unsigned char u8;

#define BAKEOFF_MAX_MAINS 16
#define BAKEOFF_MAX_KINDS 16  /* framework.kernel.kinds.MAX_KINDS */
#define BAKEOFF_MAX_FRAMES 64

/* One program: its main subprog's JITed code [lo, hi) (the exception boundary's), its
 * exception callback's address, its strategy table (each program has its own, as each
 * bpf_prog carries its own descriptors) and all of its code [code_lo, code_hi). More than one
 * with tail calls: the caller first, then each target. */
struct bakeoff_main {
	u64 lo, hi, cb;
	u64 table, table_len;
	u64 code_lo, code_hi;
};

/* One subprog's JITed frame (the JIT's FrameLayout; the RFC's callee_regs_used, PATCH 08/14):
 * code [lo, hi); BPF stack [bp - stack_size, bp); then push[i] saved at bp - stack_size - 8 * (i + 1).
 * push[i] is the BPF register (6..9) whose x86 register was pushed, 0 for r12. */
struct bakeoff_frame {
	u64 lo, hi;
	u32 stack_size;
	u8 npush;
	u8 push[5];
	u16 subprog;
	u32 pad;
};

struct bakeoff_rt {
	u64 threw;      /* set by bpf_throw: 1 + the index of the main whose callback takes the throw */
	u64 cookie;     /* bpf_throw's argument */
	u64 frames;     /* BPF frames walked, boundary included */
	u64 released;   /* releases the runtime made */
	u64 misses;     /* BPF frames the strategy's table had no entry for */
	u64 text_lo;    /* all JITed BPF code: [text_lo, text_hi) (is_bpf_text_address) */
	u64 text_hi;
	u64 n_main;
	struct bakeoff_main main[BAKEOFF_MAX_MAINS];
	u64 release[BAKEOFF_MAX_KINDS]; /* release stub per kind: void release(u64 value) */
	u64 table;      /* the strategy's runtime table (read-only), and its length: the entry program's,
	                 * then, once a throw's walk starts, the throwing program's */
	u64 table_len;
	u64 n_frame;
	struct bakeoff_frame frame[BAKEOFF_MAX_FRAMES];
	u64 scratch[512]; /* a runtime's own state across calls (landing pads: where unwinding is; a record pool) */
};

extern struct bakeoff_rt bakeoff_rt;

/* aux->bpf_exception_cb: takes over the boundary's frame (sp, bp) and returns to its caller */
typedef u64 (*bakeoff_exception_cb)(u64 cookie, u64 sp, u64 bp, u64 r4, u64 r5);

/* Counted apart: the shared frame walk, a strategy's lookup, its releases. Lookup and
 * release functions are never inlined into a caller of another section. */
#define BAKEOFF_WALK __attribute__((section(".text.walk")))
#define BAKEOFF_LOOKUP __attribute__((section(".text.lookup"), noinline))
#define BAKEOFF_RELEASE __attribute__((section(".text.release"), noinline))
/* Happy-path runtime code the program calls (a resource table's push and removal), counted apart too. */
#define BAKEOFF_RECORD __attribute__((section(".text.record"), noinline))

#endif
