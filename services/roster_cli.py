"""``posjaga roster ...``: draw up the duty roster, have it approved, look at it.

    posjaga roster guard "Ani" --user-id 101      # link a guard to the fingerprint machine
    posjaga roster import piket-desember.csv      # the draft (date,shift,guard[,user_id])
    posjaga roster edit 2026-12-05 night --add Budi --remove Citra
    posjaga roster approve --by "Kasubag Umum"    # from now on it is enforced
    posjaga roster show [--draft] [--from 2026-12-04] [--days 7] [--json]

Every change is an event (roster.guard, roster.draft, roster.approved, roster.changed); an
approved roster is changed only with --by (who authorised it).
"""
from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from edge.clock import SystemClock
from edge.roster import RosterError, parse_roster_csv, parse_shifts
from services.roster import RosterInfo, RosterStore


def add_parser(sub: Any) -> None:
    r = sub.add_parser("roster", help="the duty roster: link guards, import or edit a draft, "
                       "approve it, show it")
    rs = r.add_subparsers(title="actions", metavar="ACTION")

    g = rs.add_parser("guard", help="link a guard to their user id on the fingerprint machine")
    g.add_argument("name", help="the guard's name as the roster writes it")
    g.add_argument("--user-id", required=True, help="the guard's user id on the machine")
    g.add_argument("--by", help="who made the change")
    g.set_defaults(func=cmd_guard)

    gs = rs.add_parser("guards", help="list the guards and their fingerprint user ids")
    gs.add_argument("--json", action="store_true")
    gs.set_defaults(func=cmd_guards)

    i = rs.add_parser("import", help="replace the draft by a CSV: date,shift,guard[,user_id]")
    i.add_argument("file", type=Path)
    i.add_argument("--by", help="who drew it up")
    i.set_defaults(func=cmd_import)

    e = rs.add_parser("edit", help="put guards on or take them off one shift of one day")
    e.add_argument("day", help="the local day the shift starts, such as 2026-12-05")
    e.add_argument("shift", help="a configured shift name such as 'night'")
    e.add_argument("--add", action="append", default=[], metavar="GUARD")
    e.add_argument("--remove", action="append", default=[], metavar="GUARD")
    e.add_argument("--by", help="who made or authorised the change (needed for an approved "
                   "roster)")
    e.set_defaults(func=cmd_edit)

    a = rs.add_parser("approve", help="approve the draft (the Kasubag): it is enforced from now")
    a.add_argument("--by", required=True, help="who approves it, such as 'Kasubag Umum'")
    a.set_defaults(func=cmd_approve)

    s = rs.add_parser("show", help="the approved roster day by day, or the draft")
    s.add_argument("--draft", action="store_true", help="show the draft instead")
    s.add_argument("--from", dest="first", help="the first day (default today)")
    s.add_argument("--days", type=int, default=7, help="how many days (default 7)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)


# --- commands ----------------------------------------------------------------------------------

def cmd_guard(args: argparse.Namespace) -> int:
    with _Session(args, write=True) as session:
        store = session.store
        guard = _checked(lambda: store.link_guard(args.name, args.user_id, args.by))
    print(f"guard {guard.name} is fingerprint user {guard.user_id}")
    return 0


def cmd_guards(args: argparse.Namespace) -> int:
    with _Session(args, write=False) as session:
        store = session.store
        guards = store.guards()
    if args.json:
        print(json.dumps([{"name": g.name, "user_id": g.user_id} for g in guards],
                         ensure_ascii=False))
    for g in [] if args.json else guards:
        print(f"{g.user_id:>10}  {g.name}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from services.cli import CliError

    try:
        content = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.file}: cannot be read ({exc.__class__.__name__})") from None
    with _Session(args, write=True) as session:
        store = session.store
        rows = _checked(lambda: parse_roster_csv(content, store.shift_names, str(args.file)))
        info = _checked(lambda: store.import_csv(rows, args.file.name, args.by))
    print(f"draft roster #{info.id}: {info.entries} assignments from {info.first_day} to "
          f"{info.last_day}; approve it with 'posjaga roster approve --by NAME'")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    from services.cli import CliError

    if not args.add and not args.remove:
        raise CliError("say what to change with --add GUARD and/or --remove GUARD")
    day = _day(args.day, "day")
    with _Session(args, write=True) as session:
        store = session.store
        change = _checked(lambda: store.edit(day, args.shift, args.add, args.remove, args.by))
    what = "approved" if change.roster.status == "approved" else "draft"
    if not change.changed:
        print(f"{what} roster #{change.roster.id}, {day} {args.shift}: already "
              f"{', '.join(change.after) or 'nobody'}; nothing changed")
    else:
        print(f"{what} roster #{change.roster.id}, {day} {args.shift}: "
              f"{', '.join(change.before) or 'nobody'} -> {', '.join(change.after) or 'nobody'}")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    with _Session(args, write=True) as session:
        store = session.store
        info = _checked(lambda: store.approve(args.by))
    print(f"roster #{info.id} ({info.first_day} to {info.last_day}, {info.entries} "
          f"assignments) approved by {info.approved_by}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from services.cli import CliError

    if args.days <= 0 or args.days > 366:
        raise CliError("--days must be a whole number from 1 to 366")
    with _Session(args, write=False) as session:
        store = session.store
        config = session.config
        shifts = parse_shifts(config.roster.shifts)
        if args.draft:
            draft = store.draft()
            if draft is None:
                raise CliError("there is no draft roster; import one with 'posjaga roster "
                               "import FILE.csv'")
            plan, first, days = store.plan(draft.id), draft.first_day, \
                (draft.last_day - draft.first_day).days + 1
            header = _describe(draft)
            covered = {first + timedelta(days=n): draft.id for n in range(days)}
        else:
            first = _day(args.first, "--from") if args.first else \
                SystemClock().now().astimezone(config.site.zone).date()
            days = args.days
            assignments, covered = store.effective(first, first + timedelta(days=days - 1))
            plan = {}
            for a in assignments:
                plan.setdefault(a.day.isoformat(), {}).setdefault(a.shift, []).append(a.guard)
            header = "approved roster (the one approved last counts for each day)"
    if args.json:
        print(json.dumps({"view": "draft" if args.draft else "approved",
                          "days": {(first + timedelta(days=n)).isoformat(): {
                              "roster": covered.get(first + timedelta(days=n)),
                              "shifts": plan.get((first + timedelta(days=n)).isoformat(), {})}
                              for n in range(days)}}, ensure_ascii=False))
        return 0
    print(f"# {header}; times in {config.site.timezone}")
    names = list(shifts)
    print(f"{'date':<12}" + "".join(f"{str(shifts[n]):<28}" for n in names) + "roster")
    for n in range(days):
        day = first + timedelta(days=n)
        cells = plan.get(day.isoformat(), {})
        roster = f"#{covered[day]}" if day in covered else "(none)"
        print(f"{day.isoformat():<12}" + "".join(
            f"{', '.join(cells.get(s, [])) or '-':<28}" for s in names) + roster)
    return 0


# --- helpers -----------------------------------------------------------------------------------

class _Session:
    """A runtime and a roster store for one command, closed afterwards."""

    def __init__(self, args: argparse.Namespace, write: bool) -> None:
        from services.cli import load
        from services.runtime import open_existing, open_runtime

        self.config = load(args)
        opener = open_runtime if write else open_existing
        self.rt = opener(self.config, SystemClock())

        self.store = RosterStore.from_runtime(self.rt)

    def __enter__(self) -> "_Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.rt.close()


def _checked(action: Any) -> Any:
    from services.cli import CliError

    try:
        return action()
    except RosterError as exc:
        raise CliError(str(exc)) from None


def _day(text: str, option: str) -> date:
    from services.cli import CliError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{option} {text!r} is not a date such as '2026-12-04'") from None


def _describe(info: RosterInfo) -> str:
    return (f"draft roster #{info.id}, {info.first_day} to {info.last_day}, "
            f"{info.entries} assignments, from {info.source}")
