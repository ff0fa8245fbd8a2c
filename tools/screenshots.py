"""Screenshots for the README and docs/web.md: runs `resolute demo` in a scratch data directory,
signs in as the demo analyst in headless Chromium and saves the situation map and the dashboard
to docs/screenshots/. Usage: python tools/screenshots.py [--out docs/screenshots]"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "screenshots"))
    ap.add_argument("--user", default="analyst-usa")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", "import sys; from resolute.cli import main; sys.exit(main())", "--data-dir", tmp, "demo", "--port", str(port), "--tak-port", "0"]
        demo = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"})
        password, lines = None, []
        for line in demo.stdout:
            lines.append(line)
            m = re.search(r"new each run\): (\S+)", line)
            password = m.group(1) if m else password
            if "serving on" in line:
                break
        if password is None:
            demo.kill()
            print("".join(lines))
            return 1
        base = f"http://127.0.0.1:{port}"
        for _ in range(60):
            try:
                urlopen(base + "/api/v1/parties", timeout=2)
                break
            except OSError:
                time.sleep(1)
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=os.environ.get("RESOLUTE_CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox", "--disable-background-networking"])
                page = b.new_page(viewport={"width": 1440, "height": 900})
                page.goto(base + "/accounts/login/")
                page.get_by_label("Username").fill(args.user)
                page.get_by_label("Password").fill(password)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_selector("#map[data-state='ready']", timeout=60_000)
                page.wait_for_selector("#map[data-layers='ready']", timeout=60_000)
                page.wait_for_timeout(1500)
                page.screenshot(path=str(out / "situation-map.png"))
                page.goto(base + "/dashboard/")
                page.screenshot(path=str(out / "dashboard.png"), full_page=True)
                b.close()
        finally:
            demo.terminate()
            demo.wait(30)
    print(f"saved {out / 'situation-map.png'} and {out / 'dashboard.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
