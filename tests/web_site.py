"""A ministry-like website served on loopback for the sync tests: ky/ru news pages wrapped in navigation, footer
and related-news boilerplate, a sitemap and a feed, PDFs and a DOCX, and every way a real site misbehaves."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from docx import Document
from fpdf import FPDF

ARTICLES = Path(__file__).parent.parent / "eval" / "datasets" / "gold" / "gate-slice.jsonl"
FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
NAV = {"ky": ("Башкы бет", "Жаңылыктар", "Документтер", "Байланыш"), "ru": ("Главная", "Новости", "Документы")}
FOOTER = {
    "ky": "© 2026 Билим берүү жана илим министрлиги. Бардык укуктар корголгон. Дарек: Бишкек ш., Тыныстанов көч., 257",
    "ru": "© 2026 Министерство образования и науки. Все права защищены. Адрес: г. Бишкек, ул. Тыныстанова, 257",
}
RELATED = {"ky": "Окшош жаңылыктар", "ru": "Похожие новости"}
KY_PAGES = 24
RU_PAGES = 8
RU_TEXTS = (
    "Министерство образования и науки сообщило о начале приёма заявок на участие в программе обмена.",
    "В Бишкеке прошло совещание руководителей районных отделов образования.",
    "Школы страны получат новые учебники по математике до начала учебного года.",
    "Для учителей сельских школ организованы курсы повышения квалификации.",
    "В Оше открылся новый корпус технического колледжа на двести мест.",
    "Подведены итоги республиканской олимпиады школьников по информатике.",
    "Студенты смогут подать документы на стипендию через электронный портал.",
    "Министерство напоминает о сроках подачи документов в колледжи.",
)


@dataclass
class Site:
    """The site's content and switches the tests turn between syncs."""

    base: str = ""
    version: int = 1  # the changing page's text and ETag follow it
    removed_gone: bool = False  # /ky/news/removed/ answers 404 (and stays in the sitemap)
    dropped: bool = False  # /ky/news/dropped/ leaves the sitemap (and still answers 200)
    broken_robots: bool = False
    slow_seconds: float = 3.0
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (path, User-Agent, If-None-Match)
    pages: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # path -> (lang, title, text)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (content type, body)

    def url(self, path: str) -> str:
        return self.base + path

    def listed(self) -> list[str]:
        """Every path the sitemap lists this run."""
        paths = [*self.pages, "/ky/news/changing/", "/ky/news/removed/", "/cp1251/", "/bomb/", "/private/secret/"]
        paths += ["/error/", "/slow/", "/loop/a", "/files/huge.pdf", "/ky/news/alias/"]
        if not self.dropped:
            paths.append("/ky/news/dropped/")
        return paths

    def changing_text(self) -> str:
        return (
            f"Өзгөрүүчү жаңылык, {self.version}-нуска. Министрлик {100 * self.version} окуучуга стипендия "
            "бөлүнөрүн билдирди. Арыздар онлайн кабыл алынат."
        )


def build_site() -> Site:
    """The site's pages and files (Kyrgyz articles from the gate slice, which no gold or training set uses)."""
    site = Site()
    articles = [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines()[:KY_PAGES]]
    for i, article in enumerate(articles):
        text = article["text"].strip()
        title = text.split(".")[0][:90].strip() or f"Жаңылык {i}"
        site.pages[f"/ky/news/{i}/"] = ("ky", title, text)
    for i, text in enumerate(RU_TEXTS):
        title = f"Новость министерства № {i + 1}"
        body = f"{text} Подробности опубликованы на сайте министерства {i + 1}-го числа. {text}"
        site.pages[f"/ru/news/{i}/"] = ("ru", title, body)
    site.files["/files/quota-rules.pdf"] = ("application/pdf", _pdf("Квота эрежелери", QUOTA_RULES))
    site.files["/files/olympiad.pdf"] = ("application/pdf", _pdf("Олимпиада", OLYMPIAD))
    site.files["/files/order.docx"] = (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _docx("Буйрук № 15", ORDER),
    )
    return site


QUOTA_RULES = (
    "Квота боюнча орундарга талапкерлер 1-июлга чейин документтерин тапшырышат. "
    "Ар бир талапкер жалпы республикалык тестирлөөнүн сертификатын көрсөтөт."
)
OLYMPIAD = "Республикалык олимпиаданын жеңүүчүлөрү жогорку окуу жайларына сынаксыз кабыл алынат."
ORDER = "Буйрукка ылайык, мектептердеги окуу жылы 2-сентябрда башталат жана 31-майда аяктайт."


def _pdf(title: str, text: str) -> bytes:
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=12)
    pdf.set_title(title)
    pdf.add_page()
    pdf.multi_cell(0, 8, text, align="L")
    return bytes(pdf.output())


def _docx(title: str, text: str) -> bytes:
    document = Document()
    document.core_properties.title = title
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def page_html(site: Site, path: str, lang: str, title: str, text: str, *, links: tuple[str, ...] = ()) -> str:
    """A news page as a CMS renders it: navigation, the article, related news and a footer."""
    others = [p for p in site.pages if p != path and site.pages[p][0] == lang][:4]
    related = "".join(f'<li><a href="{p}">{escape(site.pages[p][1])}</a></li>' for p in others)
    paragraphs = "".join(f"<p>{escape(part)}</p>" for part in text.split("\n") if part.strip())
    attached = "".join(f'<p><a href="{link}">{escape(link.rsplit("/", 1)[-1])}</a></p>' for link in links)
    nav = "".join(f'<li><a href="/{lang}/">{item}</a></li>' for item in NAV[lang])
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)} | Министрлик</title>'
        f'<meta property="og:title" content="{escape(title)}">'
        '<meta property="article:published_time" content="2026-03-15T10:00:00+06:00">'
        f'<link rel="canonical" href="{path}"></head><body>'
        f"<header><nav><ul>{nav}</ul></nav></header>"
        f"<main><article><h1>{escape(title)}</h1><time datetime='2026-03-15'>15.03.2026</time>{paragraphs}{attached}"
        f"</article><aside><h3>{RELATED[lang]}</h3><ul>{related}</ul></aside></main>"
        f"<footer><p>{FOOTER[lang]}</p></footer></body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        site = self.site
        path = self.path.split("?")[0]
        site.requests.append((path, self.headers.get("User-Agent", ""), self.headers.get("If-None-Match", "")))
        if path == "/robots.txt":
            if site.broken_robots:
                return self._send(503, "text/plain", b"busy")
            return self._send(200, "text/plain", b"User-agent: *\nDisallow: /private/\n")
        if path == "/sitemap.xml":
            urls = "".join(f"<url><loc>{escape(site.url(p))}</loc></url>" for p in site.listed())
            body = f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            return self._send(200, "application/xml", body.encode())
        if path == "/sitemap-index.xml":  # the page sitemap and one that is missing
            children = "".join(
                f"<sitemap><loc>{escape(site.url(p))}</loc></sitemap>" for p in ("/sitemap.xml", "/missing-sitemap.xml")
            )
            body = f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'
            return self._send(200, "application/xml", body.encode())
        if path == "/feed.xml":
            items = "".join(
                f"<item><title>{escape(t)}</title><link>{escape(site.url(p))}</link></item>"
                for p, (lang, t, _) in site.pages.items()
                if lang == "ru"
            )
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Новости</title>{items}</channel></rss>'
            return self._send(200, "application/rss+xml", body.encode())
        if path in site.pages:
            lang, title, text = site.pages[path]
            links: tuple[str, ...] = ("/files/quota-rules.pdf",) if path == "/ky/news/0/" else ()
            links += ("/files/order.docx", "/files/olympiad.pdf") if path == "/ky/news/1/" else ()
            return self._html(page_html(site, path, lang, title, text, links=links))
        if path == "/ky/news/alias/":  # another URL of page 2: its canonical link names the original
            lang, title, text = site.pages["/ky/news/2/"]
            return self._html(page_html(site, "/ky/news/2/", lang, title, text))
        if path == "/ky/news/changing/":
            etag = f'"v{site.version}"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, None, b"", etag=etag)
            html = page_html(site, path, "ky", "Өзгөрүүчү жаңылык", site.changing_text())
            return self._send(200, "text/html; charset=utf-8", html.encode(), etag=etag)
        if path in ("/ky/news/removed/", "/ky/news/dropped/"):
            if path == "/ky/news/removed/" and site.removed_gone:
                return self._send(404, "text/html", b"<h1>Not found</h1>")
            title = "Алынып салына турган жаңылык" if "removed" in path else "Картадан чыккан жаңылык"
            text = f"{title}. Бул макала министрликтин сайтында бир нече күн турду. Андан кийин ал өзгөртүлдү."
            return self._html(page_html(site, path, "ky", title, text))
        if path == "/cp1251/":
            html = page_html(
                site,
                path,
                "ru",
                "Новость в кодировке Windows-1251",
                "Приём документов в колледжи продлится до двадцатого августа. Справки по телефону министерства.",
            ).replace('<meta charset="utf-8">', '<meta charset="windows-1251">')
            return self._send(200, "text/html", html.encode("cp1251"))
        if path == "/bomb/":
            depth = 50_000  # 550 kB: under the tests' size cap, so it reaches the parser
            return self._html(
                "<html><body>" + "<div>" * depth + "<p>Терең текст.</p>" + "</div>" * depth + "</body></html>"
            )
        if path == "/private/secret/":
            return self._html(page_html(site, path, "ky", "Жашыруун", "Бул бетти эч ким окубашы керек."))
        if path == "/error/":
            return self._send(500, "text/html", b"<h1>Internal Server Error</h1>")
        if path == "/slow/":
            time.sleep(site.slow_seconds)
            return self._html(page_html(site, path, "ky", "Жай бет", "Бул бет өтө жай жооп берет."))
        if path == "/trickle/":  # not listed: a body sent a byte at a time never trips a read timeout
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                for _ in range(40):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            return None
        if path in ("/loop/a", "/loop/b"):
            self.send_response(302)
            self.send_header("Location", "/loop/b" if path == "/loop/a" else "/loop/a")
            self.end_headers()
            return None
        if path == "/files/huge.pdf":
            # No Content-Length: the size cap must hold while the body streams.
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.end_headers()
            chunk = b"%PDF-1.4\n" + b"0" * 65_536
            try:
                for _ in range(64):  # 4 MB
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if path in site.files:
            kind, data = site.files[path]
            etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, None, b"", etag=etag)
            return self._send(200, kind, data, etag=etag)
        return self._send(404, "text/html", b"<h1>Not found</h1>")

    def _html(self, html: str) -> None:
        etag = '"' + hashlib.sha256(html.encode()).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, None, b"", etag=etag)
        return self._send(200, "text/html; charset=utf-8", html.encode(), etag=etag)

    def _send(self, status: int, kind: str | None, body: bytes, *, etag: str | None = None) -> None:
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(1773540000, usegmt=True))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@contextmanager
def serve_site(site: Site | None = None) -> Iterator[Site]:
    """Serve the site on a free loopback port for the duration."""
    site = site or build_site()
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
