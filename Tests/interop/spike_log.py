"""An independent reader of the Spike event log, written from docs/log-format.md alone.

It walks a log with the `lmdb` package, checks every record and the hash chain up to the
committed head, and, given an X25519 private key that the log's segment keys are sealed to,
opens the segment keys (HPKE) and every event body (AES-256-GCM). An authenticated event
record's body is returned without its authenticator, which comes apart with the digest it
covers, for a holder of the authentication key to check (`authenticator_valid`).

    python3 spike_log.py DATA_DIR [PRIVATE_KEY_PEM]
"""
import hashlib
import hmac
import struct
import sys

import lmdb
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HEADER = struct.Struct(">BBHIQqQ32sI")  # 68 bytes, big-endian
SEGMENT, EVENT, AUTHENTICATED_EVENT = 1, 2, 3
AUTH_LABEL = b"spike event auth v1"
ENTRY = 32 + 32 + 48
SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


class LogDamaged(Exception):
    pass


def sha256(data):
    return hashlib.sha256(data).digest()


def read_log(path, private_key=None):
    """Returns (log_id, [event dicts]) or raises LogDamaged naming the record."""
    env = lmdb.open(path, readonly=True, max_dbs=4, lock=False, subdir=True)
    events_db = env.open_db(b"events", create=False)
    meta_db = env.open_db(b"meta", create=False)
    my_id = None
    if private_key is not None:
        raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        my_id = sha256(raw)
    out = []
    with env.begin() as txn:
        (version,) = struct.unpack(">I", txn.get(b"format", db=meta_db))
        if version != 1:
            raise LogDamaged(f"unsupported log format {version}")
        log_id = txn.get(b"log-id", db=meta_db)
        head = txn.get(b"head", db=meta_db)
        previous = sha256(b"spike-log v1 genesis" + log_id)
        expected = 1
        segment_keys = {}
        for key, value in txn.cursor(db=events_db):
            (sequence,) = struct.unpack(">Q", key)
            if sequence != expected:
                raise LogDamaged(f"record {expected} is missing")
            if len(value) < HEADER.size:
                raise LogDamaged(f"record {sequence} is truncated")
            fmt, rtype, kind, epoch, hseq, time, segment, prev_hash, body_length = HEADER.unpack_from(value)
            if fmt != 1 or hseq != sequence or body_length != len(value) - HEADER.size:
                raise LogDamaged(f"record {sequence} has a bad header")
            if prev_hash != previous:
                raise LogDamaged(f"record {sequence - 1} does not hash to what record {sequence} links to")
            header, body = value[:HEADER.size], value[HEADER.size:]
            if rtype == SEGMENT:
                suite, count = body[0], struct.unpack(">H", body[1:3])[0]
                if suite != 1 or len(body) != 3 + count * ENTRY:
                    raise LogDamaged(f"segment record {sequence} is malformed")
                for index in range(count):
                    entry = body[3 + index * ENTRY: 3 + (index + 1) * ENTRY]
                    if my_id is not None and entry[:32] == my_id:
                        info = b"spike-log segment key v1" + log_id + struct.pack(">Q", sequence)
                        segment_keys[sequence] = SUITE.decrypt(entry[32:], private_key, info=info)
            elif rtype in (EVENT, AUTHENTICATED_EVENT):
                plaintext, authenticator = None, None
                if segment in segment_keys:
                    nonce, sealed = body[:12], body[12:]
                    aad = header[:32] + bytes(32) + header[64:]  # previousHash zeroed
                    plaintext = AESGCM(segment_keys[segment]).decrypt(nonce, sealed, aad)
                    if rtype == AUTHENTICATED_EVENT:
                        if len(plaintext) < 32:
                            raise LogDamaged(f"record {sequence} is shorter than its authenticator")
                        plaintext, tag = plaintext[:-32], plaintext[-32:]
                        authenticator = {"digest": authenticator_digest(aad, plaintext), "tag": tag}
                out.append({"sequence": sequence, "kind": kind, "epoch": epoch, "time": time, "segment": segment,
                            "authenticated": rtype == AUTHENTICATED_EVENT, "header": header, "body": plaintext,
                            "authenticator": authenticator})
            else:
                raise LogDamaged(f"record {sequence} has unknown type {rtype}")
            content = sha256(value[:32] + bytes(32) + value[64:])  # previousHash taken as zero
            previous = sha256(previous + content)
            expected += 1
        head_sequence, head_hash = struct.unpack(">Q", head[:8])[0], head[8:]
        if head_sequence != expected - 1 or head_hash != previous:
            raise LogDamaged(f"the end of the log does not match the committed head {head_sequence}")
    env.close()
    return log_id.hex(), out


def authenticator_digest(header, body):
    """What an authenticated record's tag covers: the header with previousHash zeroed, and the body."""
    return sha256(AUTH_LABEL + header[:32] + bytes(32) + header[64:] + body)


def authenticator_valid(event, key):
    """Whether an authenticated event's tag is HMAC-SHA256(key, digest)."""
    expected = hmac.new(key, event["authenticator"]["digest"], hashlib.sha256).digest()
    return hmac.compare_digest(expected, event["authenticator"]["tag"])


def load_private_key(path):
    with open(path, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    assert isinstance(key, X25519PrivateKey)
    return key


if __name__ == "__main__":
    key = load_private_key(sys.argv[2]) if len(sys.argv) > 2 else None
    log_id, events = read_log(sys.argv[1], key)
    print(f"log {log_id}: {len(events)} events, chain intact")
    for event in events:
        body = event["body"].decode("utf-8", "replace") if event["body"] is not None else "(sealed)"
        print(f"  #{event['sequence']} kind {event['kind']} epoch {event['epoch']}: {body}")
