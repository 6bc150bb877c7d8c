"""Render a leaderboard page in headless Chromium and report what a reader would see.

Chromium runs as a plain command (``--dump-dom``, ``--screenshot``), so no driver package has to
match the browser's version: the system's Chromium (Debian: ``apt-get install
chromium-headless-shell``) is all it needs. A small script added to a copy of the page measures,
once everything has loaded, the sections, whether every image loaded and at what scale, and every
text box whose text does not fit it; the result is read back from the dumped page.

    python tests/browser_check.py runs/league/leaderboard.html --screenshot /tmp/leaderboard-1400.png
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "headless_shell")
INSTALL_HINT = "install it with 'apt-get install chromium-headless-shell' or name it in $HOCKEY_LEAGUE_CHROMIUM"

OPEN_DETAILS = """<script>document.querySelectorAll("details").forEach((d) => { d.open = true; });</script>"""
CHECK_SCRIPT = """<script>
window.addEventListener("load", () => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  const result = {sections: [...document.querySelectorAll("section[id]")].map((s) => s.id), images: [], clipped: []};
  for (const image of document.images) {
    const box = image.getBoundingClientRect();
    result.images.push({src: image.getAttribute("src"), loaded: image.complete && image.naturalWidth > 0,
                        natural: image.naturalWidth, shown: box.width});
  }
  for (const e of document.querySelectorAll("h1,h2,h3,p,li,dt,dd,th,td,summary")) {
    if (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1) {
      result.clipped.push(e.tagName + ": " + e.textContent.slice(0, 60));
    }
  }
  result.too_wide = [...document.querySelectorAll("table,img,p,dl")]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
    .map((e) => `${e.tagName}.${e.className || e.getAttribute("src") || ""}: `
                + `${Math.round(e.getBoundingClientRect().right)} px`);
  result.page_width = document.documentElement.scrollWidth;
  result.window_width = window.innerWidth;
  result.page_height = document.documentElement.scrollHeight;
  const out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def find_chromium() -> str | None:
    """The Chromium to use: $HOCKEY_LEAGUE_CHROMIUM, else the first of ``BROWSERS`` on the PATH."""
    named = os.environ.get("HOCKEY_LEAGUE_CHROMIUM")
    if named:
        return named if shutil.which(named) else None
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _run(browser: str, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def inspect_page(page: Path, width: int = 1400, browser: str | None = None) -> dict:
    """What Chromium sees of ``page`` in a window ``width`` px wide (details opened): sections,
    images (loaded, natural and shown width), clipped text, the page's width and height."""
    browser = browser or find_chromium()
    if browser is None:
        raise FileNotFoundError(f"no Chromium found ({', '.join(BROWSERS)}): {INSTALL_HINT}")
    page = Path(page).resolve()
    probe = page.with_name(f".{page.stem}.browser-check.html")  # beside the page, so its pictures load
    probe.write_text(page.read_text().replace("</body>", CHECK_SCRIPT + "</body>"))
    try:
        result = _run(
            browser, "--dump-dom", "--virtual-time-budget=10000", f"--window-size={width},1000", probe.as_uri()
        )
    finally:
        probe.unlink(missing_ok=True)
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', result.stdout, re.S)
    if found is None:
        raise RuntimeError(f"Chromium returned no measurements (exit {result.returncode}): {result.stderr[-500:]}")
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, out: Path, width: int = 1400, height: int | None = None, browser: str | None = None) -> Path:
    """A screenshot of the whole page at ``width`` px (its height measured first unless given)."""
    browser = browser or find_chromium()
    if browser is None:
        raise FileNotFoundError(f"no Chromium found: {INSTALL_HINT}")
    height = height or inspect_page(page, width, browser)["page_height"]
    out, page = Path(out).resolve(), Path(page).resolve()
    opened = page.with_name(f".{page.stem}.screenshot.html")  # the candidates' table unfolded, as inspected
    opened.write_text(page.read_text().replace("</body>", OPEN_DETAILS + "</body>"))
    try:
        _run(
            browser,
            f"--screenshot={out}",
            f"--window-size={width},{height}",
            "--virtual-time-budget=10000",
            opened.as_uri(),
        )
    finally:
        opened.unlink(missing_ok=True)
    if not out.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot to {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("page", type=Path, help="the leaderboard.html to open")
    parser.add_argument("--width", type=int, default=1400, help="the window's width in px (default 1400)")
    parser.add_argument("--screenshot", type=Path, help="also save a screenshot of the whole page here")
    args = parser.parse_args(argv)
    if not args.page.is_file():
        print(f"error: {args.page} is not a file; expected a leaderboard.html", file=sys.stderr)
        return 2
    seen = inspect_page(args.page, args.width)
    print(json.dumps(seen, indent=1))
    if args.screenshot:
        print("screenshot:", screenshot(args.page, args.screenshot, args.width, seen["page_height"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
