/* The table the machine fills before a run and the runtime reads (and writes back). */
#ifndef BAKEOFF_RUNTIME_H
#define BAKEOFF_RUNTIME_H

typedef unsigned long u64;

#define BAKEOFF_MAX_MAINS 16

/* One main program's JITed code: [lo, hi), and its exception callback's address. */
struct bakeoff_main {
	u64 lo, hi, cb;
};

struct bakeoff_rt {
	u64 threw;      /* set by bpf_throw */
	u64 cookie;     /* bpf_throw's argument */
	u64 frames;     /* BPF frames walked, boundary included */
	u64 text_lo;    /* all JITed BPF code: [text_lo, text_hi) (is_bpf_text_address) */
	u64 text_hi;
	u64 n_main;
	struct bakeoff_main main[BAKEOFF_MAX_MAINS];
};

extern struct bakeoff_rt bakeoff_rt;

/* aux->bpf_exception_cb: takes over the boundary's frame (sp, bp) and returns to its caller */
typedef u64 (*bakeoff_exception_cb)(u64 cookie, u64 sp, u64 bp, u64 r4, u64 r5);

/* Counted apart: the shared frame walk, a strategy's lookup, its releases. */
#define BAKEOFF_WALK __attribute__((section(".text.walk")))
#define BAKEOFF_LOOKUP __attribute__((section(".text.lookup")))
#define BAKEOFF_RELEASE __attribute__((section(".text.release")))

#endif
