"""`bakeoff report RESULT`: render a stored result (or what `run --json` printed) in one format,
or every format into a directory."""

from __future__ import annotations

import argparse

from framework.cli.inputs import out_dir
from framework.cli.outcomes import EXIT_OK
from framework.errors import InputError

REPORT_FORMATS = ("csv", "html", "json", "md", "text")


def cmd_report(args: argparse.Namespace) -> int:
    from framework.report.render import render, write_reports
    from framework.report.store import read_result
    from framework.report.text import detail

    out = out_dir(args.out)
    result = read_result(args.result)
    if args.plot is not None:  # one of the HTML page's plots, as an SVG file of its own
        from framework.report.html import PLOTS, plot_svg

        if args.plot not in PLOTS:
            raise InputError("--plot", f"no plot {args.plot!r}; the plots: {', '.join(PLOTS)}")
        svg = plot_svg(result, args.plot)
        if svg is None:
            raise InputError(args.result, f"no data for the plot {args.plot}")
        print(svg, end="")
        return EXIT_OK
    if out is not None:
        for path in write_reports(result, out):
            print(path)
        return EXIT_OK
    print(render(result, args.format), end="")
    if args.detail and args.format == "text":
        print()
        print(detail(result.frame), end="")
    return EXIT_OK
