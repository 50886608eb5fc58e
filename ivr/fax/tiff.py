"""Reading and writing TIFF class F files (the format SendFAX sends and ReceiveFAX writes).

One multi-page file per fax. Each page carries the TIFF-F tags a fax reader looks for:
NewSubfileType 2 (a page of a multi-page document), PageNumber (n, total), fine resolution
(204 x 196 dpi) and bilevel G3 (T.4) or G4 (T.6) compression.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, ImageChops, TiffImagePlugin

PAGE_WIDTH = 1728
FINE_DPI = (204, 196)
_NEW_SUBFILE_TYPE = 254
_PAGE_NUMBER = 297
_SOFTWARE = 305


def write_tiff(
    pages: Sequence[Image.Image],
    path: Path,
    *,
    compression: Literal["group3", "group4"] = "group3",
) -> None:
    """Write ``pages`` (mode "1") as one multi-page TIFF, atomically (a half-written fax
    file must never be picked up by Asterisk)."""
    if not pages:
        raise ValueError("a fax needs at least one page")
    for page in pages:
        if page.mode != "1" or page.width != PAGE_WIDTH:
            raise ValueError(f"fax pages are mode '1' and {PAGE_WIDTH} px wide, not {page}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        pages[0].save(
            tmp,
            format="TIFF",
            save_all=True,
            append_images=list(pages[1:]),
            compression=compression,
            dpi=FINE_DPI,
            tiffinfo=_tags(),
        )
        _number_pages(tmp)
        tmp.chmod(0o644)  # Asterisk reads it, possibly as another user
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _tags() -> TiffImagePlugin.ImageFileDirectory_v2:
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[_NEW_SUBFILE_TYPE] = 2
    tags[_PAGE_NUMBER] = (0, 0)  # a placeholder entry, filled in by _number_pages
    tags[_SOFTWARE] = "Watchline"
    return tags


def _number_pages(path: Path) -> None:
    """Fill in each page's PageNumber (index, total) in place.

    Pillow's libtiff writer garbles two-value tags such as PageNumber (it wrote (2, 27760)
    with Pillow 13 / libtiff 4.7), and one ``save_all`` call gives every page the same
    tags anyway. So the entry is written as a placeholder and patched here: its two SHORT
    values sit inside the 12-byte directory entry.
    """
    data = bytearray(path.read_bytes())
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack_from(order + "I", data, 4)
    directories: list[int] = []
    # Bounded: a well-formed file has one directory per page; stop at a loop or nonsense.
    while offset and offset not in directories and len(directories) < 10_000:
        directories.append(offset)
        (count,) = struct.unpack_from(order + "H", data, offset)
        (offset,) = struct.unpack_from(order + "I", data, offset + 2 + 12 * count)
    for index, directory in enumerate(directories):
        (count,) = struct.unpack_from(order + "H", data, directory)
        for entry in range(directory + 2, directory + 2 + 12 * count, 12):
            tag, kind, values = struct.unpack_from(order + "HHI", data, entry)
            if tag == _PAGE_NUMBER and kind == 3 and values == 2:
                struct.pack_into(order + "HH", data, entry + 8, index, len(directories))
    path.write_bytes(bytes(data))


def read_pages(path: Path) -> list[Image.Image]:
    """Every page of a TIFF as a mode "1" image (loaded, so the file can be closed)."""
    pages = []
    with Image.open(path) as tiff:
        for index in range(getattr(tiff, "n_frames", 1)):
            tiff.seek(index)
            pages.append(tiff.convert("1"))
    return pages


@dataclass(frozen=True)
class PageInfo:
    size: tuple[int, int]
    mode: str
    dpi: tuple[float, float] | None
    compression: str | None
    page_number: tuple[int, int] | None


def page_info(path: Path) -> list[PageInfo]:
    """Geometry and tags of each page, as written (for tests and diagnostics)."""
    out = []
    with Image.open(path) as tiff:
        for index in range(getattr(tiff, "n_frames", 1)):
            tiff.seek(index)
            raw_dpi = tiff.info.get("dpi")
            dpi = (float(raw_dpi[0]), float(raw_dpi[1])) if raw_dpi else None
            tags = getattr(tiff, "tag_v2", {})
            number = tags.get(_PAGE_NUMBER)
            out.append(
                PageInfo(
                    size=tiff.size,
                    mode=tiff.mode,
                    dpi=dpi,
                    compression=tiff.info.get("compression"),
                    page_number=(int(number[0]), int(number[1])) if number else None,
                )
            )
    return out


def differing_pixels(a: Image.Image, b: Image.Image) -> int:
    """How many pixels differ between two bilevel pages; -1 if their sizes differ."""
    if a.size != b.size:
        return -1
    diff = ImageChops.logical_xor(a.convert("1"), b.convert("1"))
    return diff.histogram()[255]  # a "1" image's histogram counts set pixels at 255


def tiff_to_png(path: Path, out_dir: Path) -> list[Path]:
    """One PNG per page (``<stem>-p1.png``...) for a person to look at."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, page in enumerate(read_pages(path), start=1):
        target = out_dir / f"{path.stem}-p{number}.png"
        page.save(target, format="PNG", optimize=True)
        written.append(target)
    return written
