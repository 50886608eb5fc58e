"""Bulletin text → fax pages (TIFF class F, fine resolution); pure apart from reading files.

A fax page is a 1-bit image 1728 px wide (215 mm at 204 dpi) and, for A4 at fine resolution,
2292 rows (297 mm at 196 dpi). Every page starts with the same kind of header line a fax
machine prints — scheme, date and time, campaign reference, "Page N of M" — so a page that
falls out of the tray alone still says where it came from. Page 1 may carry the scheme's
logo and the bulletin's title; the body is word-wrapped in DejaVu Sans at a size readable
after a fax machine's thermal print (about 13 pt).

Everything that can be wrong with the input (no text, too many pages, a missing or corrupt
logo) raises a :class:`ivr.fax.errors.FaxInputError` here, before any call is placed.

    pages = render_pages(FaxBulletin(text, scheme="Riverside Watch", reference="C-42",
                                     sent_at=datetime(2025, 3, 12, 14, 5)))
    rendered = render_fax(bulletin, Path("out.tif"))       # one multi-page TIFF for SendFAX
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from ivr.fax.errors import EmptyBulletinText, LogoNotFound, LogoUnreadable, TooManyPages
from ivr.fax.tiff import FINE_DPI, PAGE_WIDTH, write_tiff

#: A4 at fine resolution (297 mm at 196 dpi, rounded up).
A4_FINE_HEIGHT = 2292
DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
WHITE, BLACK = 1, 0

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont | ImageFont.TransposedFont


@dataclass(frozen=True)
class FaxBulletin:
    """What goes on the fax. ``sent_at`` is printed as given (render is deterministic)."""

    text: str
    scheme: str
    reference: str
    sent_at: datetime
    title: str | None = None
    #: A PNG or JPEG, scaled and dithered to 1 bit at the top of page 1.
    logo: Path | None = None


@dataclass(frozen=True)
class FaxLayout:
    """Page geometry and type sizes, in pixels of the fine-resolution page."""

    max_pages: int = 10
    page_height: int = A4_FINE_HEIGHT
    #: None: DejaVu Sans (Debian fonts-dejavu-core) if installed, else Pillow's own font.
    font_path: Path | None = None
    bold_font_path: Path | None = None
    body_px: int = 36
    header_px: int = 26
    title_px: int = 52
    margin_px: int = 96
    #: The logo is fitted inside this box (pixels of the page).
    logo_box: tuple[int, int] = (900, 420)
    compression: Literal["group3", "group4"] = "group3"
    line_spacing: float = 1.3

    def __post_init__(self) -> None:
        if self.max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        if self.page_height < 400:
            raise ValueError("page_height is too small for a fax page")

    @property
    def text_width(self) -> int:
        return PAGE_WIDTH - 2 * self.margin_px

    @property
    def header_height(self) -> int:
        """The header band: top margin, one line of header text, a rule, a gap."""
        return 40 + round(self.header_px * 1.4) + 3 + 30


@dataclass(frozen=True)
class RenderedFax:
    path: Path
    pages: int


# ---- header ---------------------------------------------------------------------------


def header_text(bulletin: FaxBulletin, page: int, pages: int) -> str:
    """The header line of one page; long names are shortened so the line always fits."""
    scheme = _shorten(bulletin.scheme.strip() or "Watchline", 48)
    reference = _shorten(bulletin.reference.strip(), 24)
    when = bulletin.sent_at.strftime("%d/%m/%Y %H:%M")
    ref = f"   Ref {reference}" if reference else ""
    return f"{scheme}   {when}{ref}   Page {page} of {pages}"


def render_header(text: str, layout: FaxLayout = FaxLayout()) -> Image.Image:
    """The header band exactly as it appears at the top of a page (for tests and previews)."""
    band = Image.new("1", (PAGE_WIDTH, layout.header_height), WHITE)
    draw = _draw(band)
    font = _font(layout, bold=True, size=layout.header_px)
    size = layout.header_px
    # A header of wide letters may still overflow: shrink the type rather than clip it.
    while size > 12 and font.getlength(text) > layout.text_width:
        size -= 2
        font = _font(layout, bold=True, size=size)
    draw.text((layout.margin_px, 40), text, font=font, fill=BLACK)
    rule_y = 40 + round(layout.header_px * 1.4)
    draw.rectangle((layout.margin_px, rule_y, PAGE_WIDTH - layout.margin_px, rule_y + 2), BLACK)
    return band


# ---- pages ----------------------------------------------------------------------------


def render_pages(bulletin: FaxBulletin, layout: FaxLayout = FaxLayout()) -> list[Image.Image]:
    """Every page of the fax, mode "1", 1728 px wide. Raises FaxInputError on bad input."""
    paragraphs = normalise_text(bulletin.text)
    if not any(p.strip() for p in paragraphs):
        raise EmptyBulletinText()
    logo = load_logo(bulletin.logo, layout.logo_box) if bulletin.logo is not None else None
    body_font = _font(layout, bold=False, size=layout.body_px)
    title_font = _font(layout, bold=True, size=layout.title_px)
    line_h = round(layout.body_px * layout.line_spacing)
    title_h = round(layout.title_px * 1.25)

    title_lines = (
        wrap_text([bulletin.title.strip()], title_font, layout.text_width)
        if bulletin.title and bulletin.title.strip()
        else []
    )
    body_top = layout.header_height
    first_top = body_top
    if logo is not None:
        first_top += logo.height + 30
    if title_lines:
        first_top += len(title_lines) * title_h + 24
    bottom = layout.page_height - layout.margin_px
    first_capacity = max(0, (bottom - first_top) // line_h)
    capacity = (bottom - body_top) // line_h

    lines = wrap_text(paragraphs, body_font, layout.text_width)
    chunks = paginate(lines, first_capacity, capacity)
    if len(chunks) > layout.max_pages:
        raise TooManyPages(len(chunks), layout.max_pages)

    pages = []
    for number, chunk in enumerate(chunks, start=1):
        page = Image.new("1", (PAGE_WIDTH, layout.page_height), WHITE)
        page.paste(render_header(header_text(bulletin, number, len(chunks)), layout), (0, 0))
        draw = _draw(page)
        y = body_top
        if number == 1:
            if logo is not None:
                page.paste(logo, ((PAGE_WIDTH - logo.width) // 2, y))
                y += logo.height + 30
            for line in title_lines:
                draw.text((layout.margin_px, y), line, font=title_font, fill=BLACK)
                y += title_h
            if title_lines:
                y += 24
        for line in chunk:
            draw.text((layout.margin_px, y), line, font=body_font, fill=BLACK)
            y += line_h
        pages.append(page)
    return pages


def render_fax(bulletin: FaxBulletin, path: Path, layout: FaxLayout = FaxLayout()) -> RenderedFax:
    """Render and write one multi-page TIFF (what SendFAX takes)."""
    pages = render_pages(bulletin, layout)
    write_tiff(pages, path, compression=layout.compression)
    return RenderedFax(path=path, pages=len(pages))


def paginate(lines: Sequence[str], first_capacity: int, capacity: int) -> list[list[str]]:
    """Split lines into pages; a page never starts with a blank line. Page 1 may hold fewer
    lines (logo, title) or none at all, in which case the body starts on page 2."""
    if capacity < 1:
        raise ValueError("a page must hold at least one line")
    pages: list[list[str]] = [[]]
    room = first_capacity
    for line in lines:
        if room == 0:
            pages.append([])
            room = capacity
        if not line and not pages[-1]:
            continue
        pages[-1].append(line)
        room -= 1
    while len(pages) > 1 and not any(pages[-1]):
        pages.pop()
    return pages


# ---- text -----------------------------------------------------------------------------


def normalise_text(text: str) -> list[str]:
    """Input lines with line endings unified, tabs expanded, control characters dropped and
    leading/trailing blank lines removed. Each input line is kept as a paragraph."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4)
    cleaned = "".join(
        ch for ch in text if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    lines = [line.rstrip() for line in cleaned.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def wrap_text(paragraphs: Sequence[str], font: Font, width: int) -> list[str]:
    """Greedy word wrap by measured width; a word wider than the line is broken."""
    out: list[str] = []
    for paragraph in paragraphs:
        words = paragraph.split()
        if not words:
            out.append("")
            continue
        line = ""
        for word in words:
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                out.append(line)
            pieces = _break_word(word, font, width)
            out.extend(pieces[:-1])
            line = pieces[-1]
        out.append(line)
    return out


def _break_word(word: str, font: Font, width: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for ch in word:
        if current and font.getlength(current + ch) > width:
            pieces.append(current)
            current = ch
        else:
            current += ch
    pieces.append(current)
    return pieces


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---- logo -----------------------------------------------------------------------------


def load_logo(path: Path, box: tuple[int, int]) -> Image.Image:
    """The logo fitted in ``box``, dithered to 1 bit (Floyd–Steinberg keeps grey areas
    readable on a bilevel page). Raises LogoNotFound or LogoUnreadable."""
    if not path.is_file():
        raise LogoNotFound(path)
    try:
        with Image.open(path) as source:
            if source.format not in ("PNG", "JPEG"):
                raise LogoUnreadable(path, f"{source.format} images are not supported")
            source.load()
            image = source.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise LogoUnreadable(path, str(e) or type(e).__name__) from e
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    grey = image.convert("L")
    # Fine-mode pixels are 4 % taller than wide (204 x 196 dpi): squash rows to keep shape.
    aspect = FINE_DPI[1] / FINE_DPI[0]
    scale = min(box[0] / grey.width, box[1] / (grey.height * aspect))
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * aspect * scale)))
    fitted = grey.resize(size, Image.Resampling.LANCZOS)
    return fitted.convert("1", dither=Image.Dither.FLOYDSTEINBERG)


# ---- fonts ----------------------------------------------------------------------------


def _draw(image: Image.Image) -> ImageDraw.ImageDraw:
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"  # crisp bilevel glyphs: grey anti-aliasing is lost on a fax anyway
    return draw


def _font(layout: FaxLayout, *, bold: bool, size: int) -> Font:
    chosen = layout.bold_font_path if bold else layout.font_path
    if chosen is None:
        chosen = DEJAVU_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    return _load_font(str(chosen), size)


@functools.lru_cache(maxsize=32)
def _load_font(path: str, size: int) -> Font:
    # Cached: loading a TrueType face costs more than laying out a page of text.
    if Path(path).is_file():
        return ImageFont.truetype(path, size)
    # Pillow's bundled scalable font (Pillow >= 10.1) when DejaVu is not installed.
    return ImageFont.load_default(size=size)
