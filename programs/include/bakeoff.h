/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bakeoff.h: the corpus's own BPF header.
 *
 * Everything a corpus program needs, declared here rather than taken from
 * vmlinux.h or the kernel's bpf_experimental.h:
 *  - uapi types from <linux/bpf.h> (linux-libc-dev) and a few newer opaque
 *    types that header lacks, with the layouts of Linux 6.18;
 *  - the kernel structs the corpus reads, CO-RE relocatable;
 *  - libbpf's section/attribute conventions (SEC, __ksym, BTF-defined maps);
 *  - helpers by id (as libbpf's bpf_helper_defs.h declares them) and kfuncs
 *    with the prototypes of the running kernel's BTF;
 *  - bpf_throw conveniences: __exception_cb, bpf_assert*, bpf_for, bpf_obj_new.
 */
#ifndef BAKEOFF_H
#define BAKEOFF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#ifndef NULL
#define NULL ((void *)0)
#endif

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;

/* ---- libbpf conventions ---------------------------------------------- */

#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))
#define __noinline __attribute__((noinline))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

/* The main program names its exception callback in a BTF decl tag; the
 * callback must be a global function taking one integer (the cookie). */
#define __exception_cb(fn) __attribute__((btf_decl_tag("exception_callback:" #fn)))

/* A local type's id in the program's own BTF (CO-RE BPF_TYPE_ID_LOCAL = 0). */
#define bakeoff_local_type_id(T) __builtin_btf_type_id(*(T *)0, 0)

#define barrier_var(v) asm volatile("" : "+r"(v))

/* ---- types newer than linux-libc-dev 6.1's uapi ---------------------- */

/* Layouts as in Linux 6.18's include/uapi/linux/bpf.h; the verifier finds
 * bpf_refcount fields in program BTF by name. */
struct bpf_iter_num {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

struct bpf_refcount {
	__u32 __opaque[1];
} __attribute__((aligned(4)));

/* ---- kernel structs the corpus reads (CO-RE: only these fields) ------- */

struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

struct cgroup {
	int level;
} __attribute__((preserve_access_index));

/* ---- helpers, by id (include/uapi/linux/bpf.h __BPF_FUNC_MAPPER) ------ */

static void *(* const bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static __u64 (* const bpf_ktime_get_ns)(void) = (void *)5;
static __u64 (* const bpf_get_current_pid_tgid)(void) = (void *)14;
static struct bpf_sock *(* const bpf_sk_lookup_tcp)(void *ctx, struct bpf_sock_tuple *tuple,
						     __u32 tuple_size, __u64 netns,
						     __u64 flags) = (void *)84;
static long (* const bpf_sk_release)(void *sock) = (void *)86;
static long (* const bpf_spin_lock)(struct bpf_spin_lock *lock) = (void *)93;
static long (* const bpf_spin_unlock)(struct bpf_spin_lock *lock) = (void *)94;
static void *(* const bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *)131;
static void (* const bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;
static void (* const bpf_ringbuf_discard)(void *data, __u64 flags) = (void *)133;
static long (* const bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx,
			       __u64 flags) = (void *)181;
static long (* const bpf_ringbuf_reserve_dynptr)(void *ringbuf, __u32 size, __u64 flags,
						 struct bpf_dynptr *ptr) = (void *)198;
static void (* const bpf_ringbuf_submit_dynptr)(struct bpf_dynptr *ptr, __u64 flags) = (void *)199;
static void (* const bpf_ringbuf_discard_dynptr)(struct bpf_dynptr *ptr, __u64 flags) = (void *)200;

/* ---- kfuncs (prototypes as in /sys/kernel/btf/vmlinux of Linux 6.18) -- */

extern void bpf_throw(__u64 cookie) __ksym;

extern void *bpf_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;
extern void *bpf_percpu_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_percpu_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;
extern void *bpf_refcount_acquire_impl(void *p__refcounted_kptr, void *meta__ign) __ksym;

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern void bpf_preempt_disable(void) __ksym;
extern void bpf_preempt_enable(void) __ksym;

extern int bpf_dynptr_from_skb(struct __sk_buff *s, u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *p, u32 offset, void *buffer__opt,
			      u32 buffer__szk) __ksym;

/* ---- allocation wrappers ---------------------------------------------- */

#define bpf_obj_new(T) ((T *)bpf_obj_new_impl(bakeoff_local_type_id(T), NULL))
#define bpf_obj_drop(p) bpf_obj_drop_impl(p, NULL)
#define bpf_percpu_obj_new(T) ((T *)bpf_percpu_obj_new_impl(bakeoff_local_type_id(T), NULL))
#define bpf_percpu_obj_drop(p) bpf_percpu_obj_drop_impl(p, NULL)
#define bpf_refcount_acquire(p) ((typeof(p))bpf_refcount_acquire_impl(p, NULL))

/* ---- assertions -------------------------------------------------------- */

/* Throw `cookie` unless `cond` holds (plain C: the compiler picks the jump). */
#define bpf_assert_with(cond, cookie)                 \
	({                                            \
		if (__builtin_expect(!(cond), 0))     \
			bpf_throw(cookie);            \
	})
#define bpf_assert(cond) bpf_assert_with(cond, 0)

/*
 * One compare-and-throw, as the talk spells it out:
 *     if <lhs> <op> <rhs> goto +2; r1 = <cookie>; call bpf_throw
 * The fall-through after the call is the "holds" path, so the verifier learns
 * the bound there. lhs must be a 64-bit value in a register, rhs and cookie
 * constants that fit an imm32.
 */
#define __bakeoff_cmp_or_throw(lhs, op, rhs, cookie)                                \
	asm volatile("if %[l] " op " %[r] goto +2\n\t"                            \
		     "r1 = %[c]\n\t"                                                \
		     "call bpf_throw"                                               \
		     :                                                              \
		     : [l] "r"(lhs), [r] "i"(rhs), [c] "i"(cookie)                  \
		     : "r0", "r1", "r2", "r3", "r4", "r5", "memory")

/* Throw `cookie` unless beg <= x <= end; signed compares for signed x. */
#define bpf_assert_range_with(x, beg, end, cookie)                                   \
	({                                                                            \
		_Static_assert(sizeof(x) == 8, "bpf_assert_range needs a 64-bit value"); \
		if ((typeof(x))-1 < 0) {                                              \
			__bakeoff_cmp_or_throw(x, "s>=", beg, cookie);               \
			__bakeoff_cmp_or_throw(x, "s<=", end, cookie);               \
		} else {                                                              \
			__bakeoff_cmp_or_throw(x, ">=", beg, cookie);                \
			__bakeoff_cmp_or_throw(x, "<=", end, cookie);                \
		}                                                                     \
	})
#define bpf_assert_range(x, beg, end) bpf_assert_range_with(x, beg, end, 0)

/* ---- bounded loops over the numeric iterator -------------------------- */

static inline void __bakeoff_iter_num_cleanup(struct bpf_iter_num *it)
{
	bpf_iter_num_destroy(it);
}

/*
 * for (i = start; i < end; i++) on bpf_iter_num: `i` must be an int declared
 * by the caller; the iterator is destroyed when the loop is left by any path
 * (break included) but not by a throw, which is what the bake-off is about.
 */
#define bpf_for(i, start, end)                                                          \
	for (struct bpf_iter_num ___it __attribute__((cleanup(__bakeoff_iter_num_cleanup))), \
	     *___pit = (bpf_iter_num_new(&___it, (start), (end)), &___it);                  \
	     ({                                                                             \
		     int *___cur = bpf_iter_num_next(___pit);                              \
		     ___cur ? ((i) = *___cur, 1) : 0;                                       \
	     });)

/* ---- lists and rbtrees of local objects ------------------------------- */

/* The graph types (lists and rbtrees of local objects): the verifier finds
 * them in program BTF by name; __contains names the element type and its
 * node field, as a BTF decl tag "contains:TYPE:FIELD" (btf_parse_graph_root). */
struct bpf_list_head {
	__u64 __opaque[2];
} __attribute__((aligned(8)));

struct bpf_list_node {
	__u64 __opaque[3];
} __attribute__((aligned(8)));

struct bpf_rb_root {
	__u64 __opaque[2];
} __attribute__((aligned(8)));

struct bpf_rb_node {
	__u64 __opaque[4];
} __attribute__((aligned(8)));

#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))
#define container_of(ptr, type, member) ((type *)((void *)(ptr) - __builtin_offsetof(type, member)))

extern int bpf_list_push_front_impl(struct bpf_list_head *head, struct bpf_list_node *node,
				    void *meta__ign, __u64 off) __ksym;
extern int bpf_list_push_back_impl(struct bpf_list_head *head, struct bpf_list_node *node,
				   void *meta__ign, __u64 off) __ksym;
extern struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head) __ksym;
extern struct bpf_list_node *bpf_list_pop_back(struct bpf_list_head *head) __ksym;
extern struct bpf_list_node *bpf_list_front(struct bpf_list_head *head) __ksym;
extern struct bpf_list_node *bpf_list_back(struct bpf_list_head *head) __ksym;
extern int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node,
			       _Bool (less)(struct bpf_rb_node *a, const struct bpf_rb_node *b),
			       void *meta__ign, __u64 off) __ksym;
extern struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root) __ksym;
extern struct bpf_rb_node *bpf_rbtree_remove(struct bpf_rb_root *root, struct bpf_rb_node *node) __ksym;
extern struct bpf_rb_node *bpf_rbtree_root(struct bpf_rb_root *root) __ksym;
extern struct bpf_rb_node *bpf_rbtree_left(struct bpf_rb_root *root, struct bpf_rb_node *node) __ksym;
extern struct bpf_rb_node *bpf_rbtree_right(struct bpf_rb_root *root, struct bpf_rb_node *node) __ksym;

#define bpf_list_push_front(head, node) bpf_list_push_front_impl(head, node, NULL, 0)
#define bpf_list_push_back(head, node) bpf_list_push_back_impl(head, node, NULL, 0)
#define bpf_rbtree_add(root, node, less) bpf_rbtree_add_impl(root, node, less, NULL, 0)

/* ---- bpf_timer helpers, by id (at the end: the corpus objects' line info stays as built) -- */

static long (* const bpf_timer_init)(struct bpf_timer *timer, void *map, __u64 flags) = (void *)169;
static long (* const bpf_timer_set_callback)(struct bpf_timer *timer, void *callback_fn) = (void *)170;
static long (* const bpf_timer_start)(struct bpf_timer *timer, __u64 nsecs, __u64 flags) = (void *)171;
static long (* const bpf_timer_cancel)(struct bpf_timer *timer) = (void *)172;

#endif /* BAKEOFF_H */
