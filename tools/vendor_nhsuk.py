"""Vendor the built CSS of the `nhsuk-frontend` npm package into careis.

Why vendored, not linked: careis outputs are opened offline, e-mailed and printed, and a
report must not call out to a CDN with a patient-level page open. So the one built stylesheet
is copied into the package once, with its licence, and two things are changed so that nothing
is fetched over the network:
- the `@font-face` rules (Frutiger from assets.nhs.uk) are dropped: the NHS.UK font stack then
  falls back to Arial, then the system sans-serif, as the frontend itself specifies;
- the four small SVG icons the CSS refers to by `/assets/images/...` are inlined as data URIs.

Usage (at development time, when upgrading; not at install or run time):
    npm pack nhsuk-frontend@10.6.1 && tar xzf nhsuk-frontend-10.6.1.tgz
    python tools/vendor_nhsuk.py package
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "src" / "careis" / "report" / "static"
FONT_FACE = re.compile(r"@font-face\{[^}]*\}")
IMAGE_URL = re.compile(r"url\(/assets/images/([a-z0-9-]+\.svg)\)")


def vendor(package: Path) -> Path:
    """Write the cleaned stylesheet and a provenance note; return the stylesheet's path."""
    version = json.loads((package / "package.json").read_text("utf-8"))["version"]
    dist = package / "dist" / "nhsuk"
    css = (dist / f"nhsuk-frontend-{version}.min.css").read_text("utf-8")
    css = FONT_FACE.sub("", css)
    images = dist / "assets" / "images"

    def inline(match: re.Match[str]) -> str:
        svg = (images / match.group(1)).read_bytes()
        return "url(data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii") + ")"

    css = IMAGE_URL.sub(inline, css)
    if "url(/" in css or "https://" in css:
        raise SystemExit("the stylesheet still refers to a remote or absolute URL")
    out = TARGET / "nhsuk-frontend.min.css"
    out.write_text(css, "utf-8")
    digest = hashlib.sha256(css.encode("utf-8")).hexdigest()
    (TARGET / "VENDORED.md").write_text(
        f"# Vendored files\n\n`nhsuk-frontend.min.css`: nhsuk-frontend {version} (npm), "
        f"`dist/nhsuk/nhsuk-frontend-{version}.min.css`, MIT licence (`LICENSE-nhsuk-frontend`).\n"
        "Changed by `tools/vendor_nhsuk.py`: `@font-face` rules removed (no web font is fetched; "
        "Arial or the system sans-serif is used) and four SVG icons inlined as data URIs.\n"
        f"SHA-256 of the vendored file: `{digest}`.\n",
        "utf-8",
    )
    return out


if __name__ == "__main__":
    print(vendor(Path(sys.argv[1])))
