/* Every load feature in one object: tests/load/test_elf.py compiles it. */
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __noinline __attribute__((noinline))

struct {
	__uint(type, 1); /* BPF_MAP_TYPE_HASH */
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

struct {
	__uint(type, 27); /* BPF_MAP_TYPE_RINGBUF */
	__uint(max_entries, 4096);
} events SEC(".maps");

int gdata = 7;
int gdata2 = 9;
int gbss;
const volatile int grodata = 3;

struct node { u64 key; u64 value; };

struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

extern void bpf_throw(u64 cookie) __ksym;
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_loop)(u32 nr, void *cb, void *ctx, u64 flags) = (void *)181;
static void *(*bpf_get_current_task_btf)(void) = (void *)158;

static __noinline int leaf(int x) { return x * 3 + gdata2; }
static __noinline int mid(int x) { return leaf(x) + 1; }
__noinline int glob(int x __attribute__((btf_decl_tag("param_tag")))) { return mid(x) + gbss; }
__noinline int unused_global(int x) { return x + 5; }
static int loop_cb(u32 i, void *ctx) { return 0; }

int exc_cb(u64 cookie) { return cookie + 1; }

SEC("tc") __attribute__((btf_decl_tag("exception_callback:exc_cb")))
int prog(void *ctx)
{
	u32 k = 0;
	u64 *v = bpf_map_lookup_elem(&counts, &k);

	if (!v)
		bpf_throw(1);
	bpf_loop(4, loop_cb, 0, 0);
	return glob(grodata) + gdata;
}

SEC("xdp")
int other(void *ctx)
{
	return leaf(1) + (int)__builtin_btf_type_id(*(struct node *)0, 0);
}

SEC("tp_btf/sched_switch")
int pid_of(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return t->pid;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
