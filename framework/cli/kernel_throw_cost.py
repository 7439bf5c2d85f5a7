"""`bakeoff kernel-throw-cost`: the stock throw's cost on the running kernel, by depth."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from framework.cli.inputs import out_dir
from framework.cli.outcomes import EXIT_OK

if TYPE_CHECKING:
    pass


def cmd_kernel_throw_cost(args: argparse.Namespace) -> int:
    from framework.oracle.check import available
    from framework.oracle.throw_family import kernel_throw_cost

    out = out_dir(args.out)  # nothing is written unless a directory is named
    reason = available()
    if reason is not None:
        print(f"bakeoff kernel-throw-cost: {reason}; nothing measured")
        return EXIT_OK
    result = kernel_throw_cost(out, batches=args.batches, repeat=args.repeat)
    print(result.table)
    if result.table_path is not None and result.plot_path is not None:
        print(f"\nwritten: {result.table_path}, {result.plot_path}")
    return EXIT_OK
