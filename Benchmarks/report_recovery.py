"""Adds baselines and ratios to `scripts/bench recovery` figures; prints JSON lines.

Usage: report_recovery.py FIGURES.jsonl CORES
"""
import json
import sys

from figures import load

figures = load(sys.argv[1])
# Figures measured in rounds (`name@round_metric`) become their median, with the rounds listed.
rounds = {}
for name, figure in list(figures.items()):
    if "@" in name:
        base, rest = name.split("@", 1)
        rounds.setdefault(base + "_" + rest.split("_", 1)[1], []).append(figure)
        del figures[name]
for name, measured in rounds.items():
    values = sorted(figure["value"] for figure in measured)
    figures[name] = {"name": name, "value": values[len(values) // 2], "unit": measured[0]["unit"],
                     "rounds": [figure["value"] for figure in measured]}
context = {"cores": int(sys.argv[2]), "scrypt": {"N": 131072, "r": 8, "p": 1, "memory_mib": 128}}


def emit(name, baseline=None):
    out = dict(figures[name])
    out.update(context)
    if baseline is not None:
        out["baseline"] = baseline
        out["baseline_value"] = figures[baseline]["value"]
        out["ratio"] = round(out["value"] / figures[baseline]["value"], 3)
    print(json.dumps(out))


emit("recovery_secrets_held")
emit("keepers_restart_to_ready_seconds")
emit("password_recover_to_ready_seconds", "keepers_restart_to_ready_seconds")
emit("shards_restore_to_ready_seconds", "keepers_restart_to_ready_seconds")
emit("openssl_scrypt_n17_r8_p1_seconds")
# The answer to `spike recover` includes one scrypt at the same cost, the fold's authenticators
# and the process start of the `spike` client: its ratio to openssl's bare scrypt bounds the overhead.
emit("password_recover_answer_seconds", "openssl_scrypt_n17_r8_p1_seconds")
emit("recovery_log_file")
