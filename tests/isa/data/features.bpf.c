/* Exercises what clang-19 -mcpu=v4 emits: every ALU/JMP class, sign-extending
 * loads and moves, sdiv/smod, bswap, atomics, helper/kfunc/BPF-to-BPF calls,
 * globals (ld_imm64 with relocations), several program sections. */
typedef unsigned long long u64;
typedef long long s64;
typedef unsigned int u32;
typedef int s32;
typedef short s16;
typedef signed char s8;

#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
extern void bpf_throw(u64 cookie) __ksym;

u64 counter;
s32 table[16];
char buf[64];

static __attribute__((noinline)) s64 mix(s64 a, s64 b)
{
	s64 r = a / b + a % b;          /* sdiv, smod */
	r ^= (u64)a >> 3;
	r += (s64)(s8)a + (s64)(s16)b;  /* movsx */
	return r << (b & 7);
}

static __attribute__((noinline)) u32 mix32(u32 a, s32 b)
{
	u32 r = a / (u32)b + a % (u32)b;
	s32 q = b / 3 + b % 5;          /* 32-bit sdiv, smod */
	r = r * 7 - (r >> 2) + (u32)(q >> 1);
	return __builtin_bswap32(r) ^ (u32)(s32)(s16)a;
}

SEC("tc")
int prog_alu(void *ctx)
{
	s64 *p = (s64 *)&table[2];
	s8 *c = (s8 *)buf;
	s64 x = c[1] + c[2] * (s64)p[0];  /* ldsx */
	s32 y = ((s16 *)buf)[3] + ((s32 *)buf)[2];
	u64 z = __builtin_bswap64((u64)x) + __builtin_bswap16((unsigned short)y);

	if (x > 100 || y < -5 || (u32)y > 7u || z & 0x10)
		x = mix(x, y | 1);
	else
		x = mix32((u32)x, y + 3);
	return (int)(x + (s64)z);
}

SEC("tc")
int prog_atomic(void *ctx)
{
	u64 old;
	u32 v;

	__sync_fetch_and_add(&counter, 1);
	old = __sync_fetch_and_add(&counter, 2);
	old += __sync_fetch_and_or(&counter, 4);
	old += __sync_fetch_and_and(&counter, 8);
	old += __sync_fetch_and_xor(&counter, 16);
	old += __sync_lock_test_and_set(&counter, 5);
	old += __sync_val_compare_and_swap(&counter, 5, 6);
	v = __sync_fetch_and_add((u32 *)&table[0], 3);
	v += __sync_val_compare_and_swap((u32 *)&table[1], 1, 2);
	v += __atomic_exchange_n((u32 *)&table[3], 9, __ATOMIC_SEQ_CST);
	__sync_fetch_and_xor((u32 *)&table[4], 1);
	return (int)(old + v);
}

SEC("tc")
int prog_calls(void *ctx)
{
	u32 key = 0;
	u64 *val = bpf_map_lookup_elem(&counter, &key);
	u64 t = bpf_ktime_get_ns();
	int i, acc = 0;

	if (!val)
		bpf_throw(7);
	for (i = 0; i < 8; i++) {
		acc += table[i] * (int)t;
		if (acc < 0)
			break;
	}
	*val = t + (u64)acc;
	return acc;
}
