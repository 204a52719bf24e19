"""Loader tests on real files written with fpdf2, pypdf and python-docx (no mocks)."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from docx import Document
from fpdf import FPDF
from pypdf import PdfWriter

from assistant.core.errors import PayloadTooLarge, UnsupportedDocument
from assistant.core.models import SourceDocument
from ingest.loaders import LoadFailure, LoadLimits, iter_documents, load_file

KY = "Кыргыз Республикасынын жарандары үчүн жыл сайын 375тин тегерегинде бюджеттик орундар бөлүнөт."
KY_PAGE_2 = "Экинчи барак: өңүттөр, үй-бүлө жана окуу мөөнөтү."
# cp1251 has no ң, ө, ү: these two are what legacy-encoded files here actually contain.
RU = "Министерство образования и науки Кыргызской Республики объявляет приём документов."
KY_CP1251 = "Кыргыз Республикасынын жарандары жыл сайын бюджеттик орундарга кабыл алынат."

FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
CORPUS = Path(__file__).parent.parent / "data" / "corpus"
NEWS_JSONL = Path("/work/shared/distractors/kyrgyz-news-24kg.jsonl")


def load(path: Path, **options: Any) -> SourceDocument:
    """Load one file with its name as id."""
    return load_file(path, doc_id=path.name, source=str(path.parent), **options)


def load_error(path: Path, **options: Any) -> str:
    """The message of the UnsupportedDocument raised for `path`."""
    with pytest.raises(UnsupportedDocument) as info:
        load(path, **options)
    return info.value.message


def squash(text: str) -> str:
    """Collapse whitespace so PDF line wrapping does not matter."""
    return " ".join(text.split())


def write_pdf(path: Path, pages: list[str], *, title: str | None = None) -> Path:
    """A text PDF with one page per string, in a Cyrillic TTF font."""
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=12)
    if title is not None:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text, align="L")
    pdf.output(str(path))
    return path


def write_docx(path: Path, *, title: str | None = None) -> Path:
    """A Word file with a heading, paragraphs and a table with a merged header cell."""
    document = Document()
    if title is not None:
        document.core_properties.title = title
    document.add_heading("Бюджеттик орундар", level=1)
    document.add_paragraph(KY)
    table = document.add_table(rows=3, cols=2)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Квоталар"
    for row, (city, seats) in enumerate([("Бишкек", "375"), ("Ош", "120")], start=1):
        table.cell(row, 0).text = city
        table.cell(row, 1).text = seats
    document.add_paragraph("Акыркы абзац.")
    document.save(str(path))
    return path


# --------------------------------------------------------------------------------------------- PDF


def test_pdf_keeps_kyrgyz_letters_separates_pages_and_reads_metadata_title(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "quotas.pdf", [KY, KY_PAGE_2], title="Бюджеттик орундар 2024")
    doc = load(path)
    assert [squash(page) for page in doc.text.split("\n\n")] == [KY, KY_PAGE_2]
    assert all(letter in doc.text for letter in "үөң")
    assert doc.title == "Бюджеттик орундар 2024"
    assert (doc.id, doc.path, doc.lang, doc.url, doc.date) == ("quotas.pdf", str(path), None, None, None)


def test_pdf_without_metadata_title_uses_its_first_line(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "rules.pdf", ["Кабыл алуу эрежелери\n" + KY])
    assert load(path).title == "Кабыл алуу эрежелери"


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Аннотация: Бул макалада ЖОЖдор аралык\nинтеграция каралган.\nAbstract: The article", "mobility paper"),
        ("  Abstract\nThe article deals with mobility.", "The article deals with mobility."),
        ("Резюме: итоги года\n\nКабыл алуу эрежелери\nТекст.", "Кабыл алуу эрежелери"),
        ("Академиялык мобилдүүлүк\n\nАннотация: Бул макалада…", "Академиялык мобилдүүлүк"),
    ],
)
def test_a_section_label_is_never_the_title(tmp_path: Path, text: str, title: str) -> None:
    path = tmp_path / "mobility_paper.txt"
    path.write_text(text, encoding="utf-8")
    assert load(path).title == title


def test_image_only_pdf_reports_missing_text_layer(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 120, 80, style="F")
    pdf.output(str(tmp_path / "scan.pdf"))
    assert load_error(tmp_path / "scan.pdf") == "PDF has no text layer (scanned image?); run OCR first"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_pdf_is_reported(tmp_path: Path, damage: str) -> None:
    good = write_pdf(tmp_path / "good.pdf", [KY]).read_bytes()
    bad = good[: len(good) // 2] if damage == "truncated" else b"this is not a PDF at all\n" * 40
    (tmp_path / "bad.pdf").write_bytes(bad)
    assert load_error(tmp_path / "bad.pdf").startswith("cannot read PDF: ")


@pytest.mark.parametrize(("user_password", "readable"), [("secret", False), ("", True)], ids=["password", "owner-only"])
def test_encrypted_pdf(tmp_path: Path, user_password: str, readable: bool) -> None:
    writer = PdfWriter(clone_from=write_pdf(tmp_path / "plain.pdf", [KY]))
    # RC4 works without the optional `cryptography` package, unlike AES.
    writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    writer.write(tmp_path / "locked.pdf")
    if readable:
        assert squash(load(tmp_path / "locked.pdf").text) == KY
    else:
        assert load_error(tmp_path / "locked.pdf") == "PDF is password-protected; remove the password first"


# -------------------------------------------------------------------------------------------- DOCX


def test_docx_paragraphs_and_table_rows_in_document_order(tmp_path: Path) -> None:
    doc = load(write_docx(tmp_path / "quotas.docx"))
    assert doc.text == "\n".join(["Бюджеттик орундар", KY, "Квоталар", "Бишкек | 375", "Ош | 120", "Акыркы абзац."])
    assert doc.title == "Бюджеттик орундар"


def test_docx_core_properties_title_wins(tmp_path: Path) -> None:
    assert load(write_docx(tmp_path / "q.docx", title="Квоталар 2024")).title == "Квоталар 2024"


@pytest.mark.parametrize(
    "content", [b"PK\x03\x04" + bytes(range(256)) * 4, b"plain text renamed to docx"], ids=["zip", "text"]
)
def test_corrupt_docx_is_reported(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "broken.docx").write_bytes(content)
    assert load_error(tmp_path / "broken.docx").startswith("cannot read DOCX (corrupt or not a Word file)")


# -------------------------------------------------------------------------------------------- HTML

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Кабыл алуу &amp;
  квоталар</title>
<style>p { color: red }</style><script>var x = "<p>not text</p>";</script></head>
<body><nav><a href="/">Башкы бет</a> | <a href="/news">Жаңылыктар</a></nav>
<h1>Бюджеттик   <em>орундар</em></h1>
<div><p>Квота: 375&nbsp;орун &lt;2024&gt; &#1199;ч&#1199;н
   <b>бардыгы</b></p><ul><li>Бишкек</li><li>Ош <span>шаары</span></li></ul>Акыркы<br>сап<br/>бүттү</div>
<script>alert("x")</script></body></html>
"""


def test_html_visible_text_title_and_entities(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(PAGE, encoding="utf-8")
    doc = load(path)
    assert doc.text == "\n".join(
        [
            "Бюджеттик орундар",
            "Квота: 375\xa0орун <2024> үчүн бардыгы",
            "Бишкек",
            "Ош шаары",
            "Акыркы",
            "сап",
            "бүттү",
        ]
    )
    assert doc.title == "Кабыл алуу & квоталар"


def test_html_title_falls_back_to_first_h1_and_survives_unclosed_head(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_text("<html><head><meta charset=utf-8><body><h1>Жаңылык</h1><p>Текст.</p>", encoding="utf-8")
    doc = load(path)
    assert (doc.title, doc.text) == ("Жаңылык", "Жаңылык\nТекст.")


# --------------------------------------------------------------------------------------- Plain text


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", KY),
        ("utf-8-sig", KY),
        ("utf-16", KY),
        ("cp1251", RU),
        ("cp1251", KY_CP1251),
        ("cp1251", f"{RU}\n{KY_CP1251}\n" * 50),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "cp1251-ru", "cp1251-ky-short", "cp1251-long"],
)
def test_text_encodings_are_decoded(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(text.encode(encoding))
    assert load(path).text == text


@pytest.mark.parametrize(
    ("name", "content", "title"),
    [
        ("note.txt", f"\n\n  {RU}  \n{KY}", RU),
        ("note.md", f"## Кабыл алуу\n\n{KY}", "Кабыл алуу"),
        ("budget_places-2024.txt", KY * 2, "budget places 2024"),
    ],
    ids=["first-line", "markdown-heading", "long-line-uses-stem"],
)
def test_text_titles(tmp_path: Path, name: str, content: str, title: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    doc = load(path)
    assert (doc.title, doc.text) == (title, content)


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 8,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        bytes(range(1, 32)) * 10 + "текст".encode(),
    ],
    ids=["random-with-nul", "png", "control-bytes"],
)
def test_binary_content_with_text_suffix_is_refused(tmp_path: Path, content: bytes) -> None:
    for name in ("data.txt", "page.html"):
        (tmp_path / name).write_bytes(content)
        assert load_error(tmp_path / name) == "looks like a binary file, not text"


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.txt", b""), ("blank.md", b" \n\t\n"), ("empty.pdf", b""), ("script-only.html", b"<script>x</script>")],
)
def test_empty_documents_are_refused(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    assert load_error(tmp_path / name) == "empty document"


def test_unsupported_suffix_size_limit_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    assert load_error(tmp_path / "old.doc").startswith("unsupported file type '.doc'; supported: .txt")
    (tmp_path / "big.txt").write_text(KY, encoding="utf-8")
    assert load_error(tmp_path / "big.txt", max_bytes=100).startswith("file too large")
    assert load_error(tmp_path / "gone.txt").startswith("cannot read file")


# ---------------------------------------------------------------------------------- Directory walk


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder with nested documents, hidden and unsupported files, and two broken files."""
    root = tmp_path / "corpus"
    (root / "sub" / "dir").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "broken").mkdir()
    for relative, text in {
        "b.txt": KY,
        "a.md": f"# Жыйынтык\n{KY}",
        "Z.TXT": RU,
        "sub/dir/c.html": f"<title>Барак</title><p>{KY}</p>",
        "notes.csv": "a,b\n1,2",
        ".hidden.txt": KY,
        ".git/config.txt": KY,
        "empty.txt": "",
        "broken/bad.pdf": "not a pdf",
    }.items():
        (root / relative).write_text(text, encoding="utf-8")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    write_pdf(root / "sub" / "d.pdf", [KY])
    write_docx(root / "sub" / "e.docx")
    # Word leaves a small "owner" file next to an open document; it is not a real .docx.
    (root / "sub" / "~$e.docx").write_bytes(b"\x05owner")
    return root


def test_folder_walk_yields_sorted_relative_ids_and_reports_failures(tree: Path) -> None:
    items = list(iter_documents(tree))
    docs = [item for item in items if isinstance(item, SourceDocument)]
    failures = [item for item in items if isinstance(item, LoadFailure)]
    assert [doc.id for doc in docs] == ["Z.TXT", "a.md", "b.txt", "sub/d.pdf", "sub/dir/c.html", "sub/e.docx"]
    assert failures == [
        LoadFailure(str(tree / "broken" / "bad.pdf"), failures[0].error),
        LoadFailure(str(tree / "empty.txt"), "empty document"),
    ]
    assert failures[0].error.startswith("cannot read PDF")
    assert {doc.source for doc in docs} == {str(tree.resolve())}
    assert all(doc.path == str(tree / doc.id) for doc in docs)
    assert [doc.title for doc in docs[:2]] == [RU, "Жыйынтык"]
    assert squash(docs[4].text) == KY and docs[4].title == "Барак"


def test_single_file_root_uses_its_name_as_id(tree: Path) -> None:
    path = tree / "sub" / "d.pdf"
    [doc] = iter_documents(path)
    assert isinstance(doc, SourceDocument)
    assert (doc.id, doc.source, doc.path) == ("d.pdf", str(path.resolve()), str(path))


@pytest.mark.parametrize(
    ("relative", "error"),
    [("notes.csv", "unsupported file type '.csv'"), ("missing", "no such file or directory")],
)
def test_single_root_failures(tree: Path, relative: str, error: str) -> None:
    [failure] = iter_documents(tree / relative)
    assert isinstance(failure, LoadFailure)
    assert failure.path == str(tree / relative) and failure.error.startswith(error)


def test_size_limit_applies_to_walked_files(tree: Path) -> None:
    items = list(iter_documents(tree, max_bytes=1000))
    errors = {Path(item.path).name: item.error for item in items if isinstance(item, LoadFailure)}
    assert sorted(name for name, error in errors.items() if error.startswith("file too large")) == [
        "d.pdf",
        "e.docx",
    ]
    docs = [item.id for item in items if isinstance(item, SourceDocument)]
    assert docs == ["Z.TXT", "a.md", "b.txt", "sub/dir/c.html"]


# -------------------------------------------------------------------------------------------- JSONL


def test_jsonl_yields_good_records_and_reports_bad_lines(tmp_path: Path) -> None:
    good = {"id": "a", "text": KY, "title": "Квоталар", "url": "https://edu.gov.kg/a", "date": "2024-03-15"}
    lines = [
        json.dumps({**good, "lang": "ky"}, ensure_ascii=False),  # 1
        "",  # 2: blank lines are skipped
        "{not json",  # 3
        json.dumps({"id": "b"}),  # 4
        json.dumps({"id": "a", "text": "again"}),  # 5
        json.dumps({"text": "no id"}),  # 6
        json.dumps({"id": "c", "text": "  \n\xa0"}),  # 7
        "[1, 2]",  # 8
        json.dumps({"id": "d", "text": RU, "date": 2024}),  # 9
        json.dumps({"id": "e", "text": RU, "title": "", "lang": None}),  # 10
    ]
    path = tmp_path / "news.jsonl"
    # A BOM and one line that is not UTF-8 (line 11) must not stop the rest of the file.
    path.write_bytes(codecs.BOM_UTF8 + "\n".join(lines).encode() + b'\n{"id": "f", "text": "\xff"}\n' + b"\n")
    items = list(iter_documents(path))
    docs = [item for item in items if isinstance(item, SourceDocument)]
    errors = {item.path: item.error for item in items if isinstance(item, LoadFailure)}
    assert docs == [
        SourceDocument(**good, lang="ky", source=str(path.resolve()), path=str(path)),
        SourceDocument(id="e", text=RU, source=str(path.resolve()), path=str(path)),
    ]
    assert errors == {
        f"{path}:3": errors[f"{path}:3"],
        f"{path}:4": "document 'b': missing or empty 'text'",
        f"{path}:5": "duplicate id 'a' (first on line 1)",
        f"{path}:6": "missing 'id' (must be a non-empty string)",
        f"{path}:7": "document 'c': missing or empty 'text'",
        f"{path}:8": "expected a JSON object, got list",
        f"{path}:9": "document 'd': 'date' must be a string, got int",
        f"{path}:11": errors[f"{path}:11"],
    }
    assert errors[f"{path}:3"].startswith("invalid JSON")
    assert errors[f"{path}:11"].startswith("line is not valid UTF-8")


def test_jsonl_size_limit_is_per_record(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(
        json.dumps({"id": "short", "text": "Ок"}) + "\n" + json.dumps({"id": "long", "text": KY * 10}) + "\n",
        encoding="utf-8",
    )
    items = list(iter_documents(path, max_bytes=500))
    assert [getattr(item, "id", None) for item in items] == ["short", None]
    assert isinstance(items[1], LoadFailure) and items[1].error.startswith("file too large")


@pytest.mark.skipif(not NEWS_JSONL.exists(), reason="shared 24.kg distractor corpus not present")
def test_real_24kg_news_jsonl() -> None:
    items = list(iter_documents(NEWS_JSONL))
    docs = [item for item in items if isinstance(item, SourceDocument)]
    failures = [item for item in items if isinstance(item, LoadFailure)]
    # 1500 lines; 23 of them carry only whitespace/NBSP as text, which is no document.
    assert (len(items), len(docs), len(failures)) == (1500, 1477, 23)
    assert {failure.error.split(": ", 1)[1] for failure in failures} == {"missing or empty 'text'"}
    assert len({doc.id for doc in docs}) == len(docs)
    assert all(doc.id.startswith("24kg-") and doc.text.strip() for doc in docs)
    assert {(doc.title, doc.url, doc.date, doc.lang, doc.source) for doc in docs} == {
        ("", None, None, None, str(NEWS_JSONL.resolve()))
    }


# ------------------------------------------------------------------------------------ Sample corpus


def test_sample_corpus_folder() -> None:
    items = list(iter_documents(CORPUS))
    assert [item for item in items if isinstance(item, LoadFailure)] == []
    docs = [item for item in items if isinstance(item, SourceDocument)]
    assert [doc.id for doc in docs] == [
        "minister-visit-russia-quotas.txt",
        "ministry-2023-policy-summary.txt",
        "oshsu-academic-mobility.txt",
        "protocol-kravtsov-march-15.txt",
        "russia-kazakhstan-cooperation.txt",
    ]
    by_id = {doc.id: doc for doc in docs}
    assert all(doc.text.strip() and doc.source == str(CORPUS.resolve()) for doc in by_id.values())
    # Its first line is longer than a title may be, so its first sentence stands in.
    assert by_id["minister-visit-russia-quotas.txt"].title == (
        "Кыргыз Республикасынын билим берүү жана илим министри Алмазбек Бейшеналиев баштаган делегация "
        "иш сапары менен Орусия Федерациясына барды."
    )
    assert (
        by_id["russia-kazakhstan-cooperation.txt"].title
        == "COOPERATION BETWEEN RUSSIA AND KAZAKHSTAN IN THE EDUCATIONAL FIELD"
    )


# -- limits a hostile file cannot sidestep -----------------------------------------------------------


WORD_NS = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_with_body(path: Path, body: bytes, *, compress: bool = True, declare: bytes = b"") -> Path:
    """A real Word file (made by python-docx) whose document.xml body is replaced by `body`; `declare` goes into
    the root element's start tag (e.g. another prefix for Word's namespace)."""
    import zipfile

    source = write_docx(path.with_suffix(".source.docx"))
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "word/document.xml":
                head, _, rest = data.partition(b"<w:body>")
                tail = rest[rest.index(b"<w:sectPr") :] if b"<w:sectPr" in rest else b"</w:body></w:document>"
                data = (head + b"<w:body>" + body + tail).replace(b"<w:document ", b"<w:document " + declare + b" ", 1)
            out.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
    return path


def zip_bomb_docx(path: Path, unpacked_mb: int = 250) -> Path:
    """A .docx of ~unpacked_mb/1000 MB that unzips to unpacked_mb MB (one padding part of zeros)."""
    import zipfile

    source = write_docx(path.with_suffix(".source.docx"))
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for item in original.infolist():
            out.writestr(item, original.read(item.filename))
        with out.open("word/media/padding.bin", "w") as padding:
            block = bytes(1 << 20)
            for _ in range(unpacked_mb):
                padding.write(block)
    return path


def test_a_zip_bomb_named_docx_is_refused_without_inflating_it(tmp_path: Path) -> None:
    import tracemalloc

    bomb = zip_bomb_docx(tmp_path / "bomb.docx")
    assert bomb.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match="unpacks to more than"):
            load_file(bomb, doc_id="bomb.docx", source="t")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 1024 * 1024  # streamed: never the 250 MB it would unzip to


def test_two_million_empty_paragraphs_are_refused_in_under_two_seconds(tmp_path: Path) -> None:
    import time

    flood = docx_with_body(tmp_path / "flood.docx", b"<w:p/>" * 2_000_000)
    assert flood.stat().st_size < 200_000
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match="paragraphs and table cells"):
        load_file(flood, doc_id="flood.docx", source="t")
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    ("body", "declare", "message"),
    [
        (b"<x:p/>" * 2_000_000, b'xmlns:x="' + WORD_NS + b'"', "paragraphs and table cells"),  # another prefix
        ((b'<p xmlns="' + WORD_NS + b'"/>') * 500_000, b"", "paragraphs and table cells"),  # the default namespace
        (b"<x:tc/>" * 300_000, b'xmlns:x="' + WORD_NS + b'"', "paragraphs and table cells"),
        (b"<w:r/>" * 2_500_000, b"", "XML elements"),  # no paragraph at all, only runs
        (b"<z:p/>" * 2_500_000, b'xmlns:z="urn:not-word"', "XML elements"),  # a p of another namespace
    ],
)
def test_the_docx_caps_count_elements_by_namespace_not_prefix(
    tmp_path: Path, body: bytes, declare: bytes, message: str
) -> None:
    flood = docx_with_body(tmp_path / "flood.docx", body, declare=declare)
    assert flood.stat().st_size < 300_000
    with pytest.raises(PayloadTooLarge, match=message):
        load_file(flood, doc_id="flood.docx", source="t")


def test_a_docx_whose_xml_declares_a_dtd_is_refused(tmp_path: Path) -> None:
    import zipfile

    source = write_docx(tmp_path / "source.docx")
    laughs = tmp_path / "laughs.docx"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(laughs, "w") as out:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"?>", b'?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>', 1)
            out.writestr(item, data)
    with pytest.raises(UnsupportedDocument, match="DTD"):
        load_file(laughs, doc_id="laughs.docx", source="t")


def test_page_and_text_limits_are_413s_with_the_limit_in_the_message(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "pages.pdf", [KY, KY_PAGE_2, KY])
    with pytest.raises(PayloadTooLarge, match="the limit is 2"):
        load_file(pdf, doc_id="pages.pdf", source="t", limits=LoadLimits(max_pdf_pages=2))
    text = tmp_path / "long.txt"
    text.write_text(KY * 40, encoding="utf-8")
    with pytest.raises(PayloadTooLarge, match="the limit is 1000"):
        load_file(text, doc_id="long.txt", source="t", limits=LoadLimits(max_extracted_chars=1000))
    assert load_file(write_docx(tmp_path / "fine.docx"), doc_id="fine.docx", source="t").text  # a real one passes
