// SPDX-License-Identifier: GPL-2.0
/*
 * The loop: walk a linked list built out of array-map nodes with the
 * numeric iterator at its largest bound, bpf_for(i, 0, BPF_MAX_LOOPS) (8M
 * steps), looking each node's pid up with bpf_task_from_pid and releasing the
 * task every step (loop_task_walk's walk without its WALK_MAX throw). Nothing
 * bounds the walk but the iterator: an acyclic list ends at its last node; a
 * cyclic one runs all 8M steps (tens of milliseconds on Linux, far longer than
 * any run the emulator should make: the manifest's time_limit_s stops it).
 * A node's `next` is an index into the map; NODE_END ends the list.
 * Returns the number of steps whose pid named a live task.
 */
#include "bakeoff.h"

#define NODES 16
#define NODE_END 0xffffffffu
#define BPF_MAX_LOOPS (8 * 1024 * 1024) /* include/linux/bpf.h: bpf_iter_num_new's largest range */

struct node {
	__u32 next;
	__s32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NODES);
	__type(key, __u32);
	__type(value, struct node);
} nodes SEC(".maps");

SEC("tc")
int max_loops_walk(struct __sk_buff *ctx)
{
	__u32 idx = 0;
	int i, live = 0;

	bpf_for(i, 0, BPF_MAX_LOOPS) {
		struct node *n = bpf_map_lookup_elem(&nodes, &idx);
		struct task_struct *task;

		if (!n)
			break;
		task = bpf_task_from_pid(n->pid);
		if (task) {
			live += task->pid == n->pid;
			bpf_task_release(task);
		}
		if (n->next == NODE_END)
			break;
		idx = n->next;
	}
	return live;
}

char LICENSE[] SEC("license") = "GPL";
