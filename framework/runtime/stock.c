/* The stock bpf_throw (kernel/bpf/helpers.c bpf_throw, Linux 6.18): walk to the
 * exception boundary, call the exception callback on the boundary's frame.
 * The walk follows the rbp chain of JITed frames (the RFC's x86 walk) where
 * the kernel uses ORC (arch_bpf_stack_walk); both yield each frame's return
 * address with the sp and bp at that address. Nothing is released. */
#include "walk.h"

/* bpf_throw: find the boundary as arch_bpf_stack_walk(bpf_stack_walker) does, then
 * aux->bpf_exception_cb(cookie, sp, bp, 0, 0); it never returns. */
BAKEOFF_WALK __attribute__((noinline, used)) void bpf_throw(u64 cookie)
{
	bakeoff_unwind(cookie, __builtin_frame_address(0), 0);
}
