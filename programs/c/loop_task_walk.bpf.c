// SPDX-License-Identifier: GPL-2.0
/*
 * The talk's loop: walk a linked list built out of array-map nodes with
 * bpf_for, look each node's pid up with bpf_task_from_pid and release the
 * task every iteration. Nothing proves the list acyclic, so the walk throws
 * ("cancels the loop") once it exceeds WALK_MAX nodes.
 *  - task_walk: throws inside the loop, holding the iterator (a stack slot)
 *    and the task just looked up: rejected today ("Unreleased reference").
 *  - task_walk_clean: releases the task, leaves the loop (which destroys the
 *    iterator) and throws after it: accepted.
 * A node's `next` is an index into the map; NODE_END ends the list. An
 * all-zero map is a one-node cycle (node 0 -> node 0), so it throws.
 * Returns the number of nodes whose pid named a live task.
 */
#include "bakeoff.h"

#define NODES 16
#define NODE_END 0xffffffffu
#define WALK_MAX 8
#define ERR_CYCLE 41

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
int task_walk(struct __sk_buff *ctx)
{
	__u32 idx = 0;
	int i, live = 0;

	bpf_for(i, 0, NODES) {
		struct node *n = bpf_map_lookup_elem(&nodes, &idx);
		struct task_struct *task;

		if (!n)
			break;
		task = bpf_task_from_pid(n->pid);
		if (i >= WALK_MAX)
			bpf_throw(ERR_CYCLE); /* holds the iterator and maybe task */
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

SEC("tc")
int task_walk_clean(struct __sk_buff *ctx)
{
	__u32 idx = 0;
	int i, live = 0, stuck = 0;

	bpf_for(i, 0, NODES) {
		struct node *n = bpf_map_lookup_elem(&nodes, &idx);
		struct task_struct *task;

		if (!n)
			break;
		task = bpf_task_from_pid(n->pid);
		if (task) {
			live += task->pid == n->pid;
			bpf_task_release(task);
		}
		if (i >= WALK_MAX) {
			stuck = 1;
			break;
		}
		if (n->next == NODE_END)
			break;
		idx = n->next;
	}
	if (stuck)
		bpf_throw(ERR_CYCLE);
	return live;
}

char LICENSE[] SEC("license") = "GPL";
