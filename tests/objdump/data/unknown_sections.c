/* Sections libbpf does not know as program types. */
#define SEC(name) __attribute__((section(name), used))

SEC("test") int probe(int *ctx) {
	if (ctx[1] == 3)
		return 1;
	return ctx[2] > 7 ? 2 : 0;
}

SEC("loadbalancer") int balance(unsigned char *pkt) {
	unsigned int h = 0;
	for (int i = 0; i < 8; i++)
		h = h * 31 + pkt[i];
	return h % 5;
}
