/* A program calling a static function in .text, and a static program the loader skips. */
#define SEC(name) __attribute__((section(name), used))

static __attribute__((noinline)) int scale(int x) {
	if (x > 100)
		return x / 3;
	return x * 7;
}

SEC("xdp") int entry(void *ctx) {
	int r = 0;
	for (int i = 0; i < 16; i++)
		r += scale(i + (int)(long)ctx);
	return r & 3;
}

SEC("tc") static int hidden(void *ctx) { return scale(5); }
