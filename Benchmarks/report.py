"""Adds baselines and ratios to the benchmark figures and prints them as JSON lines.

Usage: report.py FIGURES.jsonl CORES
"""
import json
import sys

from figures import load

figures = load(sys.argv[1])
cores = int(sys.argv[2])


def emit(figure, baseline=None, target=None, met=None):
    out = dict(figure)
    if baseline is not None:
        out["baseline"] = baseline["name"]
        out["baseline_value"] = baseline["value"]
        out["ratio"] = round(figure["value"] / baseline["value"], 3)
    if target is not None:
        out["target"] = target
        out["met"] = met(out)
    print(json.dumps(out))


raw_batched = figures["raw_lmdb_batched_append"]
raw_single = figures["raw_lmdb_single_durable_append"]
emit(raw_batched)
emit(raw_single)
emit(figures["raw_lmdb_cursor_read"])
emit(figures["log_batched_append"], raw_batched, ">= 0.5 x raw", lambda f: f["ratio"] >= 0.5)
emit(figures["log_batched_append_sequential"], raw_batched)
emit(figures["log_single_durable_append"], raw_single)
emit(figures["log_group_commit_append"], raw_single)

# One record costs one AES-256-GCM of its 200-byte body and one SHA-256 of the whole record:
# the crypto limit on one core is 1 / (t_aes + t_sha), on all cores that times the cores.
aes = figures["openssl_aes_256_gcm_200"]["value"] / 200
sha = figures["openssl_sha256_296"]["value"] / 296
per_core = 1 / (1 / aes + 1 / sha)
limit = {"name": "crypto_limit_all_cores", "value": round(per_core * cores), "unit": "events/s",
         "cores": cores, "aes_256_gcm_200_per_s": round(aes), "sha256_296_per_s": round(sha)}
emit(limit)
emit(figures["log_replay"], limit, ">= 0.8 x the crypto limit", lambda f: f["ratio"] >= 0.8)
emit(figures["log_replay_peak_resident"], target="< 200 MB for 1,000,000 events", met=lambda f: f["value"] < 200)

# The log tools, on a log of real event bodies, against the replay of that same log.
history = figures["log_replay_history"]
emit(history)
emit(figures["log_export_jsonl"], history, ">= 0.7 x replay", lambda f: f["ratio"] >= 0.7)
emit(figures["log_export_jsonl_hmac"], history)
emit(figures["log_export_headers_only"], history, ">= 0.7 x replay", lambda f: f["ratio"] >= 0.7)
audit = dict(figures["log_audit"], name="log_audit_seconds", value=figures["log_audit"]["seconds"], unit="s")
emit(audit, target="< 5 s for 1,000,000 events", met=lambda f: f["value"] < 5)
