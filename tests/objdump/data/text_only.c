/* Code only in .text: no section libbpf loads as a program (the loader finds none). */
__attribute__((noinline)) int add(int a, int b) { return a + b; }

int twice(int x) {
	int sum = 0;
	for (int i = 0; i < x && i < 64; i++)
		sum += add(i, x);
	return sum * 2;
}
