"""``posjaga report``: the daily security report of any day, on demand.

    posjaga report                        # the last complete day, PDF in [report] output_dir
    posjaga report --date 2026-12-04 --lang en --out /tmp/report.pdf
    posjaga report --date 2026-12-04 --json          # the JSON on stdout, no file
    posjaga report --date 2026-12-04 --publish       # also event, retained state, upload

The ``report`` daemon builds and publishes each day's report by itself at [report] time.
"""
from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from edge.clock import SystemClock


def add_parser(sub: Any) -> None:
    r = sub.add_parser("report", help="build the daily security report of a day (PDF, JSON)")
    r.add_argument("--date", help="the report day such as 2026-12-04 (default: the last "
                   "complete day)")
    r.add_argument("--lang", help="'id' (Indonesian) or 'en' (default: [report] language)")
    r.add_argument("--out", type=Path, help="the PDF file to write (default: "
                   "[report] output_dir/laporan-DATE-LANG.pdf)")
    r.add_argument("--json", action="store_true", help="print the report as JSON instead")
    r.add_argument("--publish", action="store_true", help="also record it, publish it "
                   "retained and queue the HTTPS upload, as the daemon does")
    r.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from services.cli import CliError, load
    from services.report import ReportError, ReportMaker
    from services.runtime import open_existing, open_runtime

    if args.lang not in (None, "id", "en"):
        raise CliError(f"--lang must be 'id' or 'en', got {args.lang!r}")
    config = load(args)
    rt = (open_runtime if args.publish else open_existing)(config, SystemClock())
    try:
        maker = ReportMaker(rt)
        day = _day(args.date) if args.date else maker.last_complete_day()
        try:
            built = maker.build(day, args.lang)
            if args.json and not args.out and not args.publish:
                print(built.json_text())
                return 0
            path = maker.save(built, args.out)
            if args.publish:
                maker.publish(built, path, "cli")
        except ReportError as exc:
            raise CliError(str(exc)) from None
    finally:
        rt.close()
    if args.json:
        print(built.json_text())
    else:
        _describe(built.report, path)
    return 0


def _day(text: str) -> date:
    from services.cli import CliError

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"--date {text!r} is not a date such as '2026-12-04'") from None


def _describe(report: dict[str, Any], path: Path) -> None:
    s = report["summary"]
    state = "complete" if report["complete"] else "INCOMPLETE (see the notice on page 1)"
    print(f"report of {report['date']} ({report['language']}): {path}; {state}")
    print(json.dumps(s, ensure_ascii=False))
