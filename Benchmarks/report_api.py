"""Adds baselines, ratios and targets to `scripts/bench api` figures; prints JSON lines.

Usage: report_api.py FIGURES.jsonl CORES CONNECTIONS
"""
import sys

from figures import emitter, load, medians

figures = medians(load(sys.argv[1]))
context = {"cores": int(sys.argv[2]), "connections": int(sys.argv[3])}
emit = emitter(figures, context)

emit("nginx_static_throughput")
emit("nginx_static_p50")
emit("nginx_static_p99")
emit("nexus_read_throughput", "nginx_static_throughput", ">= 1.0 x nginx", lambda f: f["ratio"] >= 1.0)
emit("nexus_read_p50", "nginx_static_p50")
emit("nexus_read_p99", "nginx_static_p99", "<= nginx's p99", lambda f: f["ratio"] <= 1.0)
if "nexus_baseline_read_throughput" in figures:
    # The same reads against the build named by SPIKE_BENCH_BASELINE_REF, in the same rounds.
    emit("nexus_baseline_read_throughput")
    emit("nexus_read_throughput", "nexus_baseline_read_throughput", ">= 0.9 x the baseline build",
         lambda f: f["ratio"] >= 0.9)
    emit("nexus_baseline_read_p99")
emit("api_log_group_commit_throughput")
emit("nexus_durable_write_throughput", "api_log_group_commit_throughput", ">= 0.5 x the log's group commit",
     lambda f: f["ratio"] >= 0.5)
emit("nexus_durable_write_p50")
emit("nexus_durable_write_p99")
emit("populate_throughput")
emit("nexus_secrets_held")
emit("nexus_rss_before_populate")
emit("nexus_rss_populated", target="< 300 MB with 100,000 secrets", met=lambda f: f["value"] < 300)
emit("nexus_restart_to_listening")
emit("nexus_restart_to_ready")
emit("nexus_fold_after_shares", target="< 1000 ms with 100,000 secrets", met=lambda f: f["value"] < 1000)
emit("nexus_rss_after_restart", target="< 300 MB with 100,000 secrets", met=lambda f: f["value"] < 300)
emit("nexus_cold_restart_to_ready", target="< 3 s without a snapshot, 100,000 secrets", met=lambda f: f["value"] < 3)
emit("nexus_cold_fold_after_shares")
emit("log_file")
