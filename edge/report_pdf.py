"""The daily security report as an A4 PDF a supervisor prints and signs (fpdf2, pure Python).

The timeline picture is drawn with fpdf2's own primitives (rectangles, lines, text). The
built-in Helvetica keeps the file small and needs no font on the Pi; it covers Latin-1, so
other characters are folded to their closest Latin-1 form (names in Palu are Latin script).
"""
from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.fonts import FontFace

from edge.report_text import long_date, short_date, t
from edge.timefmt import from_utc_text

Data = Mapping[str, Any]
_GREEN, _ORANGE, _RED = (46, 139, 87), (230, 140, 40), (200, 45, 45)
_BLUE, _YELLOW, _GREY = (50, 100, 190), (235, 190, 30), (150, 150, 150)
_HEAD = FontFace(emphasis="BOLD", fill_color=(225, 230, 238))
_MARGIN = 15.0
_FOLD = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
         "\u201d": '"', "\u2026": "...", "\u2022": "-"}


def latin1(text: Any) -> str:
    """Text Helvetica can print: known punctuation mapped, accents kept, the rest folded."""
    s = "".join(_FOLD.get(c, c) for c in str(text))
    if all(ord(c) < 256 for c in s):
        return s
    folded = unicodedata.normalize("NFKD", s)
    return "".join(c if ord(c) < 256 else "?" for c in folded if not unicodedata.combining(c))


class _Doc(FPDF):
    def __init__(self, report: Data, zone: ZoneInfo, language: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report, self.zone, self.lang = report, zone, language
        self.set_margins(_MARGIN, 14, _MARGIN)
        self.set_auto_page_break(True, margin=16)
        self.alias_nb_pages()
        self.set_title(latin1(f"{t('title', language)} {report['date']}"))
        self.set_author("posjaga")
        self.set_creation_date(from_utc_text(report["generated_at"]))

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90)
        text = f"{t('title', self.lang)} - {self.report['site_name']} - {self.report['date']}"
        self.cell(0, 5, latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90)
        made = t("made", self.lang, at=self.local(self.report["generated_at"], "%d/%m/%Y %H:%M"))
        self.cell(0, 5, latin1(made), align="L")
        self.set_x(_MARGIN)
        page = t("page", self.lang, n=self.page_no(), total="{nb}")
        self.cell(0, 5, latin1(page), align="R")
        self.set_text_color(0)

    def local(self, utc: str | None, fmt: str = "%H:%M") -> str:
        if not utc:
            return "-"
        return from_utc_text(utc).astimezone(self.zone).strftime(fmt)

    # --- building blocks -----------------------------------------------------------------

    def section(self, key: str) -> None:
        if self.will_page_break(24):
            self.add_page()
        self.ln(3)
        self.set_font("Helvetica", "B", 11)
        self.set_fill_color(34, 60, 110)
        self.set_text_color(255)
        self.cell(0, 6.5, latin1(" " + t(key, self.lang)), fill=True, new_x="LMARGIN",
                  new_y="NEXT")
        self.set_text_color(0)
        self.ln(1.5)

    def para(self, text: str, size: float = 9, style: str = "",
             color: tuple[int, int, int] | None = None) -> None:
        self.set_font("Helvetica", style, size)
        if color:
            self.set_text_color(*color)
        self.multi_cell(0, size * 0.48, latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0)

    def plain_table(self, widths: Sequence[float]) -> Any:
        """A table without headings (the summary's label/value pairs)."""
        self.set_fill_color(255)  # table cells take the current fill colour
        return self.table(col_widths=tuple(widths), first_row_as_headings=False,
                          text_align="LEFT", line_height=4.2, width=self.epw, padding=0.8)

    def grid(self, headings: Sequence[str], rows: Sequence[Sequence[Any]],
             widths: Sequence[float]) -> None:
        """A table with headings in the report's language; empty values print '-'."""
        self.set_font("Helvetica", "", 8)
        self.set_fill_color(255)
        with self.table(col_widths=tuple(widths), headings_style=_HEAD, line_height=4,
                           text_align="LEFT", width=self.epw, padding=0.8) as table:
            head = table.row()
            for h in headings:
                head.cell(latin1(t(h, self.lang)))
            for values in rows:
                row = table.row()
                for v in values:
                    row.cell(latin1("-" if v is None or v == "" else v))
        self.ln(1.5)


# --- the document ------------------------------------------------------------------------------

def render_pdf(report: Data, zone: ZoneInfo, language: str | None = None) -> bytes:
    lang = language or report.get("language", "id")
    doc = _Doc(report, zone, lang)
    doc.add_page()
    _title(doc)
    for part in (_summary, _timeline, _attendance, _patrol, _guests, _equipment, _lamp_radio,
                 _handovers, _duty_log, _alerts, _devices, _signatures):
        part(doc)
    return bytes(doc.output())


def _title(d: _Doc) -> None:
    r = d.report
    d.set_font("Helvetica", "B", 13)
    d.cell(0, 6, latin1(r["site_name"].upper()), align="C", new_x="LMARGIN", new_y="NEXT")
    d.set_font("Helvetica", "", 9)
    d.cell(0, 5, latin1(t("unit", d.lang)), align="C", new_x="LMARGIN", new_y="NEXT")
    y = d.get_y() + 1.5
    d.set_line_width(0.6)
    d.line(_MARGIN, y, d.w - _MARGIN, y)
    d.set_line_width(0.2)
    d.line(_MARGIN, y + 1, d.w - _MARGIN, y + 1)
    d.set_y(y + 3)
    d.set_font("Helvetica", "B", 14)
    d.cell(0, 7, latin1(t("title", d.lang)), align="C", new_x="LMARGIN", new_y="NEXT")
    d.set_font("Helvetica", "", 9.5)
    day = date.fromisoformat(r["date"])
    p = r["period"]
    period = (f"{d.local(p['start'], '%d/%m/%Y %H:%M')} - {d.local(p['end'], '%d/%m/%Y %H:%M')} "
              f"{_zone_abbr(d.zone, p['start'])}")
    d.cell(0, 5, latin1(f"{t('day', d.lang)}: {long_date(day, d.lang)}    "
                        f"{t('period', d.lang)}: {period}"),
           align="C", new_x="LMARGIN", new_y="NEXT")
    d.ln(1)
    _notices(d)


def _zone_abbr(zone: ZoneInfo, utc: str) -> str:
    return from_utc_text(utc).astimezone(zone).tzname() or zone.key


def _notices(d: _Doc) -> None:
    """Why the figures may be short: the day is running, posjaga was down, sources missing."""
    r, lines = d.report, []
    cov = r["coverage"]
    if cov["in_progress"]:
        lines.append(t("in_progress", d.lang, at=d.local(r["generated_at"], "%d/%m %H:%M")))
    if not cov["known"]:
        lines.append(t("unknown_cov", d.lang))
    for g in cov["gaps"]:
        who = f" [{', '.join(g['services'])}]" if g.get("services") else ""
        lines.append(t("gap", d.lang, start=d.local(g["start"], "%d/%m %H:%M"),
                       end=d.local(g["end"], "%d/%m %H:%M"), reason=t(f"gap_{g['reason']}",
                                                                       d.lang) + who))
    titles = {"attendance": "s_attendance", "patrol": "s_patrol", "equipment": "s_equipment",
              "lamp": "l_lamp", "radio": "l_radio"}
    missing = [t(key, d.lang).split(". ", 1)[-1] for name, key in titles.items()
               if not r[name].get("available", True)]
    if missing:
        lines.append(t("missing_sections", d.lang, names=", ".join(missing)))
    if not lines:
        return
    d.set_draw_color(*_ORANGE)
    d.set_fill_color(253, 243, 226)
    d.set_font("Helvetica", "B", 9)
    text = f"{t('notice_incomplete', d.lang)}: " + " ".join(lines)
    d.multi_cell(0, 4.5, latin1(text), border=1, fill=True, padding=1.5, new_x="LMARGIN",
                 new_y="NEXT")
    d.set_draw_color(0)
    d.ln(1)


def _n(value: Any, lang: str) -> str:
    return t("no_data", lang) if value is None else str(value)


def _summary(d: _Doc) -> None:
    s, lang = d.report["summary"], d.lang
    rounds = None if s["rounds"] is None else f"{s['rounds_complete']}/{s['rounds']}"
    missed = None if s["rounds"] is None else f"{s['rounds_missed']}/{s['rounds_incomplete']}"
    radio = None if s["radio_rx"] is None else f"{s['radio_rx']}/{s['radio_tx']}"
    pairs = [("f_late", s["late"]), ("f_absent", s["absent"]),
             ("f_left_early", s["left_early"]), ("f_no_clock_out", s["no_clock_out"]),
             ("f_rounds", rounds), ("f_rounds_missed", missed),
             ("f_checkpoints_missed", s["checkpoints_missed"]), ("f_findings", s["findings"]),
             ("f_guests", s["guests"]), ("f_guests_inside", s["guests_inside_at_end"]),
             ("f_equipment_checks", s["equipment_checks"]),
             ("f_equipment_alerts", s["equipment_alerts"]), ("f_lamp", s["lamp_on_hours"]),
             ("f_radio", radio), ("f_handovers", s["handovers"]), ("f_duty_log", s["duty_log"]),
             ("f_alerts", s["alerts"]),
             ("f_outages", f"{s['device_outages']}/{s['service_gaps']}")]
    d.section("s_summary")
    d.set_font("Helvetica", "", 8.5)
    half = (len(pairs) + 1) // 2
    with d.plain_table((58, 32, 58, 32)) as table:
        for i in range(half):
            row = table.row()
            for key, value in pairs[i::half][:2]:
                row.cell(latin1(t(key, lang)))
                row.cell(latin1(_n(value, lang)), align="RIGHT",
                         style=FontFace(emphasis="BOLD") if value not in (0, None, "0/0") else None)
    d.ln(1)


# --- the timeline picture --------------------------------------------------------------------

def _timeline(d: _Doc) -> None:
    tl = d.report["timeline"]
    d.section("s_timeline")
    lanes = [("l_shift", 7), ("l_patrol", 7), ("l_radio", 10), ("l_lamp", 5), ("l_guests", 7),
             ("l_alerts", 5), ("l_service", 5)]
    height = sum(h + 1.5 for _, h in lanes) + 8
    if d.will_page_break(height + 10):
        d.add_page()
    pic = _Picture(d, tl, d.get_y())
    for key, h in lanes:
        pic.lane(key, h)
    pic.axis()
    d.set_y(pic.y + 7)
    d.para(t("legend", d.lang), size=7, color=(80, 80, 80))


class _Picture:
    """A 24 h strip chart: one lane per source, hours along the bottom."""

    LABEL = 20.0

    def __init__(self, d: _Doc, tl: Data, top: float) -> None:
        self.d, self.tl, self.y, self.top = d, tl, top, top
        self.start, self.end = from_utc_text(tl["start"]), from_utc_text(tl["end"])
        self.until = from_utc_text(tl["drawn_until"])
        self.x0 = _MARGIN + self.LABEL
        self.width = d.w - _MARGIN - self.x0

    def x(self, at: str | datetime | None) -> float:
        when = self.until if at is None else from_utc_text(at) if isinstance(at, str) else at
        share = (when - self.start) / (self.end - self.start)
        return self.x0 + self.width * min(1.0, max(0.0, share))

    def lane(self, key: str, h: float) -> None:
        d = self.d
        d.set_font("Helvetica", "B", 7)
        d.set_xy(_MARGIN, self.y + h / 2 - 2)
        d.cell(self.LABEL - 1, 4, latin1(t(key, d.lang)))
        d.set_draw_color(200)
        d.set_fill_color(248, 248, 248)
        d.rect(self.x0, self.y, self.width, h, style="DF")
        d.set_draw_color(0)
        getattr(self, key[2:])(self.y, h)
        self.y += h + 1.5

    def shift(self, y: float, h: float) -> None:
        colours = [(214, 226, 245), (226, 214, 240)]
        for i, s in enumerate(self.tl["shifts"]):
            a, b = self.x(s["start"]), self.x(s["end"])
            self.d.set_fill_color(*colours[i % 2])
            self.d.rect(a, y, b - a, h, style="DF")
            label = f"{s['shift']}: {', '.join(s['guards'])}" if s["guards"] else s["shift"]
            self._text(a + 1, y + h / 2 - 1.8, b - a - 2, label)

    def patrol(self, y: float, h: float) -> None:
        for r in self.tl["rounds"]:
            colour = _GREEN if r["outcome"] == "complete" and not r["late"] else \
                _ORANGE if r["outcome"] == "complete" else _RED
            self.d.set_fill_color(*colour)
            if r["started_at"]:
                a, b = self.x(r["started_at"]), self.x(r["ended_at"])
                self.d.rect(a, y + 1, max(b - a, 1.2), h - 2, style="F")
            else:  # missed: a red mark at the time it was due
                self.d.rect(self.x(r["due_at"]) - 0.6, y + 1, 1.2, h - 2, style="F")

    def radio(self, y: float, h: float) -> None:
        hourly = self.tl["radio_hourly"]
        if not hourly:
            self._text(self.x0 + 2, y + h / 2 - 1.8, 60, t("no_data", self.d.lang))
            return
        top = max(hourly) or 1
        step = self.width / len(hourly)
        self.d.set_fill_color(*_BLUE)
        for i, n in enumerate(hourly):
            if n:
                bar = (h - 1.5) * n / top
                self.d.rect(self.x0 + i * step + 0.4, y + h - bar, step - 0.8, bar, style="F")
        self.d.set_font("Helvetica", "", 6)
        self.d.set_xy(self.x0 + 1, y + 0.3)
        self.d.cell(20, 2.5, f"max {top}/h")

    def lamp(self, y: float, h: float) -> None:
        self.d.set_fill_color(*_YELLOW)
        for a, b in self.tl["lamp_on"]:
            self.d.rect(self.x(a), y + 0.8, self.x(b) - self.x(a), h - 1.6, style="F")

    def guests(self, y: float, h: float) -> None:
        rows = 3
        self.d.set_fill_color(120, 160, 120)
        for i, (a, b) in enumerate(self.tl["guests"]):
            row_y = y + 0.6 + (i % rows) * (h - 1.2) / rows
            self.d.rect(self.x(a), row_y, max(self.x(b) - self.x(a), 0.8),
                        (h - 1.2) / rows - 0.4, style="F")

    def alerts(self, y: float, h: float) -> None:
        self.d.set_fill_color(*_RED)
        for a in self.tl["alerts"]:
            x = self.x(a["at"])
            self.d.polygon([(x, y + 0.6), (x - 1.3, y + h - 0.6), (x + 1.3, y + h - 0.6)],
                           style="F")

    def service(self, y: float, h: float) -> None:
        d = self.d
        for a, b in self.tl["gaps"]:
            xa, xb = self.x(a), self.x(b)
            d.set_fill_color(*_GREY)
            d.rect(xa, y, xb - xa, h, style="F")
            d.set_draw_color(255)
            x = xa + 1.5
            while x < xb:  # hatching
                d.line(x, y + h, min(x + h, xb), y)
                x += 2.0
            d.set_draw_color(0)
        if self.until < self.end:  # the rest of a day still running: not yet known
            d.set_fill_color(225, 225, 225)
            d.rect(self.x(self.until), y, self.x(self.end) - self.x(self.until), h, style="F")

    def axis(self) -> None:
        d = self.d
        d.set_draw_color(120)
        hours = round((self.end - self.start).total_seconds() / 3600)
        d.set_font("Helvetica", "", 6.5)
        for i in range(0, hours + 1):
            x = self.x0 + self.width * i / hours
            d.set_draw_color(215 if i % 3 else 150)
            d.line(x, self.top, x, self.y)
            if i % 3 == 0:
                label = (self.start.astimezone(d.zone) + (self.end - self.start) * i / hours)
                d.set_xy(x - 5, self.y + 0.3)
                d.cell(10, 3, label.strftime("%H:%M"), align="C")
        d.set_draw_color(0)

    def _text(self, x: float, y: float, w: float, text: str) -> None:
        if w < 6:
            return
        d = self.d
        d.set_font("Helvetica", "", 6.5)
        d.set_xy(x, y)
        fitted = latin1(text)
        while fitted and d.get_string_width(fitted) > w:
            fitted = fitted[:-2] + "~" if len(fitted) > 2 else ""
        d.cell(w, 3.6, fitted)


# --- the sections ----------------------------------------------------------------------------

def _unavailable(d: _Doc, section: Data) -> bool:
    if section.get("available", True):
        return False
    d.para(t("no_data", d.lang).capitalize() + ".", style="I", color=(150, 60, 0))
    return True


def _attendance(d: _Doc) -> None:
    a, lang = d.report["attendance"], d.lang
    d.section("s_attendance")
    if _unavailable(d, a):
        return
    if a["roster"] != "approved":
        d.para(t("roster_none", lang), style="I")
    if a["shifts"]:
        d.grid(("c_shift", "c_time", "c_guards"),
               [(s["shift"], f"{d.local(s['start'], '%d/%m %H:%M')} - "
                 f"{d.local(s['end'], '%d/%m %H:%M')}", ", ".join(s["guards"]))
                for s in a["shifts"]], (30, 50, 100))
    if a["outcomes"]:
        d.grid(("c_guard", "c_shift", "c_outcome", "c_minutes", "c_punch"),
               [(o["guard"], o["shift"], t(o["outcome"], lang) if o["outcome"] else "-",
                 o["minutes"], d.local(o["punch_at"])) for o in a["outcomes"]],
               (45, 30, 50, 20, 35))


def _patrol(d: _Doc) -> None:
    p, lang = d.report["patrol"], d.lang
    d.section("s_patrol")
    if _unavailable(d, p):
        return
    d.grid(("c_due", "c_guard", "c_result", "c_span", "c_missing"),
           [(d.local(r["due_at"]), r["guard"],
             t(r["outcome"], lang)
             + (t("late_suffix", lang) if r["late"] and r["outcome"] == "complete" else "")
             + (t("service_down", lang) if r["service_down"] else ""),
             f"{d.local(r['started_at'])} - {d.local(r['ended_at'])}",
             ", ".join(r["missing"]) or t("none", lang)) for r in p["rounds"]],
           (16, 32, 40, 26, 66))
    if p["findings"]:
        d.grid(("c_at", "c_place", "c_finding", "c_guard"),
               [(d.local(f["at"]), f"{f['name']}" + (f" ({f['room']})" if f["room"] else ""),
                 f"{_state(f['state'], lang)}: {f['note']}", f["guard"])
                for f in p["findings"]], (16, 52, 80, 32))


def _state(state: str | None, lang: str) -> str:
    """A room's state after a patrol finding, in words."""
    known = ("secure", "electronics_off", "door_locked", "problem")
    return t(state, lang) if state in known else str(state)


def _guests(d: _Doc) -> None:
    g, lang = d.report["guests"], d.lang
    d.section("s_guests")
    if not g["visits"]:
        d.para(t("none", lang).capitalize() + ".")
        return
    d.grid(("c_badge", "c_name", "c_org", "c_purpose", "c_host", "c_in", "c_out"),
           [(v["badge"], v["name"] if not v["purged"] else t("purged", lang),
             v["organisation"], v["purpose"], v["host"], d.local(v["signed_in_at"],
                                                                "%d/%m %H:%M"),
             d.local(v["signed_out_at"], "%H:%M") if v["signed_out_at"] else t("inside", lang))
            for v in g["visits"]], (24, 30, 28, 36, 26, 18, 18))
    names = {v["guest"]: v["name"] or v["badge"] for v in g["visits"]}
    for end in g["inside_at_shift_end"]:
        if end["guests"]:
            d.para(t("inside_at_end", lang, shift=end["shift"],
                     names=", ".join(names.get(x, str(x)) for x in end["guests"])),
                   style="B", color=_RED)


def _equipment(d: _Doc) -> None:
    e, lang = d.report["equipment"], d.lang
    d.section("s_equipment")
    if _unavailable(d, e):
        return
    d.grid(("c_code", "c_item", "c_location", "c_condition", "c_next", "c_alerts"),
           [(i["id"], i["name"], i["location"], t(i["condition"], lang), i["next_inspection"],
             ", ".join(t(a, lang) for a in i["alerts"]) or "-") for i in e["inventory"]],
           (20, 40, 40, 24, 24, 32))
    if e["checks"]:
        d.grid(("c_at", "c_guard", "c_shift", "c_result"),
               [(d.local(c["at"]), c["by"], c["shift"], _check_result(c, lang))
                for c in e["checks"]], (16, 34, 34, 96))
    if e.get("shifts_without_check"):
        d.para(t("checks_missing", lang, names=", ".join(e["shifts_without_check"])),
               color=_RED)
    for i in e["inspections"]:
        d.para(t("inspection_row", lang, at=d.local(i["at"]), item=i["item"],
                 location=i["location"] or "-", by=i["by"], pressure=t(i["pressure"], lang)
                 if i["pressure"] == "ok" else i["pressure"], seal=t(i["seal"], lang)
                 if i["seal"] in ("ok", "broken") else i["seal"], expires=i["expires"],
                 result=t("passed" if i["ok"] else "failed", lang), next=i["next_inspection"]),
               size=8.5)


def _check_result(c: Data, lang: str) -> str:
    counts = c.get("counts") or {}
    bad = "; ".join(f"{x['id']} {t(x['state'], lang)}" + (f" ({x['note']})" if x.get("note")
                                                          else "") for x in c["problems"])
    return f"{t('ok', lang)}: {counts.get('ok', 0)}" + (f"; {bad}" if bad else "")


def _lamp_radio(d: _Doc) -> None:
    lamp, radio, lang = d.report["lamp"], d.report["radio"], d.lang
    d.section("s_lamp_radio")
    if lamp["available"]:
        d.para(t("lamp_line", lang, hours=lamp["on_hours"], switches=lamp["switches"],
                 partial=t("lamp_partial", lang) if lamp.get("partial") else ""))
    else:
        d.para(f"{t('l_lamp', lang)}: {t('no_data', lang)}.", style="I", color=(150, 60, 0))
    if radio["available"]:
        chatter = t("chatter", lang, n=radio["chatter"]) if radio.get("chatter") else ""
        d.para(t("radio_line", lang, rx=radio["rx"]["count"], rxs=radio["rx"]["seconds"],
                 tx=radio["tx"]["count"], txs=radio["tx"]["seconds"], chatter=chatter,
                 alerts=radio["alerts"]))
    else:
        d.para(f"{t('l_radio', lang)}: {t('no_data', lang)}.", style="I", color=(150, 60, 0))


def _handovers(d: _Doc) -> None:
    h, lang = d.report["handovers"], d.lang
    d.section("s_handovers")
    if not h["confirmed"]:
        d.para(t("none", lang).capitalize() + ".")
    else:
        d.grid(("c_at", "c_from", "c_to", "c_via", "c_inside", "c_open"),
               [(d.local(x["at"]), x["outgoing"], x["incoming"], t(x["via"], lang),
                 ", ".join(g.get("name") or g["badge"] for g in x["guests_inside"])
                 or t("none", lang), _findings_text(x["open_findings"], lang))
                for x in h["confirmed"]], (16, 28, 28, 22, 40, 46))
    if h["unconfirmed"]:
        d.para(t("handover_unconfirmed", lang, n=h["unconfirmed"]), color=_RED)


def _findings_text(findings: Sequence[Data], lang: str) -> str:
    parts = []
    for f in findings:
        if f["kind"] == "equipment":
            parts.append(f"{f['item']}: {t(f['alert'], lang)}")
        else:
            parts.append(f"{f.get('name') or f['checkpoint']}: {f.get('note') or f.get('state')}")
    return "; ".join(parts) or t("none", lang)


def _duty_log(d: _Doc) -> None:
    lines, lang = d.report["duty_log"], d.lang
    d.section("s_duty_log")
    if not lines:
        d.para(t("none", lang).capitalize() + ".")
        return
    d.grid(("c_at", "c_by", "c_text"),
           [(d.local(x["at"]), x["by"] or "posjaga", x["text"]) for x in lines], (16, 30, 134))


def _alerts(d: _Doc) -> None:
    alerts, lang = d.report["alerts"], d.lang
    d.section("s_alerts")
    if not alerts:
        d.para(t("none", lang).capitalize() + ".")
        return
    d.grid(("c_at", "c_source", "c_text"),
           [(d.local(a["at"]), a["kind"].split(".")[0], a["message"] or a["alert"])
            for a in alerts], (16, 24, 140))


def _devices(d: _Doc) -> None:
    dev, lang = d.report["devices"], d.lang
    d.section("s_devices")
    rows = [("posjaga", f"{d.local(g['start'], '%d/%m %H:%M')} - "
             f"{d.local(g['end'], '%d/%m %H:%M')}", _duration(g["seconds"]),
             t(f"gap_{g['reason']}", lang)) for g in dev["service_gaps"]]
    rows += [(o["device"], f"{d.local(o['start'], '%d/%m %H:%M')} - "
              + (d.local(o["end"], "%d/%m %H:%M") if o["end"] else t("still_down", lang)),
              _duration(o["seconds"]), o["detail"]) for o in dev["outages"]]
    if rows:
        d.grid(("c_device", "c_time", "c_duration", "c_detail"), rows, (36, 50, 20, 74))
    else:
        d.para(t("none", lang).capitalize() + ".")
    dl = dev["delivery"]
    d.para(t("delivery", lang, events=dl["events"], unsent=dl["unsent"], late=dl["late"],
             delay=_duration(dl["max_delay_s"])))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    return f"{minutes // 60} j {minutes % 60:02d} m" if minutes >= 60 else f"{minutes} m"


def _signatures(d: _Doc) -> None:
    lang = d.lang
    if d.will_page_break(52):
        d.add_page()
    d.ln(6)
    signers = list(d.report.get("signers") or []) + ["", "", ""]
    made = from_utc_text(d.report["generated_at"]).astimezone(d.zone).date()
    col = d.epw / 3
    top = d.get_y()
    d.set_font("Helvetica", "", 9.5)
    d.set_xy(_MARGIN + 2 * col, top)
    d.cell(col, 5, latin1(t("place_date", lang, date=short_date(made, lang))), align="C")
    heads = [("sig_made", "role_danru"), ("sig_checked", "role_pj"),
             ("sig_known", "role_kasubag")]
    for i, (head, role) in enumerate(heads):
        x = _MARGIN + i * col
        d.set_xy(x, top + 6)
        d.cell(col, 5, latin1(t(head, lang)), align="C")
        d.set_xy(x, top + 11)
        d.set_font("Helvetica", "B", 9.5)
        d.cell(col, 5, latin1(t(role, lang)), align="C")
        d.set_font("Helvetica", "", 9.5)
        d.set_xy(x, top + 36)
        name = signers[i] or "." * 34
        d.cell(col, 5, latin1(f"( {name} )"), align="C")
    d.set_y(top + 44)


__all__ = ["latin1", "render_pdf"]
