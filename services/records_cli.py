"""``posjaga guest|equipment|log|handover ...``: the guard post's books at the desk.

    posjaga guest in --name "Rahmat" --org "Bawaslu" --purpose "Rapat" --visit "Kasubag Umum"
    posjaga guest out TAMU-7K3Q9X            # or scan the badge on the desk scanner
    posjaga guest list [--inside] [--date 2026-12-04] [--json]
    posjaga equipment check --by Ani [--broken HT-2="antena patah"] [--missing SENTER-1]
    posjaga equipment inspect APAR-01 --by Ani --pressure ok --seal ok --expires 2027-06-30
    posjaga log add "Listrik padam 10 menit" --by Ani
    posjaga handover start --from Ani --to Budi; posjaga handover confirm --by Budi

Every entry is an event (docs/records.md). A mistake is one sentence and exit status 2.
"""
from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from edge.clock import SystemClock
from edge.records import RecordError, guest_entry, parse_problem
from edge.report import day_window
from edge.timefmt import to_utc_text
from services.records import Guest, Records

Fn = Callable[[argparse.Namespace], int]


def add_parser(sub: Any) -> None:
    _guest(sub)
    _equipment(sub)
    _log(sub)
    _handover(sub)


def _guest(sub: Any) -> None:
    g = sub.add_parser("guest", help="the guest book: sign guests in and out, list them")
    gs = g.add_subparsers(title="actions", metavar="ACTION")
    i = gs.add_parser("in", help="sign a guest in; prints their badge code")
    i.add_argument("--name", required=True, help="the guest's name")
    i.add_argument("--org", help="their organisation")
    i.add_argument("--purpose", required=True, help="the purpose of the visit")
    i.add_argument("--visit", required=True, help="whom they visit")
    i.add_argument("--id-number", help="the number of the ID card they showed, if any")
    i.add_argument("--by", help="the guard who signs them in")
    i.add_argument("--badge-pdf", type=Path, help="also write the badge sticker (PDF) here")
    i.set_defaults(func=_run(cmd_guest_in, write=True))
    o = gs.add_parser("out", help="sign a guest out by badge code or guest number")
    o.add_argument("code", help="the badge code such as TAMU-7K3Q9X, or the guest number")
    o.add_argument("--by", help="the guard who signs them out")
    o.set_defaults(func=_run(cmd_guest_out, write=True))
    ls = gs.add_parser("list", help="the guests of a day, or those inside now")
    ls.add_argument("--inside", action="store_true", help="only guests still inside")
    ls.add_argument("--date", help="a local day such as 2026-12-04 (default today)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_run(cmd_guest_list))
    b = gs.add_parser("badge", help="write a guest's badge sticker (PDF with a barcode)")
    b.add_argument("code", help="the badge code or guest number")
    b.add_argument("--out", type=Path, required=True, help="the PDF file to write")
    b.set_defaults(func=_run(cmd_guest_badge))


def _equipment(sub: Any) -> None:
    e = sub.add_parser("equipment", help="security equipment: inventory, checklist, "
                       "extinguisher inspections")
    es = e.add_subparsers(title="actions", metavar="ACTION")
    ls = es.add_parser("list", help="the inventory with each item's condition and inspection")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_run(cmd_equipment_list))
    c = es.add_parser("check", help="record this shift's checklist; items not named are in order")
    c.add_argument("--by", required=True, help="the guard who checked")
    c.add_argument("--broken", action="append", default=[], metavar="ID[=NOTE]")
    c.add_argument("--missing", action="append", default=[], metavar="ID[=NOTE]")
    c.add_argument("--note", help="a remark on the whole check")
    c.set_defaults(func=_run(cmd_equipment_check, write=True))
    i = es.add_parser("inspect", help="record a fire extinguisher inspection")
    i.add_argument("item", help="the extinguisher's id such as APAR-01")
    i.add_argument("--by", required=True, help="who inspected it")
    i.add_argument("--pressure", required=True, help="the gauge: ok, low or high")
    i.add_argument("--seal", required=True, help="the seal: ok or broken")
    i.add_argument("--expires", required=True, help="the expiry date on the label, such as "
                   "2027-06-30")
    i.add_argument("--next", help="the next inspection date (default: in [equipment] "
                   "inspection_every_days)")
    i.add_argument("--note", help="a remark")
    i.set_defaults(func=_run(cmd_equipment_inspect, write=True))


def _log(sub: Any) -> None:
    lg = sub.add_parser("log", help="the duty log (Buku Mutasi): add an entry, read a day")
    ls = lg.add_subparsers(title="actions", metavar="ACTION")
    a = ls.add_parser("add", help="write an entry")
    a.add_argument("text", help="what happened")
    a.add_argument("--by", required=True, help="the guard who writes it")
    a.set_defaults(func=_run(cmd_log_add, write=True))
    s = ls.add_parser("show", help="a day's entries, the guards' and the system's")
    s.add_argument("--date", help="a report day such as 2026-12-04 (default today)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_run(cmd_log_show))


def _handover(sub: Any) -> None:
    h = sub.add_parser("handover", help="duty handover: the outgoing guard starts it, the "
                       "incoming one confirms (or clocks in on the fingerprint machine)")
    hs = h.add_subparsers(title="actions", metavar="ACTION")
    s = hs.add_parser("start", help="the outgoing guard offers the handover")
    s.add_argument("--from", dest="outgoing", required=True, help="the outgoing guard")
    s.add_argument("--to", dest="incoming", required=True, help="the incoming guard")
    s.add_argument("--note", help="anything the next shift must know")
    s.set_defaults(func=_run(cmd_handover_start, write=True))
    c = hs.add_parser("confirm", help="the incoming guard takes over")
    c.add_argument("--by", required=True, help="the incoming guard")
    c.set_defaults(func=_run(cmd_handover_confirm, write=True))
    x = hs.add_parser("cancel", help="withdraw a handover that is still waiting")
    x.add_argument("--by", required=True, help="who withdraws it")
    x.set_defaults(func=_run(cmd_handover_cancel, write=True))
    st = hs.add_parser("status", help="the handover waiting, if any, and what it would record")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_run(cmd_handover_status))


# --- running a command -----------------------------------------------------------------------

def _run(command: Callable[[Records, argparse.Namespace], int], write: bool = False) -> Fn:
    """Open the store (creating it for entries), run, close; RecordError becomes exit 2."""
    def run(args: argparse.Namespace) -> int:
        from services.cli import CliError, load
        from services.runtime import open_existing, open_runtime

        config = load(args)
        rt = (open_runtime if write else open_existing)(config, SystemClock())
        try:
            return command(Records(rt), args)
        except RecordError as exc:
            raise CliError(str(exc)) from None
        finally:
            rt.close()
    return run


def _day(text: str | None, option: str, records: Records) -> date:
    from services.cli import CliError

    if text is None:
        return records.rt.clock.now().astimezone(records.zone).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{option} {text!r} is not a date such as '2026-12-04'") from None


def _local(records: Records, at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone(records.zone).strftime(fmt) if at else "-"


# --- guests ----------------------------------------------------------------------------------

def cmd_guest_in(records: Records, args: argparse.Namespace) -> int:
    entry = guest_entry(args.name, args.org, args.purpose, args.visit, args.id_number)
    guest = records.sign_in(entry, args.by)
    print(f"guest #{guest.id} {guest.name} signed in at {_local(records, guest.signed_in_at)}; "
          f"badge {guest.badge}")
    if args.badge_pdf:
        _write_badge(records, guest, args.badge_pdf)
    return 0


def cmd_guest_out(records: Records, args: argparse.Namespace) -> int:
    guest = records.sign_out(args.code, args.by)
    print(f"guest #{guest.id} {guest.name or guest.badge} signed out at "
          f"{_local(records, guest.signed_out_at)}")
    return 0


def cmd_guest_list(records: Records, args: argparse.Namespace) -> int:
    if args.inside:
        guests = records.inside()
    else:
        start, end = day_window(_day(args.date, "--date", records),
                                records.config.report.day_starts, records.zone)
        guests = records.visits(start, end)
    if args.json:
        print(json.dumps([_guest_json(g) for g in guests], ensure_ascii=False))
        return 0
    for g in guests:
        out = _local(records, g.signed_out_at, "%H:%M") if g.signed_out_at else "inside"
        print(f"#{g.id:<4} {g.badge:<12} {_local(records, g.signed_in_at)} - {out:<6}  "
              f"{g.name or '(purged)'} ({g.organisation or '-'}) -> {g.host}: {g.purpose or '-'}")
    if not guests:
        print("no guests")
    return 0


def _guest_json(g: Guest) -> dict[str, Any]:
    return {"guest": g.id, "badge": g.badge, "name": g.name, "organisation": g.organisation,
            "purpose": g.purpose, "host": g.host, "id_number": g.id_number,
            "signed_in_at": to_utc_text(g.signed_in_at),
            "signed_out_at": to_utc_text(g.signed_out_at) if g.signed_out_at else None,
            "via": g.signed_out_via, "purged": g.purged_at is not None}


def cmd_guest_badge(records: Records, args: argparse.Namespace) -> int:
    _write_badge(records, records.find_guest(args.code), args.out)
    return 0


def _write_badge(records: Records, guest: Guest, path: Path) -> None:
    from services.cli import CliError
    from services.guest_badge import badge_pdf

    site = records.config.site
    data = badge_pdf(guest.badge, site.name or site.id, guest.signed_in_at, records.zone,
                     guest.host)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CliError(f"{path}: cannot be written ({exc.strerror})") from None
    print(f"badge sticker for {guest.badge}: {path}")


# --- equipment -------------------------------------------------------------------------------

def cmd_equipment_list(records: Records, args: argparse.Namespace) -> int:
    items = [s.public() for s in records.inventory()]
    if args.json:
        print(json.dumps(items, ensure_ascii=False))
        return 0
    if not items:
        print("the inventory is empty; list the items in [[equipment.items]]")
    for i in items:
        alerts = f"  ALERT: {', '.join(i['alerts'])}" if i["alerts"] else ""
        print(f"{i['id']:<12} {i['name']:<24} {i['condition']:<10} next inspection "
              f"{i['next_inspection'] or '-':<10} {i['location'] or ''}{alerts}")
    return 0


def cmd_equipment_check(records: Records, args: argparse.Namespace) -> int:
    known = list(records.items)
    problems = [parse_problem(x, "broken", known) for x in args.broken] + \
        [parse_problem(x, "missing", known) for x in args.missing]
    ids = [p.item for p in problems]
    if len(set(ids)) != len(ids):
        raise RecordError("an item is named twice; give each item once with --broken or "
                          "--missing")
    event = records.check(args.by, problems, args.note)
    counts = event.payload["counts"]
    print(f"checklist of shift {event.payload['shift']} by {event.payload['by']}: "
          f"{counts['ok']} ok, {counts['broken']} broken, {counts['missing']} missing")
    return 0


def cmd_equipment_inspect(records: Records, args: argparse.Namespace) -> int:
    expires = _date_arg(args.expires, "--expires")
    nxt = _date_arg(args.next, "--next") if args.next else None
    event = records.inspect(args.item, args.by, args.pressure.strip().lower(),
                            args.seal.strip().lower(), expires, nxt, args.note)
    p = event.payload
    verdict = "passed" if p["ok"] else f"FAILED ({', '.join(p['problems'])})"
    print(f"{p['item']} inspected by {p['by']}: {verdict}; next inspection "
          f"{p['next_inspection']}")
    return 0


def _date_arg(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RecordError(f"{option} {text!r} is not a date such as '2027-06-30'") from None


# --- duty log --------------------------------------------------------------------------------

def cmd_log_add(records: Records, args: argparse.Namespace) -> int:
    event = records.add_entry(args.text, args.by)
    print(f"entry recorded at {_local(records, event.occurred_at)} by {event.payload['by']}")
    return 0


def cmd_log_show(records: Records, args: argparse.Namespace) -> int:
    day = _day(args.date, "--date", records)
    start, end = day_window(day, records.config.report.day_starts, records.zone)
    lines = records.log(start, end)
    if args.json:
        print(json.dumps(lines, ensure_ascii=False))
        return 0
    for x in lines:
        at = _local(records, datetime.fromisoformat(x["at"].replace("Z", "+00:00")), "%H:%M")
        print(f"{at}  {x['by'] or 'posjaga':<12} {x['text']}")
    if not lines:
        print(f"no entries for {day}")
    return 0


# --- handover --------------------------------------------------------------------------------

def cmd_handover_start(records: Records, args: argparse.Namespace) -> int:
    h = records.start_handover(args.outgoing, args.incoming, args.note)
    print(f"handover #{h.id} from {h.outgoing} to {h.incoming} ({h.shift}) is waiting for "
          f"{h.incoming}: 'posjaga handover confirm --by \"{h.incoming}\"' or their "
          "fingerprint punch")
    return 0


def cmd_handover_confirm(records: Records, args: argparse.Namespace) -> int:
    event = records.confirm_handover(args.by)
    p = event.payload
    print(f"handover #{p['handover']} confirmed: {p['outgoing']} -> {p['incoming']}; "
          f"{len(p['guests_inside'])} guests inside, {len(p['open_findings'])} open findings")
    return 0


def cmd_handover_cancel(records: Records, args: argparse.Namespace) -> int:
    h = records.cancel_handover(args.by)
    print(f"handover #{h.id} from {h.outgoing} to {h.incoming} cancelled")
    return 0


def cmd_handover_status(records: Records, args: argparse.Namespace) -> int:
    pending = records.pending_handover()
    snapshot = records.snapshot(records.rt.clock.now())
    if args.json:
        print(json.dumps({"pending": pending.public() if pending else None,
                          "snapshot": snapshot}, ensure_ascii=False))
        return 0
    if pending is None:
        print("no handover is waiting")
    else:
        print(f"handover #{pending.id} from {pending.outgoing} to {pending.incoming} waiting "
              f"since {_local(records, pending.started_at)}")
    print(f"now: {len(snapshot['guests_inside'])} guests inside, "
          f"{len(snapshot['open_findings'])} open findings")
    return 0


__all__ = ["add_parser"]
