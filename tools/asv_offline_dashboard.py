"""Make the dashboard that `asv publish` writes work without a network.

asv's ``index.html`` loads jQuery, flot, bootstrap, stupidtable and blueimp-md5 from CDNs, so
offline it shows only an error. This script installs the same libraries (pinned versions) from
the npm registry into ``asv_benchmarks/.npm`` (git-ignored; npm runs only when a file is
missing), copies the files the page needs into ``<html dir>/vendor/<package>/`` (keeping each
package's layout, so bootstrap's CSS still finds its fonts), and rewrites the page's
``<script src>`` / ``<link href>`` tags to those copies. It fails, naming the URL, if the page
loads anything remote it does not know. Run it after every ``asv publish``, which rewrites the
page::

    cd asv_benchmarks && asv publish && python ../tools/asv_offline_dashboard.py
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# CDN URL in asv 0.6's index.html -> (npm package, version, file inside the package).
# npm's flot has no minified builds (cdnjs minifies its own), so the plain files stand in.
# stupidtable 1.0.1 is not on npm; 1.1.3 is the same plugin (same $.fn.stupidtable API).
CDN_TO_NPM = {
    "https://code.jquery.com/jquery-3.3.1.min.js": ("jquery", "3.3.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": ("flot", "0.8.3", "jquery.flot.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js":
        ("flot", "0.8.3", "jquery.flot.time.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js":
        ("flot", "0.8.3", "jquery.flot.selection.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js":
        ("flot", "0.8.3", "jquery.flot.categories.js"),
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js":
        ("flot-orderbars", "1.0.0", "js/jquery.flot.orderBars.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js":
        ("stupid-table-plugin", "1.1.3", "stupidtable.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js":
        ("blueimp-md5", "2.19.0", "js/md5.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js":
        ("bootstrap", "3.1.1", "dist/js/bootstrap.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css":
        ("bootstrap", "3.1.1", "dist/css/bootstrap.min.css"),
}
# Files a vendored file refers to by a relative path: bootstrap.min.css loads ../fonts/*.
COMPANION_DIRS = {"bootstrap": ["dist/fonts"]}

# A <script src=...> or <link href=...> tag and the URL it loads.
TAG = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"(?P<url>[^\"]+)\"[^>]*>", re.IGNORECASE)
REMOTE = re.compile(r"^(?:https?:)?//", re.IGNORECASE)
# Attributes that only make sense for a cross-origin CDN copy.
CDN_ATTRIBUTES = re.compile(r"\s+(?:integrity|crossorigin|referrerpolicy)=\"[^\"]*\"", re.IGNORECASE)


def npm_install(npm_dir: Path) -> None:
    """Install every pinned package into npm_dir/node_modules unless all needed files are there."""
    if all((npm_dir / "node_modules" / pkg / path).is_file() for pkg, _, path in CDN_TO_NPM.values()):
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("asv_offline_dashboard: npm is not on PATH; it is needed once to fetch the dashboard's libraries")
    specs = sorted({f"{pkg}@{version}" for pkg, version, _ in CDN_TO_NPM.values()})
    npm_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--prefix", str(npm_dir), "--no-save", "--no-package-lock", "--no-audit",
                    "--no-fund", *specs], check=True)


def sri_matches(integrity: str, data: bytes) -> bool:
    """True when `data` has the digest of a Subresource Integrity value such as 'sha256-...'."""
    algorithm, _, expected = integrity.partition("-")
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == expected


def vendor(npm_dir: Path, html_dir: Path) -> dict[str, str]:
    """Copy the needed files into html_dir/vendor; return CDN URL -> the copy's relative path."""
    local = {}
    for url, (pkg, _, path) in CDN_TO_NPM.items():
        source = npm_dir / "node_modules" / pkg / path
        target = html_dir / "vendor" / pkg / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        local[url] = f"vendor/{pkg}/{path}"
    for pkg, dirs in COMPANION_DIRS.items():
        for d in dirs:
            shutil.copytree(npm_dir / "node_modules" / pkg / d, html_dir / "vendor" / pkg / d, dirs_exist_ok=True)
    return local


def rewrite_page(page: Path, local: dict[str, str]) -> list[str]:
    """Point the page's CDN tags at the local copies; return one line per rewritten tag."""
    notes = []

    def localise(match: re.Match) -> str:
        tag, url = match.group(0), match.group("url")
        if not REMOTE.match(url):
            return tag
        if url not in local:
            raise SystemExit(f"asv_offline_dashboard: {page.name} loads {url}, which has no local copy; "
                             "add it to CDN_TO_NPM (did asv's page template change?)")
        integrity = re.search(r"integrity=\"([^\"]+)\"", tag)
        copy = page.parent / local[url]
        same = "same bytes as the CDN's" if integrity and sri_matches(integrity.group(1), copy.read_bytes()) \
            else "npm's build, not the CDN's bytes"
        notes.append(f"{url} -> {local[url]} ({same})")
        return CDN_ATTRIBUTES.sub("", tag.replace(url, local[url]))

    page.write_text(TAG.sub(localise, page.read_text(encoding="utf-8")), encoding="utf-8")
    return notes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html-dir", type=Path, default=REPO / "asv_benchmarks" / "html",
                        help="the directory `asv publish` wrote (default: asv_benchmarks/html)")
    parser.add_argument("--npm-dir", type=Path, default=REPO / "asv_benchmarks" / ".npm",
                        help="where npm installs the libraries (default: asv_benchmarks/.npm, git-ignored)")
    args = parser.parse_args(argv)
    pages = sorted(args.html_dir.glob("*.html"))
    if not (args.html_dir / "index.html").is_file():
        sys.exit(f"asv_offline_dashboard: no index.html in {args.html_dir}; run `asv publish` first")
    npm_install(args.npm_dir)
    local = vendor(args.npm_dir, args.html_dir)
    for page in pages:
        for note in rewrite_page(page, local):
            print(f"{page.name}: {note}")
    print(f"offline dashboard ready: serve {args.html_dir} (e.g. python -m http.server --bind 127.0.0.1 8080 "
          f"--directory {args.html_dir}) and open http://127.0.0.1:8080/")


if __name__ == "__main__":
    main()
