"""Bulletin text → TIFF class F pages: geometry, headers, wrapping, pagination and bad input."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from ivr.errors import InputError
from ivr.fax.errors import EmptyBulletinText, LogoNotFound, LogoUnreadable, TooManyPages
from ivr.fax.render import (
    A4_FINE_HEIGHT,
    FaxBulletin,
    FaxLayout,
    header_text,
    normalise_text,
    paginate,
    render_fax,
    render_header,
    render_pages,
    wrap_text,
)
from ivr.fax.tiff import differing_pixels, page_info, read_pages, tiff_to_png

SENT_AT = datetime(2025, 3, 12, 14, 5)
SENTENCE = "Two men were seen trying car door handles on Mill Lane between 2am and 4am. "


def bulletin(text: str = SENTENCE * 5, **changes: object) -> FaxBulletin:
    base = FaxBulletin(text=text, scheme="Riverside Watch", reference="C-42", sent_at=SENT_AT)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def long_text(paragraphs: int) -> str:
    return "\n\n".join(SENTENCE * 8 for _ in range(paragraphs))


def ink(image: Image.Image) -> int:
    """Black pixels on a mode "1" page."""
    return image.convert("L").histogram()[0]


# ---- geometry -------------------------------------------------------------------------


def test_a_short_bulletin_is_one_fine_resolution_a4_page() -> None:
    pages = render_pages(bulletin())
    assert len(pages) == 1
    assert pages[0].mode == "1"
    assert pages[0].size == (1728, A4_FINE_HEIGHT) == (1728, 2292)


def test_the_tiff_is_multi_page_g3_at_204_by_196_dpi_with_page_numbers(tmp_path: Path) -> None:
    rendered = render_fax(bulletin(long_text(12)), tmp_path / "out.tif")
    infos = page_info(rendered.path)
    assert rendered.pages == len(infos) >= 2
    for index, info in enumerate(infos):
        assert info.size == (1728, 2292) and info.mode == "1"
        assert info.dpi == (204.0, 196.0)
        assert info.compression == "group3"
        assert info.page_number == (index, rendered.pages)


def test_group4_is_available_and_decodes_to_the_same_pixels(tmp_path: Path) -> None:
    b = bulletin(long_text(8))
    g3 = render_fax(b, tmp_path / "g3.tif")
    g4 = render_fax(b, tmp_path / "g4.tif", FaxLayout(compression="group4"))
    assert page_info(g4.path)[0].compression == "group4"
    for a, c in zip(read_pages(g3.path), read_pages(g4.path), strict=True):
        assert differing_pixels(a, c) == 0


def test_the_written_tiff_holds_exactly_the_rendered_pixels(tmp_path: Path) -> None:
    b = bulletin(long_text(10))
    pages = render_pages(b)
    written = read_pages(render_fax(b, tmp_path / "x.tif").path)
    assert [differing_pixels(a, c) for a, c in zip(pages, written, strict=True)] == [0] * len(pages)


def test_rendering_is_deterministic() -> None:
    first, second = render_pages(bulletin(long_text(6))), render_pages(bulletin(long_text(6)))
    assert [p.tobytes() for p in first] == [p.tobytes() for p in second]


# ---- header ---------------------------------------------------------------------------


def test_header_text_names_scheme_time_reference_and_page() -> None:
    assert header_text(bulletin(), 2, 3) == (
        "Riverside Watch   12/03/2025 14:05   Ref C-42   Page 2 of 3"
    )


def test_a_header_with_long_wide_names_is_shortened_and_stays_inside_the_margins() -> None:
    text = header_text(bulletin(scheme="W" * 200, reference="M" * 80), 1, 1)
    assert "…" in text and text.endswith("Page 1 of 1")
    layout = FaxLayout()
    band = render_header(text, layout)
    left = band.crop((0, 0, layout.margin_px, band.height))
    right = band.crop((1728 - layout.margin_px + 1, 0, 1728, band.height))
    assert ink(left) == 0 and ink(right) == 0
    assert ink(band) > 0


def test_every_page_carries_its_own_page_n_of_m_header() -> None:
    """The top band of page N is pixel-identical to the header "Page N of M" rendered alone,
    and differs from the header of any other page number."""
    b = bulletin(long_text(14))
    pages = render_pages(b)
    total = len(pages)
    assert total >= 3
    layout = FaxLayout()
    for number, page in enumerate(pages, start=1):
        band = page.crop((0, 0, 1728, layout.header_height))
        own = render_header(header_text(b, number, total), layout)
        other = render_header(header_text(b, number % total + 1, total), layout)
        assert differing_pixels(band, own) == 0, f"page {number}"
        assert differing_pixels(band, other) > 0


# ---- wrapping and pagination ----------------------------------------------------------


def test_long_text_wraps_onto_as_many_pages_as_needed_and_no_more() -> None:
    one = render_pages(bulletin(long_text(2)))
    many = render_pages(bulletin(long_text(14)))
    assert len(one) == 1
    assert len(many) >= 3
    # Every page but the last is well filled; the last has some text.
    for page in many:
        assert ink(page) > 5000


def test_words_are_never_cut_and_lines_fit_the_text_width() -> None:
    from ivr.fax.render import _font

    layout = FaxLayout()
    font = _font(layout, bold=False, size=layout.body_px)
    text = [SENTENCE * 6]
    lines = wrap_text(text, font, layout.text_width)
    assert len(lines) > 3
    assert " ".join(lines).split() == text[0].split()
    assert all(font.getlength(line) <= layout.text_width for line in lines)


def test_a_word_longer_than_a_line_is_broken_not_lost() -> None:
    from ivr.fax.render import _font

    layout = FaxLayout()
    font = _font(layout, bold=False, size=layout.body_px)
    word = "x" * 400
    lines = wrap_text([f"see {word} here"], font, layout.text_width)
    assert "".join(lines).replace(" ", "") == f"see{word}here"
    assert all(font.getlength(line) <= layout.text_width for line in lines)


def test_pages_never_start_with_a_blank_line_and_blank_paragraphs_are_kept() -> None:
    chunks = paginate(["a", "", "b", "", "", "c", "d"], first_capacity=2, capacity=2)
    assert chunks == [["a", ""], ["b", ""], ["c", "d"]]


def test_a_full_first_page_pushes_the_body_to_page_two() -> None:
    assert paginate(["a", "b"], first_capacity=0, capacity=5) == [[], ["a", "b"]]


def test_text_is_normalised_line_endings_tabs_and_control_characters() -> None:
    assert normalise_text("\n\r\nHello\tworld\x07\r\nbye  \n\n") == ["Hello   world", "bye"]


def test_title_and_logo_take_room_on_page_one(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.linear_gradient("L").resize((600, 300)).save(logo)
    text = long_text(5)
    plain = render_pages(bulletin(text))
    dressed = render_pages(bulletin(text, title="Car crime warning", logo=logo))
    assert len(dressed) >= len(plain)
    header_h = FaxLayout().header_height
    # The logo sits centred just under the header, dithered (grey gradient → mixed pixels).
    logo_area = dressed[0].crop((564, header_h, 1164, header_h + 200))
    assert 0 < ink(logo_area) < logo_area.width * logo_area.height


def test_a_transparent_logo_is_flattened_onto_white(tmp_path: Path) -> None:
    logo = tmp_path / "clear.png"
    Image.new("RGBA", (400, 200), (0, 0, 0, 0)).save(logo)
    page = render_pages(bulletin(logo=logo))[0]
    header_h = FaxLayout().header_height
    assert ink(page.crop((700, header_h, 1000, header_h + 150))) == 0


# ---- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \r\n", "\x00\x07"])
def test_empty_text_is_refused(text: str) -> None:
    with pytest.raises(EmptyBulletinText) as info:
        render_pages(bulletin(text))
    assert isinstance(info.value, InputError)
    assert "no text" in str(info.value)


def test_text_over_the_page_limit_is_refused_with_the_count() -> None:
    with pytest.raises(TooManyPages) as info:
        render_pages(bulletin(long_text(30)), FaxLayout(max_pages=2))
    assert info.value.limit == 2 and info.value.needed > 2
    assert "limit is 2" in info.value.reason


def test_text_exactly_at_the_page_limit_is_accepted() -> None:
    needed = len(render_pages(bulletin(long_text(14))))
    assert len(render_pages(bulletin(long_text(14)), FaxLayout(max_pages=needed))) == needed


def test_a_missing_logo_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(LogoNotFound) as info:
        render_pages(bulletin(logo=missing))
    assert info.value.path == missing and "not found" in str(info.value)


@pytest.mark.parametrize(
    "content",
    [b"this is not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b""],
    ids=["text", "truncated-png", "empty"],
)
def test_a_corrupt_logo_is_refused(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "logo.png"
    bad.write_bytes(content)
    with pytest.raises(LogoUnreadable) as info:
        render_pages(bulletin(logo=bad))
    assert info.value.path == bad


def test_a_logo_in_another_format_is_refused(tmp_path: Path) -> None:
    gif = tmp_path / "logo.gif"
    Image.new("L", (50, 50), 128).save(gif)
    with pytest.raises(LogoUnreadable, match="GIF"):
        render_pages(bulletin(logo=gif))


def test_a_nonsense_layout_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        FaxLayout(max_pages=0)


# ---- for people -------------------------------------------------------------------------


def test_tiff_to_png_writes_one_viewable_png_per_page(tmp_path: Path) -> None:
    rendered = render_fax(bulletin(long_text(12)), tmp_path / "bulletin.tif")
    pngs = tiff_to_png(rendered.path, tmp_path / "png")
    assert [p.name for p in pngs] == [f"bulletin-p{n}.png" for n in range(1, rendered.pages + 1)]
    with Image.open(pngs[0]) as first:
        assert first.format == "PNG" and first.size == (1728, 2292)


def test_without_dejavu_pillows_own_scalable_font_is_used(tmp_path: Path) -> None:
    """Hosts without fonts-dejavu-core still render readable pages (Pillow >= 10.1)."""
    missing = tmp_path / "no-such-font.ttf"
    layout = FaxLayout(font_path=missing, bold_font_path=missing)
    pages = render_pages(bulletin(long_text(3)), layout)
    assert pages and ink(pages[0]) > 5000
    assert [p.tobytes() for p in pages] != [
        p.tobytes() for p in render_pages(bulletin(long_text(3)))
    ]
