"""`spike log export|audit|replay|stats` on the log of a real dev cluster that went through a
scripted failure story (a Keeper restart, every process SIGKILLed, wrong passwords, a reset),
checked against tools we did not write: the independent reader (spike_log.py), Python's csv,
DuckDB running the queries of docs/analysis.md, and Chromium rendering the HTML report."""
import csv
import datetime
import io
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import time
import zlib

import lmdb
import pytest

from spike_log import load_private_key, read_log

SPIKE = os.environ.get("SPIKE_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug/spike"))
ROOT = os.path.join(os.path.dirname(__file__), "../..")
PASSWORD = "correct horse battery staple, for the log tools"
CANARY = "canary-7f3a9c1e-never-exported"
# The stable kind names of docs/log-format.md, by number.
KINDS = {2: "EpochStarted", 3: "NexusStarted", 4: "NexusStopped", 5: "RootKeyRestored", 6: "RootKeyRestoreFailed",
         7: "AdminPasswordAdded", 8: "AdminPasswordChanged", 9: "SystemReset", 10: "AdminPasswordRemoved",
         11: "RecoveryShardsExported", 12: "RootKeyRotated", 13: "RootKeyRotationCompleted", 20: "ShardDistributed",
         21: "KeeperPolled", 22: "KeeperRehydrated", 40: "SecretPut", 41: "SecretDeleted", 42: "SecretUndeleted",
         43: "SecretDestroyed", 44: "PolicyPut", 45: "PolicyDeleted", 46: "AccessDenied"}
SEALED = {"sealedValue", "sealedShard", "wrappedEpochPrivateKey", "keyCheckValue", "salt", "sealed", "sealedRootKey",
          "previousKeyCheckValue", "previousKeys"}


class Cluster:
    def __init__(self, directory):
        self.dir = str(directory)
        self.data = os.path.join(self.dir, "nexus")
        self.password_file = os.path.join(os.path.dirname(self.dir), "password")
        with open(self.password_file, "w") as f:
            f.write(PASSWORD)

    def env(self, name="env"):
        env = dict(os.environ)
        with open(os.path.join(self.dir, name)) as f:
            for line in f:
                match = re.match(r"export (\w+)='(.*)'$", line.strip())
                if match:
                    env[match.group(1)] = match.group(2)
        return env

    def spike(self, *args, env=None, input=None, check=True, timeout=120):
        result = subprocess.run([SPIKE, *args], env=self.env(env) if env else None, input=input, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"spike {' '.join(args)} failed ({result.returncode}): {result.stdout}{result.stderr}")
        return result

    def kill(self, name):
        with open(os.path.join(self.dir, "run", f"{name}.pid")) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)

    def wait(self, condition, what, limit=30):
        deadline = time.time() + limit
        while time.time() < deadline:
            if condition():
                return
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}")

    def exported(self, *args):
        """The export's events; none when the filter matched nothing (which `spike` refuses)."""
        result = self.spike("log", "export", "--data-dir", self.data, *args, check=False)
        if result.returncode == 1 and "matches the filter: nothing was written" in result.stderr:
            return []
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("logtools")
    c = Cluster(base / "cluster")
    c.spike("dev", "up", "--dir", c.dir, "--admin-password-file", c.password_file, "--poll-interval", "1s")
    for args in (["apps/db", f"pass={CANARY}"], ["apps/copy", f"pass={CANARY}"], ["apps/web", "key=one"], ["apps/web", "key=two"]):
        c.spike("secret", "put", *args, env="env")
    c.spike("secret", "delete", "apps/web", env="env")
    c.spike("policy", "create", "--name", "readers", "--spiffeid-pattern", "^spiffe://spike.ist/workload/.*$",
            "--path-pattern", "^apps/.*$", "--permissions", "read", env="env")
    # The recover identity may not read secrets: a refusal, recorded.
    refused = c.spike("secret", "get", "apps/db", env="env-recover", check=False)
    assert refused.returncode != 0
    c.backup = os.path.join(str(base), "backup-early")
    c.spike("log", "backup", "--data-dir", c.data, "--to", c.backup)
    # SPIKE's recovery shard files of this epoch, for the offline tools.
    c.shards = os.path.join(str(base), "shards")
    env_recover = c.env("env-recover")
    env_recover["SPIKE_PILOT_RECOVERY_DIR"] = c.shards
    subprocess.run([SPIKE, "operator", "recover"], env=env_recover, check=True, capture_output=True, timeout=60)
    c.shards = os.path.join(c.shards, "recover")
    c.spike("secret", "put", "apps/late", "v=1", env="env")
    # A Keeper restarts empty and is rehydrated.
    c.kill("keeper-2")
    time.sleep(2)
    c.spike("dev", "start", "--dir", c.dir, "keeper-2")
    c.wait(lambda: c.exported("--kind", "KeeperRehydrated"), "keeper-2's rehydration")
    # Every process SIGKILLed: the Keepers come back empty, the Nexus sealed; two wrong passwords.
    time.sleep(1.5)
    for name in ("nexus", "keeper-1", "keeper-2", "keeper-3"):
        c.kill(name)
    assert c.spike("dev", "up", "--dir", c.dir, "--timeout", "5", check=False).returncode != 0
    for attempt in (1, 2):
        wrong = c.spike("recover", env="env-recover", input=f"not the password {attempt}\n", check=False)
        assert "does not unwrap" in wrong.stdout + wrong.stderr
    assert "recovered" in c.spike("recover", env="env-recover", input=PASSWORD + "\n").stdout
    c.wait(lambda: c.spike("dev", "status", "--dir", c.dir, check=False).returncode == 0, "the Nexus to be ready")
    time.sleep(1.5)
    yield c
    c.spike("dev", "down", "--dir", c.dir, "--purge", check=False)


@pytest.fixture(scope="module")
def after_reset(cluster):
    """The story's end: the cluster stopped and the system reset (its log kept)."""
    cluster.spike("dev", "down", "--dir", cluster.dir)
    cluster.spike("reset", "--data-dir", cluster.data, "--yes", "--reason", "pytest: the story ends with a reset")
    return cluster


def reader_events(c, data=None):
    _, events = read_log(data or c.data, load_private_key(os.path.join(c.data, "audit-key.pem")))
    return events


def rfc3339(ns):
    seconds, fraction = divmod(ns, 1_000_000_000)
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


def strip_sealed(value):
    if isinstance(value, dict):
        return {k: strip_sealed(v) for k, v in value.items() if k not in SEALED}
    if isinstance(value, list):
        return [strip_sealed(v) for v in value]
    return value


# --- While the cluster runs -------------------------------------------------------------------

def test_replay_equals_the_live_nexus_and_an_older_backup_does_not(cluster):
    same = cluster.spike("log", "replay", "--data-dir", cluster.data, "--password-file", cluster.password_file,
                         "--compare", cluster.env()["SPIKE_NEXUS_API_URL"], env="env")
    assert "all 7 data events authenticated" in same.stdout, same.stdout
    assert "serves exactly these 4 secrets and 1 policies" in same.stdout, same.stdout
    behind = cluster.spike("log", "replay", "--data-dir", cluster.backup, "--key", os.path.join(cluster.data, "audit-key.pem"),
                           "--compare", cluster.env()["SPIKE_NEXUS_API_URL"], env="env", check=False)
    assert behind.returncode == 1
    assert "1 difference(s)" in behind.stdout and "secret apps/late: listed by the Nexus, not in the log" in behind.stdout, behind.stdout


def test_a_head_kept_outside_tells_the_log_from_a_rolled_back_copy(cluster, tmp_path):
    c = cluster
    out = c.spike("log", "head", "--data-dir", c.data, "--password-file", c.password_file).stdout
    head = json.loads(out)
    # What the independent reader sees: the committed head in `meta`.
    env = lmdb.open(c.data, readonly=True, lock=False, max_dbs=8, subdir=True)
    with env.begin() as txn:
        raw = txn.get(b"head", db=env.open_db(b"meta", txn=txn, create=False))
    env.close()
    assert head["sequence"] >= 1 and len(head["mac"]) == 64 and head["epoch"] == 1
    assert struct.unpack(">Q", raw[:8])[0] >= head["sequence"]
    kept = tmp_path / "head.json"
    kept.write_text(json.dumps(head))
    c.spike("log", "head", "--data-dir", c.data, "--output", str(tmp_path / "h2.json"))
    assert os.stat(tmp_path / "h2.json").st_mode & 0o777 == 0o600
    ok = c.spike("log", "verify", "--data-dir", c.data, "--expect-head", str(kept), "--password-file", c.password_file)
    assert f"holds the expected head {head['sequence']}" in ok.stdout and "MAC is the root key's" in ok.stdout
    # The backup made early in the story is a log rolled back: behind the head kept.
    behind = c.spike("log", "verify", "--data-dir", c.backup, "--key", os.path.join(c.data, "audit-key.pem"),
                     "--expect-head", str(kept), check=False)
    assert behind.returncode != 0 and "the log is behind the expected head" in behind.stderr, behind.stderr
    # A head file someone edited: another link is another log; another sequence breaks the MAC.
    (tmp_path / "other-link.json").write_text(json.dumps(dict(head, link="00" * 32)))
    other = c.spike("log", "verify", "--data-dir", c.data, "--expect-head", str(tmp_path / "other-link.json"), check=False)
    assert other.returncode != 0 and "another record at the expected head's sequence" in other.stderr
    # A real earlier head of this log (the backup's) with the MAC of another: the MAC gives it away.
    moved = c.spike("log", "head", "--data-dir", c.backup, "--key", os.path.join(c.data, "audit-key.pem")).stdout
    forged = dict(json.loads(moved), mac=head["mac"], epoch=head["epoch"])
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    refused = c.spike("log", "verify", "--data-dir", c.data, "--expect-head", str(tmp_path / "forged.json"),
                      "--password-file", c.password_file, check=False)
    assert refused.returncode != 0 and "its MAC is not this root key's" in refused.stderr, refused.stdout + refused.stderr


def test_verify_names_version_keys_deleted_or_swapped_outside_an_event(cluster, tmp_path):
    c = cluster
    copy = str(tmp_path / "copy")
    c.spike("log", "backup", "--data-dir", c.data, "--to", copy)
    shutil.copy(os.path.join(c.data, "audit-key.pem"), os.path.join(copy, "audit-key.pem"))
    clean = c.spike("log", "verify", "--data-dir", copy, "--password-file", c.password_file)
    assert "key table: the keys of all" in clean.stdout
    # An attacker with the files: one version key deleted, two others swapped (raw LMDB, no event).
    env = lmdb.open(copy, max_dbs=8, subdir=True)
    with env.begin(write=True) as txn:
        keys = env.open_db(b"keys", txn=txn, create=False)
        entries = [(k, v) for k, v in txn.cursor(db=keys) if not k.startswith(b"r")]
        assert len(entries) >= 3
        (gone, _), (a, va), (b, vb) = entries[0], entries[1], entries[2]
        txn.delete(gone, db=keys)
        txn.put(a, vb, db=keys)
        txn.put(b, va, db=keys)
    env.close()
    damaged = c.spike("log", "verify", "--data-dir", copy, "--password-file", c.password_file, check=False)
    out = damaged.stdout + damaged.stderr
    assert damaged.returncode != 0 and "the key table is damaged: 3 of" in out, out
    assert out.count("its key is not in the key table") == 1 and out.count("does not open its value") == 2, out
    # Without the root key the chain is intact: only the key can tell.
    assert c.spike("log", "verify", "--data-dir", copy).returncode == 0


def test_follow_streams_new_events_as_they_are_appended(cluster):
    follower = subprocess.Popen([SPIKE, "log", "export", "--data-dir", cluster.data, "--follow", "--path-prefix", "follow/"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        cluster.spike("secret", "put", "follow/one", "v=1", env="env")
        ready, _, _ = select.select([follower.stdout], [], [], 15)
        assert ready, "no event streamed within 15 s"
        event = json.loads(follower.stdout.readline())
        assert event["kind"] == "SecretPut" and event["data"]["path"] == "follow/one" and event["data"]["version"] == 1
    finally:
        follower.terminate()
        follower.wait(10)


# --- On the story's log, reset included ------------------------------------------------------

def test_json_lines_parse_back_equal_to_the_events(after_reset):
    exported = after_reset.exported()
    events = reader_events(after_reset)
    assert [e["sequence"] for e in exported] == [e["sequence"] for e in events]
    for line, event in zip(exported, events):
        body = json.loads(event["body"])
        assert line["kind"] == KINDS[event["kind"]] and line["epoch"] == event["epoch"] and line["time"] == rfc3339(event["time"])
        assert line["actor"] == body["actor"] and line["trail"] == body["trail"]
        assert line["data"] == strip_sealed(body["data"]), line["kind"]


def test_csv_has_a_fixed_header_and_parses_with_pythons_csv(after_reset):
    out = after_reset.spike("log", "export", "--data-dir", after_reset.data, "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert out.splitlines()[0] == "sequence,time,epoch,kind,actor,trail,path,keeper,data"
    lines = after_reset.exported()
    assert len(rows) == len(lines)
    for row, line in zip(rows, lines):
        assert int(row["sequence"]) == line["sequence"] and row["kind"] == line["kind"] and row["actor"] == line["actor"]
        assert json.loads(row["data"]) == line["data"]
        assert row["path"] == line["data"].get("path", "") and row["keeper"] == str(line["data"].get("keeper", ""))


def test_filters_select_what_they_name(after_reset):
    everything = after_reset.exported()
    def expect(args, predicate):
        got = [e["sequence"] for e in after_reset.exported(*args)]
        assert got == [e["sequence"] for e in everything if predicate(e)], args
        assert got, args
    expect(["--kind", "KeeperPolled", "--kind", "KeeperRehydrated"], lambda e: e["kind"] in ("KeeperPolled", "KeeperRehydrated"))
    expect(["--keeper", "2"], lambda e: e["data"].get("keeper") == 2)
    expect(["--path-prefix", "apps/w"], lambda e: e["data"].get("path", "").startswith("apps/w"))
    expect(["--epoch", "0"], lambda e: e["epoch"] == 0)
    actor = "spiffe://spike.ist/spike/pilot/role/recover"
    expect(["--actor", actor], lambda e: e["actor"] == actor)
    middle = everything[len(everything) // 2]["time"]
    expect(["--since", middle], lambda e: e["time"] >= middle)
    expect(["--until", middle, "--kind", "SecretPut"], lambda e: e["time"] <= middle and e["kind"] == "SecretPut")
    nothing = after_reset.spike("log", "export", "--data-dir", after_reset.data, "--since", "2099-01-01T00:00:00Z", check=False)
    assert nothing.returncode == 1 and "matches the filter: nothing was written" in nothing.stderr


def test_no_export_holds_a_secret_and_equal_values_share_one_hmac(after_reset, tmp_path):
    hmac_key = tmp_path / "hmac.key"
    hmac_key.write_text(os.urandom(32).hex())
    runs = [[], ["--format", "csv"], ["--headers-only"], ["--hmac-key-file", str(hmac_key)],
            ["--hmac-key-file", str(hmac_key), "--format", "csv"]]
    for args in runs:
        out = after_reset.spike("log", "export", "--data-dir", after_reset.data, *args)
        assert CANARY not in out.stdout + out.stderr and PASSWORD not in out.stdout, args
    plain = after_reset.exported()
    assert not any("sealedValue" in e["data"] or "sealedShard" in e["data"] for e in plain)
    # The reset closed the epoch: its values cannot be opened any more, so their HMACs are of the
    # sealed bytes (all different). The backup still has the epoch: with the password, values open.
    backup_key = ["--key", os.path.join(after_reset.data, "audit-key.pem")]
    out = after_reset.spike("log", "export", "--data-dir", after_reset.backup, *backup_key, "--kind", "SecretPut",
                            "--hmac-key-file", str(hmac_key), "--password-file", after_reset.password_file).stdout
    puts = {(e["data"]["path"], e["data"]["version"]): e["data"]["sealedValue"] for e in map(json.loads, out.splitlines())}
    assert CANARY not in out
    assert puts[("apps/db", 1)] == puts[("apps/copy", 1)], puts
    assert puts[("apps/web", 1)] != puts[("apps/web", 2)] != puts[("apps/db", 1)]
    assert all(value.startswith("hmac-sha256:") and len(value) == 76 for value in puts.values())
    generated = after_reset.spike("log", "export", "--data-dir", after_reset.data, "--hmac", "--kind", "SecretPut")
    assert re.search(r"HMAC key of this export .*: [0-9a-f]{64}\n", generated.stderr)


def test_headers_only_agrees_with_the_independent_reader_on_every_record(after_reset):
    headers = after_reset.exported("--headers-only")
    _, events = read_log(after_reset.data)  # no key: the chain and headers only
    assert [(h["sequence"], h["time"], h["epoch"], h["kind"]) for h in headers] == \
        [(e["sequence"], rfc3339(e["time"]), e["epoch"], KINDS[e["kind"]]) for e in events]
    assert all(set(h) == {"sequence", "time", "epoch", "kind"} for h in headers)


def test_stats_count_what_the_reader_counts(after_reset):
    stats = json.loads(after_reset.spike("log", "stats", "--data-dir", after_reset.data, "--json").stdout)
    events = reader_events(after_reset)
    counts = {}
    for event in events:
        counts[KINDS[event["kind"]]] = counts.get(KINDS[event["kind"]], 0) + 1
    assert {kind: tally["records"] for kind, tally in stats["byKind"].items()} == counts
    assert stats["records"]["records"] == stats["segments"]["records"] + len(events)
    text = after_reset.spike("log", "stats", "--data-dir", after_reset.data).stdout
    assert "Keeper polling:" in text and "by day (growth):" in text


def analysis_queries():
    """The named SQL blocks of docs/analysis.md: what the test runs is what the document says."""
    text = open(os.path.join(ROOT, "docs/analysis.md")).read()
    return {m.group(1): m.group(2) for m in re.finditer(r"```sql\n-- (\w+)\n(.*?)```", text, re.S)}


def test_the_analysis_documents_queries_answer_right_in_duckdb(after_reset, tmp_path):
    import duckdb
    export = tmp_path / "events.jsonl"
    after_reset.spike("log", "export", "--data-dir", after_reset.data, "--output", str(export))
    queries = analysis_queries()
    assert set(queries) == {"load", "keeper_outage_minutes", "failed_recoveries", "refusals", "writes_per_hour"}
    con = duckdb.connect()
    con.execute(queries["load"].replace("'events.jsonl'", f"'{export}'"))
    events = [dict(e, body=json.loads(e["body"])) for e in reader_events(after_reset)]

    # Keeper outage minutes per day: each poll summary that is not has-shard lasts until the
    # Keeper's next summary (or its own last poll).
    polls = sorted((e["body"]["data"] for e in events if e["kind"] == 21), key=lambda d: (d["keeper"], d["firstAt"]))
    expected = {}
    for index, poll in enumerate(polls):
        if poll["outcome"] == "has-shard":
            continue
        following = polls[index + 1] if index + 1 < len(polls) and polls[index + 1]["keeper"] == poll["keeper"] else None
        end = following["firstAt"] if following else poll["lastAt"]
        day = datetime.datetime.fromtimestamp(poll["firstAt"] / 1000, datetime.timezone.utc).date()
        expected[(day, poll["keeper"])] = expected.get((day, poll["keeper"]), 0) + (end - poll["firstAt"]) / 60000
    got = {(row[0], row[1]): row[2] for row in con.execute(queries["keeper_outage_minutes"]).fetchall()}
    assert got.keys() == expected.keys() and {1, 2, 3} <= {keeper for _, keeper in got}
    assert all(abs(got[k] - expected[k]) < 1e-6 for k in got), (got, expected)

    failed = con.execute(queries["failed_recoveries"]).fetchall()
    assert failed == [("password", 2)]

    refusals = con.execute(queries["refusals"]).fetchall()
    assert refusals == [("spiffe://spike.ist/spike/pilot/role/recover", "secret.get", "apps/db", 1)]

    writes = {}
    for e in events:
        if 40 <= e["kind"] <= 45:
            hour = datetime.datetime.fromtimestamp(e["time"] // 1_000_000_000, datetime.timezone.utc).replace(minute=0, second=0)
            writes[hour] = writes.get(hour, 0) + 1
    got = {row[0].astimezone(datetime.timezone.utc): row[1] for row in con.execute(queries["writes_per_hour"]).fetchall()}
    assert got == writes and sum(got.values()) == 8  # 6 puts, a delete, a policy


def test_the_audit_report_names_each_incident_in_order(after_reset):
    report = json.loads(after_reset.spike("log", "audit", "--data-dir", after_reset.data, "--json").stdout)
    texts = [f["text"] for f in report["findings"]]
    order = ["was refused once", "keeper-2 had restarted empty", "The Nexus crashed after", "2 wrong passwords",
             "was recovered from admin", "The system was reset at"]
    positions = [next((i for i, t in enumerate(texts) if incident in t), None) for incident in order]
    assert None not in positions and positions == sorted(positions), texts
    assert "pytest: the story ends with a reset" in texts[positions[-1]]
    assert [run["end"] for run in report["runs"]] == ["crashed", "stopped"]
    assert [e["endedBy"] for e in report["epochs"]] == ["reset"]
    text = after_reset.spike("log", "audit", "--data-dir", after_reset.data).stdout
    assert text.index("Findings") < text.index("The Nexus crashed") < text.index("Nexus processes")


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG, decoded here."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunk = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b, c = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1: line[x] = (line[x] + a) & 255
            elif kind == 2: line[x] = (line[x] + b) & 255
            elif kind == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, channels)])
        previous = line
    return width, height, rows


def render_in_chromium(page, tmp_path):
    """The DOM Chromium builds from `page`, and the pixels of its screenshot (rows of RGB tuples)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is not installed (scripts/lib/setup.sh installs it)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1300,900"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    _, _, rows = png_pixels(shot)
    return dom, rows


def test_the_html_report_renders_in_chromium_with_its_lanes_and_the_reset(after_reset, tmp_path):
    page = tmp_path / "report.html"
    after_reset.spike("log", "audit", "--data-dir", after_reset.data, "--html", str(page))
    html = page.read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html.split("<svg")[0]
    dom, rows = render_in_chromium(page, tmp_path)
    for lane in ("nexus", "keeper-1", "keeper-2", "keeper-3"):
        assert f'data-lane="{lane}"' in dom, lane
    assert 'class="marker reset"' in dom and 'class="marker crash"' in dom and 'data-epoch="1"' in dom
    assert "The system was reset at" in dom
    counts = {}
    for row in rows:
        for pixel in row:
            counts[pixel] = counts.get(pixel, 0) + 1
    assert counts.get((0xd6, 0x27, 0x28), 0) > 200, "the reset marker is not drawn"
    assert counts.get((0x2c, 0xa0, 0x2c), 0) > 5000, "no lane is drawn ready / has-shard"
    assert counts.get((0xff, 0x7f, 0x0e), 0) > 0, "no sealed or empty stretch is drawn"


def test_replay_and_verify_take_the_root_key_from_recovery_shards_or_a_password(after_reset):
    c, key = after_reset, ["--key", os.path.join(after_reset.data, "audit-key.pem")]
    replayed = c.spike("log", "replay", "--data-dir", c.backup, *key, "--shards", c.shards, "--json")
    summary = json.loads(replayed.stdout)
    assert summary["epoch"] == 1 and summary["authentication"].startswith("all 6 data events authenticated with the root key from recovery shards")
    assert [s["path"] for s in summary["secrets"]] == ["apps/copy", "apps/db", "apps/web"]
    assert summary["secrets"][2]["versions"] == [{"version": 1, "deleted": False, "destroyed": False},
                                                 {"version": 2, "deleted": True, "destroyed": False}]
    verified = c.spike("log", "verify", "--data-dir", c.backup, *key, "--password-file", c.password_file)
    assert "intact" in verified.stdout and "matches the key check value of epoch 1; 6 data events authenticated" in verified.stdout
    # After the reset there is no epoch whose key a password could give.
    closed = c.spike("log", "replay", "--data-dir", c.data, "--password-file", c.password_file, check=False)
    assert closed.returncode == 1 and "the log has no current epoch" in closed.stderr


def test_the_audit_report_takes_the_time_and_epoch_filters(after_reset):
    c = after_reset
    everything = c.exported("--headers-only")
    epoch0 = json.loads(c.spike("log", "audit", "--data-dir", c.data, "--epoch", "0", "--json").stdout)
    assert epoch0["events"] == sum(1 for e in everything if e["epoch"] == 0) > 0
    late = everything[-5]["time"]
    tail = json.loads(c.spike("log", "audit", "--data-dir", c.data, "--since", late, "--json").stdout)
    assert tail["events"] == 5 and tail["first"] == late
    none = c.spike("log", "audit", "--data-dir", c.data, "--until", "2000-01-01T00:00:00Z", check=False)
    assert none.returncode == 1 and "matches --since/--until/--epoch" in none.stderr


def test_bad_input_is_one_clear_line_and_writes_nothing(after_reset, tmp_path):
    c = after_reset
    not_a_log = c.spike("log", "audit", "--data-dir", str(tmp_path), check=False)
    assert not_a_log.returncode == 1 and f"{tmp_path} holds no log" in not_a_log.stderr
    wrong = c.spike("log", "replay", "--data-dir", c.backup, "--key", os.path.join(c.data, "audit-key.pem"), "--password",
                    input="not the password\n", check=False)
    assert wrong.returncode == 1 and "the password does not unwrap the root key of epoch 1" in wrong.stderr
    other_key = tmp_path / "other.key"
    c.spike("log", "keygen", "--out", str(other_key))
    wrong_key = c.spike("log", "export", "--data-dir", c.data, "--key", str(other_key), check=False)
    assert wrong_key.returncode == 1 and "no offered key opens segment 1" in wrong_key.stderr and wrong_key.stdout == "", wrong_key.stderr
    # A copy with one record taken out: every tool names it, and an export writes no file.
    copy = tmp_path / "copy"
    c.spike("log", "backup", "--data-dir", c.data, "--to", str(copy))
    env = lmdb.open(str(copy), max_dbs=4)
    with env.begin(write=True) as txn:
        assert txn.delete(struct.pack(">Q", 12), db=env.open_db(b"events", txn=txn))
    env.close()
    key = ["--key", os.path.join(c.data, "audit-key.pem")]
    for tool in (["replay"], ["audit"], ["export", "--output", str(tmp_path / "out.jsonl")], ["export", "--headers-only"], ["stats"]):
        args = [*tool, *key] if tool[-1] not in ("--headers-only", "stats") else tool
        damaged = c.spike("log", *args, "--data-dir", str(copy), check=False)
        assert damaged.returncode == 1 and "record 12 is missing" in damaged.stderr, (tool, damaged.stderr)
    assert not (tmp_path / "out.jsonl").exists() and not any(p.name.startswith(".out.jsonl") for p in tmp_path.iterdir())
