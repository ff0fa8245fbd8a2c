"""A pytak client and the ODK Collect exchange (Digest) put observations into a running
`resolute demo`: the real command in a subprocess, its web server and TAK listener on free
ports, counted in its database, then stopped with Ctrl-C, losing nothing."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
from requests.auth import HTTPDigestAuth

from tests.interop.test_openrosa import JPEG, LIST_NS, Collect, sector_answers
from tests.interop.test_openrosa_digest import _template

pytestmark = [pytest.mark.slow]
CLI = [sys.executable, "-c", "import sys; from resolute.cli import main; sys.exit(main())"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count(db, intake: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
        return c.execute("select count(*) from monitoring_observation where intake = ?", (intake,)).fetchone()[0]


def test_pytak_and_odk_collect_into_a_running_demo(tmp_path):
    from resolute.interop import tak

    data, web, tak_port = tmp_path / "data", free_port(), free_port()
    demo = subprocess.Popen(
        [*CLI, "--data-dir", str(data), "demo", "--port", str(web), "--tak-port", str(tak_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{web}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert demo.poll() is None, demo.stdout.read()
            try:
                if requests.get(base + "/api/v1/parties", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the demo did not start serving"
            time.sleep(1)
        db = next(data.glob("*.sqlite3"))
        before = count(db, "cot"), count(db, "openrosa")

        # TAK: a burst from the real pytak client.
        asyncio.run(tak.pytak_burst(f"tcp://127.0.0.1:{tak_port}", tak.bench_events(2_000)))

        # ODK Collect: a device token for the demo's monitor, then the Collect exchange over Digest.
        issued = subprocess.run([*CLI, "--data-dir", str(data), "token", "issue", "monitor-fra", "--name", "odk", "--scope", "read", "--scope", "write"],
                                capture_output=True, text=True, check=True)  # fmt: skip
        secret = issued.stdout.strip().splitlines()[-1].strip()
        s = requests.Session()
        s.auth = HTTPDigestAuth("monitor-fra", secret)
        s.headers["X-OpenRosa-Version"] = "1.0"
        assert s.head(base + "/openrosa/submission", timeout=30).status_code == 204
        entry = ET.fromstring(s.get(base + "/openrosa/formList", timeout=30).content).find(f"{LIST_NS}xform")
        collect = Collect(None, {})
        collect.template = _template(s.get(entry.findtext(f"{LIST_NS}downloadUrl"), timeout=30).content)
        for _ in range(3):
            xml = collect.fill(f"uuid:{uuid.uuid4()}", **sector_answers())
            files = {"xml_submission_file": ("submission.xml", xml, "text/xml"), "photo.jpg": ("photo.jpg", JPEG, "image/jpeg")}
            assert s.post(base + "/openrosa/submission", files=files, timeout=30).status_code == 201

        for _ in range(120):
            if count(db, "cot") - before[0] == 2_000:
                break
            time.sleep(0.5)
        assert count(db, "cot") - before[0] == 2_000
        assert count(db, "openrosa") - before[1] == 3
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            out, _ = demo.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            out, _ = demo.communicate()
    assert "TAK / CoT listener on" in out and "OpenRosa for ODK Collect" in out
