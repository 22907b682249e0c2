"""Adds baselines and ratios to `scripts/bench recovery` figures; prints JSON lines.

Usage: report_recovery.py FIGURES.jsonl CORES
"""
import sys

from figures import emitter, load, medians

figures = medians(load(sys.argv[1]))
context = {"cores": int(sys.argv[2]), "scrypt": {"N": 131072, "r": 8, "p": 1, "memory_mib": 128}}
emit = emitter(figures, context)

emit("recovery_secrets_held")
emit("keepers_restart_to_ready_seconds")
emit("password_recover_to_ready_seconds", "keepers_restart_to_ready_seconds")
emit("shards_restore_to_ready_seconds", "keepers_restart_to_ready_seconds")
emit("openssl_scrypt_n17_r8_p1_seconds")
# The answer to `spike recover` includes one scrypt at the same cost, the fold's authenticators
# and the process start of the `spike` client: its ratio to openssl's bare scrypt bounds the overhead.
emit("password_recover_answer_seconds", "openssl_scrypt_n17_r8_p1_seconds")
# A rotation re-wraps every version key (100,000 AES-GCM opens and seals) and commits them with
# its events in one transaction; the restart folds and checks the same log.
emit("rotation_answer_seconds", "keepers_restart_to_ready_seconds")
emit("recovery_log_file")
