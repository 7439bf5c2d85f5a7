// SPDX-License-Identifier: GPL-2.0
/*
 * Lists and rbtrees of local objects in a map value (the graph kfuncs), with the
 * ownership the verifier tracks: a push or an add hands the object to the
 * collection (the program's pointer becomes a non-owning reference, gone at
 * bpf_spin_unlock), a pop or a remove hands it back as an owning one.
 *  - list_fifo:     three objects pushed to the back, popped from the front
 *                   until the list is empty; returns their keys in order.
 *  - rbtree_sorted: three objects added out of order under a `less` callback,
 *                   then the first taken out until the tree is empty.
 *  - list_pop_throw: pops an object, unlocks, and throws (cookie 31) holding it
 *                   when the packet is shorter than Ethernet + IPv4: the popped
 *                   pointer still points at the node field (off 8), not at the
 *                   object's start, so a cleanup must release the object it is in.
 *  - list_pop_throw_clean: drops it first.
 *  - refcount_shared: one refcounted object (bpf_refcount_acquire) in an rbtree
 *                    and a list at once, removed from both and dropped twice.
 *  - refcount_add_twice: the second bpf_rbtree_add of a node already in the tree
 *                    fails (-EINVAL) and drops the reference it was given.
 *  - refcount_throw: adds an object to the tree and throws (cookie 31) holding
 *                    a second, acquired reference to it on a short packet; a
 *                    cleanup's bpf_obj_drop only drops the count (the tree keeps
 *                    the object).
 *  - refcount_throw_clean: drops the acquired reference first.
 */
#include "bakeoff.h"

#define ERR_SHORT 31

struct item {
	long key;
	struct bpf_list_node node;
};

struct ritem {
	long key;
	struct bpf_rb_node rb;
};

struct holder {
	struct bpf_spin_lock lock;
	struct bpf_list_head head __contains(item, node);
	struct bpf_rb_root root __contains(ritem, rb);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, int);
	__type(value, struct holder);
	__uint(max_entries, 1);
} store SEC(".maps");

static _Bool less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct ritem *x = container_of(a, struct ritem, rb);
	struct ritem *y = container_of(b, struct ritem, rb);

	return x->key < y->key;
}

static __always_inline struct holder *holder(void)
{
	int key = 0;

	return bpf_map_lookup_elem(&store, &key);
}

static __always_inline int push_items(struct holder *h, int n)
{
	struct item *e;
	int i;

	for (i = 0; i < n; i++) {
		e = bpf_obj_new(struct item);
		if (!e)
			return -1;
		e->key = i + 10;
		bpf_spin_lock(&h->lock);
		bpf_list_push_back(&h->head, &e->node);
		bpf_spin_unlock(&h->lock);
	}
	return 0;
}

SEC("tc")
int list_fifo(struct __sk_buff *ctx)
{
	struct bpf_list_node *n;
	struct holder *h;
	struct item *e;
	long sum = 0;
	int i;

	h = holder();
	if (!h || push_items(h, 3))
		return 1;
	for (i = 0; i < 4; i++) {
		bpf_spin_lock(&h->lock);
		n = bpf_list_pop_front(&h->head);
		bpf_spin_unlock(&h->lock);
		if (!n)
			break;
		e = container_of(n, struct item, node);
		sum = sum * 100 + e->key;
		bpf_obj_drop(e);
	}
	return sum;
}

SEC("tc")
int rbtree_sorted(struct __sk_buff *ctx)
{
	struct bpf_rb_node *n;
	struct holder *h;
	struct ritem *e;
	long sum = 0;
	int i;

	h = holder();
	if (!h)
		return 1;
	for (i = 0; i < 3; i++) {
		e = bpf_obj_new(struct ritem);
		if (!e)
			return 2;
		e->key = 30 - i * 7;
		bpf_spin_lock(&h->lock);
		bpf_rbtree_add(&h->root, &e->rb, less);
		bpf_spin_unlock(&h->lock);
	}
	for (i = 0; i < 4; i++) {
		bpf_spin_lock(&h->lock);
		n = bpf_rbtree_first(&h->root);
		if (!n) {
			bpf_spin_unlock(&h->lock);
			break;
		}
		n = bpf_rbtree_remove(&h->root, n);
		bpf_spin_unlock(&h->lock);
		if (!n)
			break;
		e = container_of(n, struct ritem, rb);
		sum = sum * 100 + e->key;
		bpf_obj_drop(e);
	}
	return sum;
}

static __always_inline int short_packet(struct __sk_buff *ctx)
{
	return ctx->len < ETH_HLEN + 20;
}

SEC("tc")
int list_pop_throw(struct __sk_buff *ctx)
{
	struct bpf_list_node *n;
	struct holder *h;
	long key;

	h = holder();
	if (!h || push_items(h, 1))
		return 1;
	bpf_spin_lock(&h->lock);
	n = bpf_list_pop_front(&h->head);
	bpf_spin_unlock(&h->lock);
	if (!n)
		return 2;
	if (short_packet(ctx))
		bpf_throw(ERR_SHORT);
	key = container_of(n, struct item, node)->key;
	bpf_obj_drop(container_of(n, struct item, node));
	return key;
}

SEC("tc")
int list_pop_throw_clean(struct __sk_buff *ctx)
{
	struct bpf_list_node *n;
	struct holder *h;
	long key;

	h = holder();
	if (!h || push_items(h, 1))
		return 1;
	bpf_spin_lock(&h->lock);
	n = bpf_list_pop_front(&h->head);
	bpf_spin_unlock(&h->lock);
	if (!n)
		return 2;
	key = container_of(n, struct item, node)->key;
	bpf_obj_drop(container_of(n, struct item, node));
	if (short_packet(ctx))
		bpf_throw(ERR_SHORT);
	return key;
}

/* refcounted objects: each in a tree and a list at once (bpf_refcount) */
struct shared {
	long key;
	struct bpf_rb_node rb;
	struct bpf_list_node l;
	struct bpf_refcount ref;
};

struct shared_holder {
	struct bpf_spin_lock lock;
	struct bpf_rb_root root __contains(shared, rb);
	struct bpf_list_head head __contains(shared, l);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, int);
	__type(value, struct shared_holder);
	__uint(max_entries, 1);
} shared_store SEC(".maps");

static _Bool shared_less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return container_of(a, struct shared, rb)->key < container_of(b, struct shared, rb)->key;
}

static __always_inline struct shared_holder *shared_holder(void)
{
	int key = 0;

	return bpf_map_lookup_elem(&shared_store, &key);
}

SEC("tc")
int refcount_shared(struct __sk_buff *ctx)
{
	struct shared_holder *h = shared_holder();
	struct bpf_list_node *ln;
	struct bpf_rb_node *r;
	struct shared *n, *m;
	long out = 0;

	if (!h)
		return 1;
	n = bpf_obj_new(struct shared);
	if (!n)
		return 2;
	n->key = 7;
	m = bpf_refcount_acquire(n);
	bpf_spin_lock(&h->lock);
	bpf_rbtree_add(&h->root, &n->rb, shared_less);
	bpf_list_push_back(&h->head, &m->l);
	bpf_spin_unlock(&h->lock);
	bpf_spin_lock(&h->lock);
	r = bpf_rbtree_first(&h->root);
	if (r)
		r = bpf_rbtree_remove(&h->root, r);
	ln = bpf_list_pop_front(&h->head);
	bpf_spin_unlock(&h->lock);
	if (r) {
		out += container_of(r, struct shared, rb)->key;
		bpf_obj_drop(container_of(r, struct shared, rb));
	}
	if (ln) {
		out += container_of(ln, struct shared, l)->key * 100;
		bpf_obj_drop(container_of(ln, struct shared, l));
	}
	return out;
}

SEC("tc")
int refcount_add_twice(struct __sk_buff *ctx)
{
	struct shared_holder *h = shared_holder();
	struct bpf_rb_node *r;
	struct shared *n, *m;
	long a, b;

	if (!h)
		return 1;
	n = bpf_obj_new(struct shared);
	if (!n)
		return 2;
	m = bpf_refcount_acquire(n);
	bpf_spin_lock(&h->lock);
	a = bpf_rbtree_add(&h->root, &n->rb, shared_less);
	b = bpf_rbtree_add(&h->root, &m->rb, shared_less);
	r = bpf_rbtree_first(&h->root);
	if (r)
		r = bpf_rbtree_remove(&h->root, r);
	bpf_spin_unlock(&h->lock);
	if (r)
		bpf_obj_drop(container_of(r, struct shared, rb));
	return a * 10 - b;
}

SEC("tc")
int refcount_throw(struct __sk_buff *ctx)
{
	struct shared_holder *h = shared_holder();
	struct shared *n, *m;
	long key;

	if (!h)
		return 1;
	n = bpf_obj_new(struct shared);
	if (!n)
		return 2;
	n->key = 5;
	m = bpf_refcount_acquire(n);
	bpf_spin_lock(&h->lock);
	bpf_rbtree_add(&h->root, &n->rb, shared_less);
	bpf_spin_unlock(&h->lock);
	if (short_packet(ctx))
		bpf_throw(ERR_SHORT);
	key = m->key;
	bpf_obj_drop(m);
	return key;
}

SEC("tc")
int refcount_throw_clean(struct __sk_buff *ctx)
{
	struct shared_holder *h = shared_holder();
	struct shared *n, *m;
	long key;

	if (!h)
		return 1;
	n = bpf_obj_new(struct shared);
	if (!n)
		return 2;
	n->key = 5;
	m = bpf_refcount_acquire(n);
	bpf_spin_lock(&h->lock);
	bpf_rbtree_add(&h->root, &n->rb, shared_less);
	bpf_spin_unlock(&h->lock);
	key = m->key;
	bpf_obj_drop(m);
	if (short_packet(ctx))
		bpf_throw(ERR_SHORT);
	return key;
}

char _license[] SEC("license") = "GPL";
