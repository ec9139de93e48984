"""Small real documents of every accepted type, made in the tests (and written to tests/data/documents/).

Each file is about one distinct topic, so that a search can tell which file a chunk came from.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

# name → (file name, its text; for the PDF, the text of each page)
TOPICS: dict[str, tuple[str, Any]] = {
    "txt": (
        "lighthouse.txt",
        "The keeper of the Skellig lighthouse winds the clockwork of the lamp every evening at dusk. "
        "When fog rolls in from the Atlantic he starts the foghorn, which sounds two long blasts every "
        "minute so that fishing boats can find the harbour entrance. The lighthouse keeper writes the "
        "weather, the visibility and every passing ship in the logbook.",
    ),
    "md": (
        "sourdough.md",
        "# Baking sourdough bread\n\n"
        "## Feeding the starter\n\n"
        "Feed the sourdough starter with equal weights of flour and water the night before baking. "
        "A healthy starter doubles in size and smells pleasantly sour.\n\n"
        "## Shaping and proofing\n\n"
        "Fold the dough every thirty minutes, shape it into a tight loaf, and proof it overnight in the "
        "fridge. Bake the bread in a hot Dutch oven so the crust turns deep brown.",
    ),
    "html": (
        "volcano.html",
        "Volcanoes erupt when magma rises through the crust. Lava flows, ash clouds and pyroclastic flows "
        "are the main hazards near an erupting volcano, and geologists monitor earthquakes and ground "
        "swelling to predict the next eruption.",
    ),
    "pdf": (
        "plants.pdf",
        [
            "Photosynthesis lets green plants turn sunlight, water and carbon dioxide into sugar. "
            "Chlorophyll in the leaves absorbs the light, and oxygen is released as a by-product.",
            "The Treaty of Westphalia, signed in 1648, ended the Thirty Years War in Europe and laid the "
            "foundations of the modern system of sovereign states.",
        ],
    ),
    "docx": (
        "bicycle.docx",
        "Bicycle maintenance starts with the chain: clean it and oil the chain every few hundred "
        "kilometres so that it runs quietly. Check the tyre pressure every week and adjust the brake "
        "pads when the levers feel soft.",
    ),
}


def make_txt() -> bytes:
    return TOPICS["txt"][1].encode("utf-8")


def make_md() -> bytes:
    return TOPICS["md"][1].encode("utf-8")


def make_html() -> bytes:
    body = TOPICS["html"][1]
    return (
        "<!doctype html><html><head><title>Volcanoes</title><style>p { color: red }</style>"
        "<script>var hidden = 'this script text must not be ingested';</script></head>"
        f"<body><h1>Volcanoes</h1><p>{body}</p><nav>Home | About</nav></body></html>"
    ).encode()


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str] | None = None) -> bytes:
    """A real PDF (Helvetica text, one content stream per page) written by hand, readable by pypdf."""
    pages = pages if pages is not None else list(TOPICS["pdf"][1])
    objects: list[bytes] = []
    page_ids = []
    font_id = 3 + 2 * len(pages)
    for number, text in enumerate(pages):
        page_id, content_id = 3 + 2 * number, 4 + 2 * number
        page_ids.append(page_id)
        lines = textwrap.wrap(text, 80)
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"{page_id} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Contents {content_id} 0 R /Resources << /Font << /F1 {font_id} 0 R >> >> >>\nendobj\n".encode()
        )
        objects.append(
            f"{content_id} 0 obj\n<< /Length {len(stream)} >>\nstream\n".encode()
            + stream
            + b"\nendstream\nendobj\n"
        )
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    head = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        f"2 0 obj\n<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>\nendobj\n".encode(),
    ]
    font = f"{font_id} 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n".encode()
    body = head + objects + [font]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for obj in body:
        offsets.append(out.tell())
        out.write(obj)
    xref = out.tell()
    out.write(f"xref\n0 {len(body) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(body) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_corrupt_pdf() -> bytes:
    """Starts like a PDF, then garbage: no objects, no xref, no pages."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Bicycle care"
    document.add_heading("Bicycle care", level=1)
    document.add_paragraph(TOPICS["docx"][1])
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Tyre pressure"
    table.rows[0].cells[1].text = "4 bar"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


MAKERS = {"txt": make_txt, "md": make_md, "html": make_html, "pdf": make_pdf, "docx": make_docx}


def sample(kind: str) -> tuple[str, bytes]:
    """(file name, bytes) of the sample of `kind` (txt, md, html, pdf, docx)."""
    return TOPICS[kind][0], MAKERS[kind]()


def write_samples(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in MAKERS:
        name, data = sample(kind)
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths
