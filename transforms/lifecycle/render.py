"""An issued billing document (invoice, credit note, debit note) as a PDF a customer and an auditor accept.

``issued_pdf`` is a pure function of its arguments: the same document and lines give the same bytes on
every call, on every machine, on any day. To that end:

- reportlab renders in invariant mode: a fixed creation date and a document ID derived from the content,
  never from the clock or a random number.
- Streams are stored uncompressed, so the bytes do not depend on the zlib build of the machine.
- The text is set in Bitstream Vera (``Vera.ttf``, ``VeraBd.ttf``), which ships inside the reportlab
  wheel and is embedded as a subset: no system font is looked up, and no text shaping library is used
  even where one is installed.
- reportlab's settings that it reads while rendering (which its ``RL_*`` environment variables and
  settings files can change) are held at the values reportlab ships with, for the length of a rendering.
- Dates are ISO 8601 (``2026-09-30``); money, prices and quantities come from ``marts.formatting``, so
  they read as on the HTML invoices, whatever the process locale.

Every page carries the document number and ``Page i of n``; the table of lines repeats its header on
each page.

Limitation: Vera draws Latin-1 and a little more (``Zürich``, ``café``, ``€``, ``–``), not CJK, Cyrillic
or emoji. A character it cannot draw is replaced by its base letter where Unicode decomposes it into one
(``ș`` is shown as ``s``), else by ``?``; the renderer never fails on text.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab import rl_config, rl_settings
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from transforms.marts.formatting import format_money, format_quantity, format_unit_price

TITLES = {"invoice": "Invoice", "credit_note": "Credit note", "debit_note": "Debit note"}
FONT, BOLD = "TallyVera", "TallyVera-Bold"
MARGIN = 18 * mm
COLUMN_WIDTHS = (70 * mm, 30 * mm, 36 * mm, 38 * mm)

_PINNED = {"invariant": 1, "pageCompression": 0}
_lock = threading.Lock()
_drawable: frozenset[int] = frozenset()

_text = ParagraphStyle("text", fontName=FONT, fontSize=9, leading=11.5)
_title = ParagraphStyle("title", parent=_text, fontName=BOLD, fontSize=18, leading=22, spaceAfter=4 * mm)
_cell = ParagraphStyle("cell", parent=_text, fontSize=8.5, leading=10.5)
_number = ParagraphStyle("number", parent=_cell, alignment=TA_RIGHT)
_head = ParagraphStyle("head", parent=_cell, fontName=BOLD)
_head_number = ParagraphStyle("head_number", parent=_number, fontName=BOLD)


def issued_pdf(document: Mapping, lines: Sequence[Mapping]) -> bytes:
    """The PDF of one issued document, as bytes.

    ``document``: number, kind (``invoice`` | ``credit_note`` | ``debit_note``), issue_date, due_date,
    period_start, period_end (exclusive: the period shown ends the day before), currency, total, corrects
    (for a note, the number of the invoice it corrects), issuer_name, issuer_address (may hold newlines),
    issuer_tax_id, customer_id, customer_name, customer_address, customer_tax_id; addresses and tax ids
    may be None. ``lines``, shown in the order given: metric_id, kind, tier (None ok), unit_price,
    quantity, amount, event_count, and optionally unit (what the quantity counts, shown after it).

    ValueError for an unknown kind, a note that names no invoice it corrects, or a total that is not the
    sum of the line amounts (such a document must never reach a customer); the formatting helpers raise
    for an unknown currency or an amount with more digits than the currency's minor unit."""
    kind, number, currency = document["kind"], document["document_number"], document["currency"]
    if kind not in TITLES:
        raise ValueError(f"{number}: unknown document kind {kind!r}")
    if kind != "invoice" and not document.get("corrects"):
        raise ValueError(f"{number}: a {TITLES[kind].lower()} must name the invoice it corrects")
    if sum((line["amount"] for line in lines), Decimal(0)) != document["total"]:
        raise ValueError(f"{number}: the total is not the sum of the line amounts")
    with _reportlab_defaults():
        _register_fonts()
        story = _story(document, lines, currency)
        out = BytesIO()
        SimpleDocTemplate(
            out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 6 * mm,
            bottomMargin=MARGIN + 6 * mm, invariant=1, pageCompression=0, lang="en",
            title=_clean(f"{TITLES[kind]} {number}"), author=_clean(document["issuer_name"]),
            subject="", creator="tally", keywords="",
        ).build(story, canvasmaker=_numbered_canvas(_clean(f"{TITLES[kind]} {number}")))
    return out.getvalue()


def _story(document: Mapping, lines: Sequence[Mapping], currency: str) -> list:
    title = TITLES[document["kind"]]
    issuer = [f"<b>{_markup(document['issuer_name'])}</b>", _markup(document.get("issuer_address")),
              _labelled("Tax ID", document.get("issuer_tax_id"))]
    customer = ["<b>Bill to</b>", _markup(document["customer_name"]),
                _labelled("Customer ID", document["customer_id"]), _markup(document.get("customer_address")),
                _labelled("Tax ID", document.get("customer_tax_id"))]
    last_day = document["period_end"] - timedelta(days=1)
    facts = [("Number", document["document_number"]), ("Issue date", document["issue_date"].isoformat()),
             ("Due date", document["due_date"].isoformat()),
             ("Service period", f"{document['period_start'].isoformat()} – {last_day.isoformat()}")]
    blocks = Table(
        [[_para(issuer), _para(customer)]], colWidths=(87 * mm, 87 * mm),
        style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, -1), 0)])
    fact_table = Table(
        [[Paragraph(_markup(label), _head), Paragraph(_markup(value), _text)] for label, value in facts],
        colWidths=(40 * mm, 134 * mm), hAlign="LEFT",
        style=[("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 1),
               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])
    story = [Paragraph(_markup(title), _title), blocks, Spacer(0, 5 * mm), fact_table]
    if document["kind"] != "invoice":
        story += [Spacer(0, 2 * mm), Paragraph(_markup(f"Corrects invoice {document['corrects']}"), _text)]
    story += [Spacer(0, 6 * mm), _lines_table(lines, currency),
              Spacer(0, 4 * mm), _total_table(document["total"], currency)]
    return story


def _lines_table(lines: Sequence[Mapping], currency: str) -> Table:
    header = [Paragraph("Metric", _head), Paragraph("Quantity", _head_number),
              Paragraph("Unit price", _head_number), Paragraph("Amount", _head_number)]
    rows = [header]
    for line in lines:
        events = line["event_count"]
        detail = _markup(f"{events:,} event{'' if abs(events) == 1 else 's'}")
        described = line.get("description") or " · ".join(
            str(part) for part in (line["metric_id"], line.get("kind"), line.get("tier")) if part)
        metric = f"{_markup(described)}<br/><font size='7'>{detail}</font>"
        quantity = format_quantity(line["quantity"])
        if line.get("unit"):
            quantity = f"{quantity} {line['unit']}"
        rows.append([Paragraph(metric, _cell), Paragraph(_markup(quantity), _number),
                     Paragraph(_markup(format_unit_price(line["unit_price"], currency)), _number),
                     Paragraph(_markup(format_money(line["amount"], currency)), _number)])
    if not lines:
        rows.append([Paragraph("No lines", _cell), "", "", ""])
    return Table(rows, colWidths=COLUMN_WIDTHS, repeatRows=1, style=TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
        ("LEFTPADDING", (0, 0), (0, -1), 0),
        ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
    ]))


def _total_table(total: Decimal, currency: str) -> Table:
    return Table(
        [[Paragraph("Total", _head_number), Paragraph(_markup(format_money(total, currency)), _head_number)]],
        colWidths=(sum(COLUMN_WIDTHS) - 38 * mm, 38 * mm),
        style=[("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.black), ("RIGHTPADDING", (-1, 0), (-1, -1), 0)])


def _numbered_canvas(label: str) -> type[Canvas]:
    """A canvas that holds its pages back until the last one, so each can say ``Page i of n``."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._held: list[dict] = []

        def showPage(self):
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            count = len(self._held)
            for page, state in enumerate(self._held, 1):
                self.__dict__.update(state)
                width, height = self._pagesize
                self.setFont(FONT, 8)
                self.setFillColor(colors.HexColor("#555555"))
                self.drawRightString(width - MARGIN, height - MARGIN, label)
                self.drawString(MARGIN, MARGIN - 2 * mm, label)
                self.drawRightString(width - MARGIN, MARGIN - 2 * mm, f"Page {page} of {count}")
                super().showPage()
            super().save()

    return NumberedCanvas


@contextmanager
def _reportlab_defaults():
    """Hold reportlab's rendering settings at the values it ships with (not an ``RL_*`` variable's or a
    settings file's), invariant and uncompressed, while rendering. Settings reportlab converts on start-up
    (page size, search paths, lists) are left alone: a rendering passes its page size and fonts."""
    with _lock:
        saved = {}
        for name in rl_settings.__all__:
            shipped = _PINNED.get(name, getattr(rl_settings, name))
            current = getattr(rl_config, name, None)
            if type(shipped) is type(current) and shipped != current:
                saved[name] = current
                setattr(rl_config, name, shipped)
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(rl_config, name, value)


def _register_fonts() -> None:
    global _drawable
    if _drawable and {FONT, BOLD} <= set(pdfmetrics.getRegisteredFontNames()):
        return
    fonts = Path(reportlab.__file__).with_name("fonts")
    faces = []
    for name, file in ((FONT, "Vera.ttf"), (BOLD, "VeraBd.ttf")):
        font = TTFont(name, str(fonts / file), asciiReadable=True, shapable=False)
        pdfmetrics.registerFont(font)
        faces.append(set(font.face.charToGlyph))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
    _drawable = frozenset.intersection(*map(frozenset, faces))


def _clean(text: str) -> str:
    """``text`` with every character the font cannot draw replaced (see the module's limitation)."""
    out = []
    for char in text:
        if ord(char) in _drawable:
            out.append(char)
        elif char in "\t\r\n":
            out.append(" ")
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            out.append(base if base and all(ord(c) in _drawable for c in base) else "?")
    return "".join(out)


def _markup(text: str | None) -> str:
    """Paragraph markup for plain ``text``: escaped, and its line breaks kept."""
    if not text:
        return ""
    return "<br/>".join(escape(_clean(part)) for part in str(text).splitlines())


def _labelled(label: str, value: str | None) -> str:
    return f"{label}: {_markup(value)}" if value else ""


def _para(parts: list[str]) -> Paragraph:
    return Paragraph("<br/>".join(part for part in parts if part), _text)
