"""Fax delivery: bulletin text → TIFF class F pages → SendFAX → an outcome.

``render`` and ``tiff`` make and read the pages (pure, Pillow); ``sender`` originates the
fax call over AMI; ``result`` turns what Asterisk reported into the campaign's outcome
vocabulary; ``limiter`` keeps fax calls under their own concurrency limit; ``rig`` names the
sandbox's simulated fax machines.
"""

from ivr.fax.errors import (
    EmptyBulletinText,
    FaxInputError,
    LogoNotFound,
    LogoUnreadable,
    TooManyPages,
)
from ivr.fax.limiter import DEFAULT_FAX_CONCURRENCY, FaxLimiter
from ivr.fax.render import FaxBulletin, FaxLayout, RenderedFax, render_fax, render_pages
from ivr.fax.result import FaxResult, fax_outcome
from ivr.fax.sender import FaxSpool, send_fax
from ivr.fax.tiff import read_pages, tiff_to_png, write_tiff

__all__ = [
    "DEFAULT_FAX_CONCURRENCY",
    "EmptyBulletinText",
    "FaxBulletin",
    "FaxInputError",
    "FaxLayout",
    "FaxLimiter",
    "FaxResult",
    "FaxSpool",
    "LogoNotFound",
    "LogoUnreadable",
    "RenderedFax",
    "TooManyPages",
    "fax_outcome",
    "read_pages",
    "render_fax",
    "render_pages",
    "send_fax",
    "tiff_to_png",
    "write_tiff",
]
