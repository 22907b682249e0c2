"""Two Nexus replicas on one log in PostgreSQL (`spike dev up --replicas 2`), checked with tools
we did not write: the log copied out of PostgreSQL by `spike log copy` is read by the independent
reader (spike_log.py: chain, bodies, the replica each start names), and Chromium renders the audit
report's lane per replica with the crash on the right one."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from spike_log import load_private_key, read_log
from test_log_tools import SPIKE, Cluster, render_in_chromium


@pytest.fixture(scope="module")
def replicas():
    # Not under pytest's own temporary directory: the cluster's PostgreSQL runs as its own user
    # (under root), which must reach its directory; and Unix socket paths are short.
    base = tempfile.mkdtemp(prefix="spike-ha-", dir="/tmp")
    os.chmod(base, 0o711)
    c = Cluster(os.path.join(base, "ha"))
    c.spike("dev", "up", "--dir", c.dir, "--admin-password-file", c.password_file, "--poll-interval", "1s",
            "--store", "postgres", "--replicas", "2", timeout=300)
    urls = c.env("env")["SPIKE_NEXUS_API_URLS"].split(",")
    c.through = lambda replica: {**c.env("env"), "SPIKE_NEXUS_API_URL": urls[replica]}
    user = "postgres" if os.getuid() == 0 else os.environ.get("USER", "")
    c.url = f"postgres:///spike?host={c.dir}/postgres&user={user}"
    subprocess.run([SPIKE, "secret", "put", "apps/ha", "v=1"], env=c.through(0), check=True, capture_output=True, timeout=60)
    # nexus is SIGKILLed; nexus-2 serves on; nexus comes back.
    c.kill("nexus")
    subprocess.run([SPIKE, "secret", "put", "apps/ha", "v=2"], env=c.through(1), check=True, capture_output=True, timeout=60)
    c.spike("dev", "up", "--dir", c.dir, timeout=300)
    time.sleep(1.5)
    c.spike("dev", "down", "--dir", c.dir)
    c.spike("dev", "start", "--dir", c.dir, "postgres")
    yield c
    c.spike("dev", "down", "--dir", c.dir, "--purge", check=False)
    shutil.rmtree(base, ignore_errors=True)


def test_the_log_copied_out_of_postgres_reads_with_the_independent_reader(replicas, tmp_path):
    copy = str(tmp_path / "copy")
    replicas.spike("log", "copy", "--from", replicas.url, "--to", copy)
    _, records = read_log(copy, load_private_key(os.path.join(replicas.data, "audit-key.pem")))
    events = [(r["sequence"], r["kind"], json.loads(r["body"])["data"]) for r in records]
    starts = [(sequence, data) for sequence, kind, data in events if kind == 3]
    assert [data["replica"] for _, data in starts] == ["nexus", "nexus-2", "nexus"], starts
    # nexus' second start names its first as crashed; nexus-2's start crashed nothing.
    assert starts[1][1].get("previousStartCrashed") is None
    assert starts[2][1]["previousStartCrashed"] == starts[0][0]
    stops = [data["instance"] for _, kind, data in events if kind == 4]
    assert sorted(stops) == sorted([starts[1][1]["instance"], starts[2][1]["instance"]])
    puts = [data for _, kind, data in events if kind == 40 and data["path"] == "apps/ha"]
    assert [put["version"] for put in puts] == [1, 2]


def test_the_html_report_draws_a_lane_per_replica_in_chromium(replicas, tmp_path):
    page = tmp_path / "report.html"
    replicas.spike("log", "audit", "--postgres-url", replicas.url, "--data-dir", replicas.data, "--html", str(page))
    dom, rows = render_in_chromium(page, tmp_path)
    for lane in ("nexus", "replica-nexus", "replica-nexus-2", "keeper-1"):
        assert f'data-lane="{lane}"' in dom, lane
    assert dom.count('class="marker crash"') == 1
    assert "Nexus replica nexus crashed after" in dom
    running = sum(1 for row in rows for pixel in row if pixel == (0x17, 0xbe, 0xcf))
    assert running > 2000, "the replicas' running stretches are not drawn"
