"""Turning an uploaded file into text, and text into chunks. No database here.

Extraction uses well-kept libraries (pypdf, python-docx, beautifulsoup4); chunking uses
semantic-text-splitter, which splits at the largest semantic unit that fits (sections,
paragraphs, sentences, words) and overlaps neighbouring chunks.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.conf import settings
from semantic_text_splitter import MarkdownSplitter, TextSplitter

TEXT = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# The type of an upload comes from its file name; browsers' declared types are unreliable
# (a .md file often arrives as application/octet-stream).
TYPE_BY_EXTENSION = {
    ".txt": TEXT,
    ".text": TEXT,
    ".log": TEXT,
    ".csv": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".pdf": PDF,
    ".docx": DOCX,
}


class ExtractionError(Exception):
    """The file could not be turned into text. The message is shown to people as is."""


@dataclass(frozen=True)
class Extracted:
    text: str
    # (offset in `text`, page number) where each PDF page starts; empty for other types.
    page_starts: list[tuple[int, int]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    index: int
    offset: int
    text: str
    page: int | None = None


def detect_mime_type(filename: str, declared: str | None = None) -> str:
    """The type by extension, else the declared type (without parameters), else octet-stream."""
    by_extension = TYPE_BY_EXTENSION.get(PurePath(filename).suffix.lower())
    if by_extension:
        return by_extension
    declared = (declared or "").split(";")[0].strip().lower()
    return declared or "application/octet-stream"


def accepted_types() -> list[str]:
    return list(settings.MEMORY_ACCEPTED_TYPES)


def extract_text(data: bytes, mime_type: str) -> Extracted:
    """The text of a file of `mime_type`. Raises ExtractionError with a reason a person understands."""
    if mime_type not in accepted_types():
        raise ExtractionError(f"Files of type {mime_type} are not accepted.")
    if mime_type == PDF:
        extracted = _extract_pdf(data)
    elif mime_type == DOCX:
        extracted = _extract_docx(data)
    elif mime_type == HTML:
        extracted = _extract_html(data)
    elif mime_type in (TEXT, MARKDOWN) or mime_type.startswith("text/"):
        extracted = Extracted(text=_normalise(_decode_text(data)))
    else:
        raise ExtractionError(f"There is no text extractor for files of type {mime_type}.")
    if not extracted.text.strip():
        raise ExtractionError("No text was found in this file.")
    return extracted


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t\f\v]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise ExtractionError("This file does not look like text (it contains binary data).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _extract_pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise ExtractionError(
            "This file is not a PDF, or it is damaged: it does not start with a PDF header."
        )
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("This PDF is protected by a password, so its text cannot be read.")
        parts: list[str] = []
        page_starts: list[tuple[int, int]] = []
        offset = 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = _normalise(page.extract_text() or "")
            if not page_text:
                continue
            page_starts.append((offset, number))
            parts.append(page_text)
            offset += len(page_text) + 2
        title = reader.metadata.get("/Title") if reader.metadata else None
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise ExtractionError("This PDF could not be read: it is damaged or incomplete.") from exc
    if not parts:
        raise ExtractionError(
            "No text was found in this PDF. It may contain only scanned images, which are not read (no OCR)."
        )
    metadata: dict[str, Any] = {"pages": len(reader.pages)}
    if title:
        metadata["title"] = str(title)
    return Extracted(text="\n\n".join(parts), page_starts=page_starts, metadata=metadata)


def _extract_docx(data: bytes) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractionError("This Word file could not be read: it is damaged or not a .docx file.") from exc
    blocks = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                blocks.append(" | ".join(cells))
    metadata = {}
    if document.core_properties.title:
        metadata["title"] = document.core_properties.title
    return Extracted(text=_normalise("\n\n".join(blocks)), metadata=metadata)


def _extract_html(data: bytes) -> Extracted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup(["head", "script", "style", "noscript", "template", "svg"]):
        tag.decompose()
    body = soup.body or soup
    text = body.get_text("\n")
    text = "\n".join(line.strip() for line in text.splitlines())
    metadata = {"title": title} if title else {}
    return Extracted(text=_normalise(text), metadata=metadata)


def chunk_text(extracted: Extracted, mime_type: str) -> list[Chunk]:
    """Chunks of at most MEMORY_CHUNK_SIZE characters that overlap by up to MEMORY_CHUNK_OVERLAP."""
    size = settings.MEMORY_CHUNK_SIZE
    capacity = (max(1, size // 2), size)
    overlap = max(0, min(settings.MEMORY_CHUNK_OVERLAP, capacity[0] - 1))  # the splitter needs it below
    splitter_class = MarkdownSplitter if mime_type == MARKDOWN else TextSplitter
    splitter = splitter_class(capacity, overlap=overlap)
    chunks = []
    for index, (offset, text) in enumerate(splitter.chunk_indices(extracted.text)):
        chunks.append(
            Chunk(index=index, offset=offset, text=text, page=_page_at(extracted.page_starts, offset))
        )
    return chunks


def _page_at(page_starts: list[tuple[int, int]], offset: int) -> int | None:
    page = None
    for start, number in page_starts:
        if start > offset:
            break
        page = number
    return page
