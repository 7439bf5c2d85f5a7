/* Externs that are not __ksym functions, and data in .data, .bss and .rodata. */
#define SEC(name) __attribute__((section(name), used))

extern void ext_fn(int);
extern int ext_var;
static volatile int counter;
static volatile int seeded = 5;
const volatile int cfg = 3;
int glob;

SEC("tc") int prog(void *ctx) {
	glob++;
	counter += seeded;
	ext_fn(cfg);
	return ext_var + counter;
}
