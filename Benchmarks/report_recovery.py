"""Adds baselines and ratios to `scripts/bench recovery` figures; prints JSON lines.

Usage: report_recovery.py FIGURES.jsonl CORES
"""
import sys

from figures import emitter, load, medians

figures = medians(load(sys.argv[1]))
context = {"cores": int(sys.argv[2]), "scrypt": {"N": 262144, "r": 8, "p": 1, "memory_mib": 256}}
emit = emitter(figures, context)

emit("recovery_secrets_held")
emit("keepers_restart_to_ready_seconds")
# ADR-0012: scrypt's cost is the strongest that keeps a recovery by password under 2 s here.
emit("password_recover_to_ready_seconds", "keepers_restart_to_ready_seconds", target="< 2 s", met=lambda f: f["value"] < 2)
emit("shards_restore_to_ready_seconds", "keepers_restart_to_ready_seconds")
emit("openssl_scrypt_n18_r8_p1_seconds")
# The answer to `spike recover` includes one scrypt at the same cost, the fold's authenticators
# and the process start of the `spike` client: its ratio to openssl's bare scrypt bounds the overhead.
emit("password_recover_answer_seconds", "openssl_scrypt_n18_r8_p1_seconds")
# A rotation re-wraps every version key (100,000 AES-GCM opens and seals) and commits them with
# its events in one transaction; the restart folds and checks the same log.
emit("rotation_answer_seconds", "keepers_restart_to_ready_seconds")
emit("recovery_log_file")
