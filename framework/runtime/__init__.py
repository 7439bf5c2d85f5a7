"""C runtimes that run inside the machine at throw time, counted like the program.

`stock.c` is Linux's bpf_throw: walk the rbp chain of JITed frames to the
exception boundary (the first frame whose return address is in a main
program), then call the exception callback as `cb(cookie, sp, bp, 0, 0)`.
`build_runtime` compiles a runtime with gcc into a flat blob (cached);
`RuntimeTable` fills the `bakeoff_rt` table it reads.
"""

from framework.runtime.build import (
    RUNTIME_BASE,
    RUNTIME_DATA,
    RUNTIME_DATA_SIZE,
    STOCK,
    Runtime,
    build_runtime,
    stock_runtime,
)
from framework.runtime.table import RuntimeTable, ThrowRecord

__all__ = [
    "RUNTIME_BASE",
    "RUNTIME_DATA",
    "RUNTIME_DATA_SIZE",
    "STOCK",
    "Runtime",
    "RuntimeTable",
    "ThrowRecord",
    "build_runtime",
    "stock_runtime",
]
