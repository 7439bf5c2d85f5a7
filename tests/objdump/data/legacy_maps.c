/* A map declared the way the kernel's older samples declare it: struct bpf_map_def in "maps". */
#define SEC(name) __attribute__((section(name), used))

struct bpf_map_def {
	unsigned int type, key_size, value_size, max_entries, map_flags, inner_map_idx, numa_node;
};

SEC("maps") struct bpf_map_def counters = {.type = 2, .key_size = 4, .value_size = 8, .max_entries = 4};
SEC("maps") struct bpf_map_def other = {.type = 1, .key_size = 4, .value_size = 4, .max_entries = 16};

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

SEC("socket1") int count(void *skb) {
	int key = 0;
	long *value = bpf_map_lookup_elem(&counters, &key);
	if (value)
		__sync_fetch_and_add(value, 1);
	return bpf_map_lookup_elem(&other, &key) != 0;
}
char _license[] SEC("license") = "GPL";
