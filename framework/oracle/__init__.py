"""The running kernel as an oracle: load what the framework assembled, record what Linux says.

Only BPF_PROG_LOAD and BPF_PROG_TEST_RUN (plus the maps and BTF a program needs);
nothing is attached or pinned, and every fd is closed on exit, Ctrl-C included.

- `bpf_syscall`: the bpf() system call through ctypes, fds owned by context managers;
- `loader.load(program)`: maps, BTF with libbpf's fix-ups, kfunc ids, BPF_PROG_LOAD;
- `record.record(program, inputs)`: a `KernelRecord` (verdict, message, stack depth,
  verifier statistics, JIT image and line info, retval and ns per input);
- `check`: `bakeoff kernel-check` (`kernel_check`, `to_json`, `render`, `available`);
- `throw_family.kernel_throw_cost(out_dir)`: `bakeoff kernel-throw-cost`;
- `identity`: `KernelBuild`, the kernel a truth was recorded on, and `running()`;
- `drift`: the one rule comparing the live kernel with recorded truth (DESIGN.md "Kernel drift");
- `manifest`: kernel truth (`[program.kernel]`) in the corpus manifests.
"""

from framework.oracle.check import JSON_KEYS, available, kernel_check, render, to_json
from framework.oracle.drift import Comparison, Figure, KernelDrift, compare
from framework.oracle.identity import KernelBuild, running
from framework.oracle.manifest import check_corpus_truth, corpus_entries, write_corpus_truth
from framework.oracle.record import InputRun, KernelRecord, record
from framework.oracle.throw_family import ThrowCostResult, kernel_throw_cost

__all__ = [
    "JSON_KEYS",
    "Comparison",
    "Figure",
    "InputRun",
    "KernelBuild",
    "KernelDrift",
    "KernelRecord",
    "ThrowCostResult",
    "available",
    "check_corpus_truth",
    "compare",
    "corpus_entries",
    "kernel_check",
    "kernel_throw_cost",
    "record",
    "render",
    "running",
    "to_json",
    "write_corpus_truth",
]
