"""pypdfium2 against pdfminer.six on the PDF tests' generated documents: seconds per page, and whether the text
(after newsbeam's repairs) has every sentence, the hyphenated word joined and the columns in order.

    pip install pdfminer.six   # only for this comparison
    python -m benchmarks.bench_pdf --pages 40
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from typing import List, Optional, Sequence

import pypdfium2 as pdfium

from newsbeam.pdf import repair_text
from tests import pdf_samples


def pdfium_pages(body: bytes) -> List[str]:
    document = pdfium.PdfDocument(body)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def pdfminer_pages(body: bytes) -> List[str]:
    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(body)).split("\f")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=40)
    args = parser.parse_args(argv)
    report, columns = pdf_samples.text_pdf(args.pages), pdf_samples.two_column_pdf()
    for name, reader in (("pypdfium2", pdfium_pages), ("pdfminer.six", pdfminer_pages)):
        started = time.perf_counter()
        text = repair_text(reader(report))
        per_page = (time.perf_counter() - started) / args.pages
        two = repair_text(reader(columns))
        checks = {
            "sentences": all(s in text for s in pdf_samples.SENTENCES),
            "dehyphenated": "engineering survey" in text,
            "drop capital": text.startswith("It is estimated"),
            "no running header": pdf_samples.HEADER not in text,
            "columns in order": two.find("End of the left column.") < two.find(pdf_samples.SENTENCES[2]),
        }
        print(f"{name:13} {per_page * 1000:7.2f} ms/page  " + "  ".join(f"{k}: {'yes' if v else 'NO'}"
                                                                       for k, v in checks.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
