/* CO-RE relocations of every kind clang emits, shown by llvm-objdump -r from .BTF.ext. */
#define SEC(name) __attribute__((section(name), used))
#define __pai __attribute__((preserve_access_index))

struct inner { int a; int b[4]; } __pai;
struct outer {
	long x;
	struct inner in;
	struct inner arr[3];
	union { int u1; char u2; };
	struct { int q; };
	unsigned int bf : 3;
	int sb : 5;
} __pai;
enum E { ZERO, ONE = 1 };
enum __attribute__((packed)) small { NEG = -3, POS = 5 };
typedef struct outer outer_t;
typedef int myint;
union U { int a; long b; } __pai;
struct fwd;

SEC("tc") int prog(struct outer *p, union U *u, outer_t *t) {
	int r = p->in.a + p->arr[2].b[1] + p->u2 + p->q + p[1].x + u->b + t->in.b[2];
	r += __builtin_preserve_field_info(p->bf, 0) + __builtin_preserve_field_info(p->bf, 1);
	r += __builtin_preserve_field_info(p->bf, 2) + __builtin_preserve_field_info(p->sb, 3);
	r += __builtin_preserve_field_info(p->bf, 4) + __builtin_preserve_field_info(p->bf, 5);
	r += __builtin_btf_type_id(*p, 0) + __builtin_btf_type_id(*p, 1) + __builtin_btf_type_id(*(myint *)0, 1);
	r += __builtin_btf_type_id(*(struct { int x; } *)0, 0) + __builtin_btf_type_id(*(struct fwd *)0, 0);
	r += __builtin_btf_type_id(*(int **)0, 0) + __builtin_btf_type_id(*(unsigned long *)0, 0);
	r += __builtin_preserve_type_info(*p, 0) + __builtin_preserve_type_info(*p, 1);
	r += __builtin_preserve_type_info(*t, 2);
	r += __builtin_preserve_enum_value(*(enum E *)ONE, 0) + __builtin_preserve_enum_value(*(enum E *)ONE, 1);
	r += __builtin_preserve_enum_value(*(enum small *)NEG, 1);
	return r;
}
