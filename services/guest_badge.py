"""A guest's badge as a printable sticker: Code 39 barcode, the code in clear, the date.

Code 39 is read by every serial barcode scanner out of the box (no check digit, no
configuration); the sticker is 62 x 29 mm, the size of common label-printer rolls.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

from edge.report_pdf import latin1

WIDTH, HEIGHT = 62.0, 29.0
_WIDE = 0.75  # wide bar in mm (fpdf2 draws narrow bars a third of it): TAMU-XXXXXX is 52 mm


def badge_pdf(code: str, site_name: str, signed_in_at: datetime, zone: ZoneInfo,
              host: str) -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format=(HEIGHT, WIDTH))
    pdf.set_margins(2, 2, 2)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 7)
    pdf.set_xy(2, 1.5)
    pdf.cell(WIDTH - 4, 3, latin1(f"TAMU / GUEST - {site_name}"), align="C")
    bars = _width(code)
    pdf.code39(f"*{code}*", x=(WIDTH - bars) / 2, y=5.5, w=_WIDE, h=12)
    pdf.set_font("Helvetica", "B", 10)
    pdf.set_xy(2, 18.5)
    pdf.cell(WIDTH - 4, 4, code, align="C")
    pdf.set_font("Helvetica", "", 6.5)
    pdf.set_xy(2, 23)
    local = signed_in_at.astimezone(zone)
    pdf.cell(WIDTH - 4, 3, latin1(f"{local:%d/%m/%Y %H:%M} - {host}"), align="C")
    return bytes(pdf.output())


def _width(code: str) -> float:
    """Printed width of ``*code*``: per character 3 wide and 6 narrow bars and a narrow gap,
    that is 16 narrow widths."""
    return (len(code) + 2) * 16 * _WIDE / 3


__all__ = ["badge_pdf"]
