"""What the x86-64 JIT's tail-call code reads of kernel objects, and where it jumps.

emit_bpf_tail_call_indirect (arch/x86/net/bpf_jit_comp.c) reads three fields at fixed
offsets: the prog array's `map.max_entries` and `ptrs[index]`, and the target's
`bpf_func`; it then jumps `X86_TAIL_CALL_OFFSET` bytes into the target's image, past
the instructions of emit_prologue that set up a frame (the tail call reuses the
caller's). Offsets are the live kernel's (Linux 6.18.44 x86-64, as
/sys/kernel/btf/vmlinux gives them; tests/kernel/test_tailcall_layout.py compares them).
The machine lays its emulated prog arrays and programs out at these offsets, so the
JIT's loads read them as Linux's would.
"""

from __future__ import annotations

__all__ = [
    "BPF_ARRAY_MAX_ENTRIES",
    "BPF_ARRAY_PTRS",
    "BPF_PROG_BPF_FUNC",
    "MAX_TAIL_CALL_CNT",
    "X86_TAIL_CALL_OFFSET",
]

BPF_ARRAY_MAX_ENTRIES = 0x4C  # offsetof(struct bpf_array, map.max_entries)
BPF_ARRAY_PTRS = 0x138  # offsetof(struct bpf_array, ptrs): the union with value[] (ARRAY_VALUE_OFFSET)
BPF_PROG_BPF_FUNC = 0x48  # offsetof(struct bpf_prog, bpf_func)
X86_TAIL_CALL_OFFSET = 12  # 12 + ENDBR_INSN_SIZE, without IBT: nop5, xor rax/nop3, push rbp, mov rbp, rsp
MAX_TAIL_CALL_CNT = 33  # include/linux/bpf.h
