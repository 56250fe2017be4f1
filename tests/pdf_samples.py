"""PDF documents generated with fpdf2 for the PDF tests and benchmark: text with running header and footer,
hyphenation and a drop capital; two columns; a scanned (image-only) page; encrypted; truncated."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from fpdf import FPDF

HEADER = "The Council Gazette - Annual Report 2024"
SENTENCES = [
    "The council met on Tuesday evening and agreed the budget after a long debate about the harbour.",
    "Residents asked how the new ferry timetable would affect the morning commute to the mainland.",
    "The treasurer said the reserve fund would cover the repairs to the sea wall without new borrowing.",
    "Several members argued that the library should open on Sundays during the winter months.",
]
CREATED = datetime(2024, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=1)))


class _Report(FPDF):
    def header(self):
        self.set_font("Helvetica", size=9)
        self.cell(0, 6, HEADER, new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", size=9)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")


def _body(pdf: FPDF, page: int) -> None:
    pdf.set_font("Helvetica", size=11)
    for i in range(6):
        pdf.multi_cell(0, 6, " ".join(SENTENCES[(page + i + k) % 4] for k in range(3)) + f" Item {page}.{i}.",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)


def text_pdf(pages: int = 3) -> bytes:
    pdf = _Report()
    pdf.set_title("Harbour budget agreed")
    pdf.set_author("Ann Smith; Bob Jones")
    pdf.set_creation_date(CREATED)
    for page in range(pages):
        pdf.add_page()
        if page == 0:
            # a drop capital set apart from its word, and a word hyphenated across a line end
            pdf.set_font("Helvetica", size=30)
            pdf.cell(12, 14, "I", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 6, "t is estimated that the repairs will take two years, said the harbour-\n"
                                 "master, who presented the engi-\nneering survey to the members.",
                           new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        _body(pdf, page)
    return bytes(pdf.output())


def two_column_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    left = " ".join(SENTENCES[:2] * 3) + " End of the left column."
    right = " ".join(SENTENCES[2:] * 3) + " End of the right column."
    pdf.set_xy(10, 20)
    pdf.multi_cell(90, 5, left)
    pdf.set_xy(110, 20)
    pdf.multi_cell(90, 5, right)
    return bytes(pdf.output())


def scanned_pdf() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("L", (600, 300), 255)
    ImageDraw.Draw(image).text((20, 20), "This page is a scan: pixels, no text layer.", fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(buffer.getvalue()), x=10, y=10, w=180)
    return bytes(pdf.output())


def encrypted_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, " ".join(SENTENCES * 4))
    pdf.set_encryption(owner_password="owner", user_password="reader")
    return bytes(pdf.output())


def truncated_pdf() -> bytes:
    body = text_pdf()
    return body[: len(body) // 2]
