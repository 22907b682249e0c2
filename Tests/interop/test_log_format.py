"""The log format as documented is enough for an independent reader: a log written by
`spike log demo` is walked, verified and decrypted here with Python's lmdb and cryptography."""
import json
import os
import shutil
import struct
import subprocess

import lmdb
import pytest

from spike_log import LogDamaged, authenticator_digest, authenticator_valid, load_private_key, read_log

SPIKE = os.environ.get("SPIKE_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug/spike"))


@pytest.fixture
def demo_log(tmp_path):
    directory = tmp_path / "data"
    subprocess.run([SPIKE, "log", "demo", "--dir", str(directory)], check=True, capture_output=True)
    return directory


def test_python_reads_and_decrypts_what_swift_wrote(demo_log):
    log_id, events = read_log(str(demo_log), load_private_key(str(demo_log / "audit.key")))
    assert len(log_id) == 32
    assert [event["sequence"] for event in events] == [2, 3, 4, 5, 6]
    bodies = sorted(json.loads(event["body"])["outcome"] for event in events if event["kind"] == 21)
    assert bodies == ["empty-404", "has-shard"]
    assert all(event["epoch"] == 1 and event["segment"] == 1 for event in events)


def test_python_checks_an_authenticated_record_with_its_key(demo_log):
    _, events = read_log(str(demo_log), load_private_key(str(demo_log / "audit.key")))
    authenticated = [event for event in events if event["authenticated"]]
    assert [event["sequence"] for event in authenticated] == [6]
    event = authenticated[0]
    assert json.loads(event["body"]) == {"demo": "authenticated"}  # the tag is not part of the body
    key = bytes.fromhex((demo_log / "auth.key").read_text().strip())
    assert authenticator_valid(event, key)
    assert not authenticator_valid(event, bytes(32))
    # The tag covers the header: the same record and tag at another sequence fail.
    header = bytearray(event["header"])
    header[8:16] = struct.pack(">Q", event["sequence"] + 1)
    moved = dict(event, authenticator=dict(event["authenticator"], digest=authenticator_digest(bytes(header), event["body"])))
    assert not authenticator_valid(moved, key)


def test_without_the_key_the_chain_still_verifies_and_bodies_stay_sealed(demo_log):
    _, events = read_log(str(demo_log))
    assert len(events) == 5 and all(event["body"] is None for event in events)


def test_python_agrees_with_swift_about_a_damaged_record(demo_log, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(demo_log, damaged)
    env = lmdb.open(str(damaged), max_dbs=4)
    events_db = env.open_db(b"events")
    with env.begin(write=True) as txn:
        key = struct.pack(">Q", 3)
        value = bytearray(txn.get(key, db=events_db))
        value[80] ^= 1  # inside the body
        txn.put(key, bytes(value), db=events_db)
    env.close()
    with pytest.raises(LogDamaged, match="record 3 does not hash"):
        read_log(str(damaged))
    swift = subprocess.run([SPIKE, "log", "verify", "--dir", str(damaged)], capture_output=True, text=True)
    assert swift.returncode != 0
    assert "record 3: alteredRecord" in swift.stdout
