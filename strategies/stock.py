"""`stock`: Linux 6.18 today.

Happy path: nothing. Stack: nothing. Metadata: nothing. Throw: walk to the
exception boundary (the main program's frame) and run the exception callback
(kernel/bpf/helpers.c bpf_throw -> arch_bpf_stack_walk). Refuses: any throw while
a reference, lock, RCU/preempt/IRQ section is held (verifier.c check_resource_leak,
"bpf_throw would lead to reference leak").
"""

from __future__ import annotations

from framework.plugin_api import Strategy, hookimpl


class Stock(Strategy):
    name = "stock"
    version = "1"
    summary = "Linux today: no cleanup; the verifier refuses a throw while anything is held."


@hookimpl
def register_strategies() -> list[Strategy]:
    return [Stock()]
