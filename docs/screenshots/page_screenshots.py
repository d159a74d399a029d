"""Make the screenshots of the report pages from what `make demo` stored (docs/screenshots/):

    overdue.png (1280 px) and overdue-phone.png (390 px)   today's overdue report
    team-phone.png (390 px)                                 the Delivery team's page (the digest links it)
    workload.png (1280 px)                                  today's workload report
    store-home.png (1280 px), store-home-phone.png (390 px) the store's home

    make demo && .venv/bin/python docs/screenshots/page_screenshots.py [demo-out]

Headless Chromium (Debian's, `make browsers`), the top of each page at the size below.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# name: (the page, from the store root, "{date}" for the newest overdue day; width; height)
SHOTS = {
    "overdue": ("overdue/{date}/index.html", 1280, 1600),
    "overdue-phone": ("overdue/{date}/index.html", 390, 1400),
    "team-phone": ("overdue/{date}/team-91ab2c3d.html", 390, 2600),
    "workload": ("workload/{date}/index.html", 1200, 1500),
    "store-home": ("index.html", 1280, 1250),
    "store-home-phone": ("index.html", 390, 1400),
}


def newest_day(store: Path) -> str:
    days = sorted(p.name for p in (store / "overdue").iterdir() if p.is_dir() and p.name[:2] == "20")
    if not days:
        raise SystemExit(f"no overdue report in {store}: run `make demo` first")
    return days[-1]


def shoot(page: Path, out: Path, width: int, height: int) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",  # noqa: S603 - the local chromium
                        "--hide-scrollbars", f"--user-data-dir={tmp}/profile", f"--screenshot={out}",
                        f"--window-size={width},{height}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)


def main(argv: list[str]) -> int:
    store = Path(argv[0] if argv else REPO / "demo-out").resolve()
    day = newest_day(store)
    for name, (path, width, height) in SHOTS.items():
        page = store / path.format(date=day)
        if "team-" in path and not page.is_file():  # the Delivery team's page, whatever its file name
            page = next((store / "overdue" / day).glob("team-91ab2c3d*.html"))
        shoot(page, HERE / f"{name}.png", width, height)
        print(HERE / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
