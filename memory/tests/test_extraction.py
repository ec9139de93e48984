"""Extraction and chunking of real files of every accepted type (no database, no model)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from memory.extraction import (
    DOCX,
    HTML,
    MARKDOWN,
    PDF,
    TEXT,
    Extracted,
    ExtractionError,
    chunk_text,
    detect_mime_type,
    extract_text,
)
from memory.tests import samples


@pytest.mark.parametrize(
    ("kind", "mime_type", "must_contain"),
    [
        ("txt", TEXT, "foghorn"),
        ("md", MARKDOWN, "sourdough starter"),
        ("html", HTML, "pyroclastic flows"),
        ("pdf", PDF, "Treaty of Westphalia"),
        ("docx", DOCX, "oil the chain"),
    ],
)
def test_every_accepted_type_is_extracted(kind, mime_type, must_contain):
    name, data = samples.sample(kind)
    assert detect_mime_type(name) == mime_type
    extracted = extract_text(data, mime_type)
    assert must_contain in " ".join(extracted.text.split())


def test_html_drops_scripts_styles_and_keeps_the_title():
    extracted = extract_text(samples.make_html(), HTML)
    assert "must not be ingested" not in extracted.text
    assert "color: red" not in extracted.text
    assert extracted.metadata["title"] == "Volcanoes"


def test_docx_includes_tables_and_title():
    extracted = extract_text(samples.make_docx(), DOCX)
    assert "Tyre pressure | 4 bar" in extracted.text
    assert extracted.metadata["title"] == "Bicycle care"


@override_settings(MEMORY_CHUNK_SIZE=200, MEMORY_CHUNK_OVERLAP=40)
def test_pdf_chunks_know_their_page():
    extracted = extract_text(samples.make_pdf(), PDF)
    chunks = chunk_text(extracted, PDF)
    assert len(chunks) >= 2
    westphalia = next(c for c in chunks if "Westphalia" in c.text)
    photosynthesis = next(c for c in chunks if "Photosynthesis" in c.text)
    assert (photosynthesis.page, westphalia.page) == (1, 2)


@pytest.mark.parametrize(
    ("data", "mime_type", "reason"),
    [
        (samples.make_corrupt_pdf(), PDF, "This PDF could not be read"),
        (b"just some text, not a PDF", PDF, "not a PDF"),
        (samples.make_pdf(pages=["   "]), PDF, "No text was found in this PDF"),
        (b"PK\x03\x04 not really a zip", DOCX, "This Word file could not be read"),
        (b"\x00\x01\x02binary\x00" * 10, TEXT, "does not look like text"),
        (b"   \n\n  ", TEXT, "No text was found"),
        (b"<html><body><script>x()</script></body></html>", HTML, "No text was found"),
        (b"anything", "application/zip", "not accepted"),
    ],
)
def test_unreadable_files_fail_with_a_reason_a_person_understands(data, mime_type, reason):
    with pytest.raises(ExtractionError, match=reason):
        extract_text(data, mime_type)


def test_text_in_another_encoding_is_decoded():
    extracted = extract_text("Crème brûlée à la française".encode("cp1252"), TEXT)
    assert extracted.text == "Crème brûlée à la française"


@override_settings(MEMORY_CHUNK_SIZE=300, MEMORY_CHUNK_OVERLAP=60)
def test_long_text_is_split_into_overlapping_chunks_within_the_size():
    sentences = [f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(120)]
    text = " ".join(sentences)
    chunks = chunk_text(Extracted(text=text), TEXT)
    assert len(chunks) > 10
    assert all(len(c.text) <= 300 for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for previous, following in zip(chunks, chunks[1:], strict=False):
        assert text[following.offset : following.offset + len(following.text)] == following.text
        assert following.offset < previous.offset + len(previous.text)  # they overlap
    covered = "".join(text[c.offset : c.offset + len(c.text)] for c in chunks)
    assert all(s in covered for s in sentences)  # nothing lost


@override_settings(MEMORY_CHUNK_SIZE=120, MEMORY_CHUNK_OVERLAP=0)
def test_markdown_is_split_at_headings():
    chunks = chunk_text(extract_text(samples.make_md(), MARKDOWN), MARKDOWN)
    assert any(c.text.startswith("## Shaping and proofing") for c in chunks)


def test_type_comes_from_the_extension_then_the_declared_type():
    assert detect_mime_type("NOTES.MD", "application/octet-stream") == MARKDOWN
    assert detect_mime_type("page.htm") == HTML
    assert detect_mime_type("README", "text/plain; charset=utf-8") == TEXT
    assert detect_mime_type("archive.zip", None) == "application/octet-stream"
