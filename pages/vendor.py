"""Refresh the vendored GOV.UK Frontend (``make govuk-frontend``): no Node toolchain at run time.

Downloads the pinned release with ``npm pack`` (the npm registry), keeps only the precompiled
CSS and JS and writes them to ``pages/static/govuk/`` with the licence and the version. The
``@font-face`` rules are removed: GDS Transport is GOV.UK's own typeface, not for services
outside GOV.UK, so the pages fall back to Arial as the Design System advises.

    python -m pages.vendor [VERSION]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "6.6.0"
HERE = Path(__file__).resolve().parent / "static" / "govuk"
FILES = ("govuk-frontend.min.css", "govuk-frontend.min.js")
FONT_FACE = re.compile(r"@font-face\{[^}]*\}")
SOURCE_MAP = re.compile(r"/\*# sourceMappingURL=[^*]*\*/|//# sourceMappingURL=\S*")
LICENCE = """GOV.UK Frontend {version}, https://frontend.design-system.service.gov.uk/

The MIT License (MIT)

Copyright (c) 2018 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

Vendored by pages/vendor.py: the precompiled CSS and JS only, @font-face rules removed.
"""


def refresh(version: str = VERSION) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"govuk-frontend@{version}", "--silent"], cwd=tmp,
                       check=True, capture_output=True)
        with tarfile.open(Path(tmp) / f"govuk-frontend-{version}.tgz") as archive:
            archive.extractall(tmp, filter="data")
        dist = Path(tmp) / "package" / "dist" / "govuk"
        HERE.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            text = (dist / name).read_text(encoding="utf-8")
            text = SOURCE_MAP.sub("", FONT_FACE.sub("", text))
            (HERE / name).write_text(text, encoding="utf-8")
    (HERE / "LICENCE.txt").write_text(LICENCE.format(version=version), encoding="utf-8")
    (HERE / "VERSION").write_text(version + "\n", encoding="utf-8")


if __name__ == "__main__":
    refresh(sys.argv[1] if len(sys.argv) > 1 else VERSION)
