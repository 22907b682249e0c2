#!/usr/bin/env bash
# scripts/bench pg: the event store in PostgreSQL, on a private server started here (Debian's
# postgresql, a Unix socket, fsync on), each figure against a baseline measured in this run:
#   durable appends/s through PostgresEventStore (64 appenders, group commit on its one write
#   connection) vs an insert loop of rows of the same size, one row per transaction, on the same
#   number of connections (1), and for reference on 64; a replay of the log it wrote vs the same
#   log copied into LMDB (`spike log copy`) and replayed there; then two Nexus replicas on one
#   log in this server (`spike dev up --replicas 2`): secret writes and reads at 64 keep-alive
#   connections spread over both against all on one, and how long after one replica acknowledged
#   a write the other serves it (replica lag); then 100,000 secrets written through the first, and
#   the second replica SIGKILLed and started again: ready from the latest snapshot in PostgreSQL
#   (the first replica's) and the log after it, against the same restart from the whole log.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/setup.sh
source scripts/lib/postgres.sh

seconds="${SPIKE_BENCH_SECONDS:-20}"
appenders=64
work="$(mktemp -d /tmp/spike-bench-pg.XXXXXX)"
chmod 711 "$work"   # the server's own user (postgres, under root) reaches its directory in it
cluster="$work/cluster"
bin=.build/release
trap '"$bin/spike" dev down --dir "$cluster" >/dev/null 2>&1 || true; spike_postgres_stop "$work/server"; rm -rf "$work"' EXIT

swift build -c release --product PGBench >&2
swift build -c release --product LogBench >&2
swift build -c release --product APIBench >&2
swift build -c release --product spike >&2
server="$(spike_postgres_start "$work/server")"
database() { psql "$server" -qAt -c "CREATE DATABASE $1" >/dev/null; echo "${server/\/\/\/postgres?/\/\/\/$1?}"; }

{
  .build/release/PGBench append "$(database store)" "$appenders" "$seconds" "$work/log.key"
  .build/release/PGBench inserts "$(database rows1)" 1 "$seconds"
  .build/release/PGBench inserts "$(database rows64)" "$appenders" "$seconds"
  .build/release/PGBench replay "${server/\/\/\/postgres?/\/\/\/store?}" "$work/log.key"
  .build/release/spike log copy --from "${server/\/\/\/postgres?/\/\/\/store?}" --to "$work/lmdb" >&2
  .build/release/LogBench replay "$work/lmdb" "$work/log.key"

  "$bin/spike" dev up --dir "$cluster" --store postgres --postgres-url "$(database replicas)" --replicas 2 >&2
  urls="$(. "$cluster/env" && echo "$SPIKE_NEXUS_API_URLS")"
  first="${urls%%,*}" second="${urls##*,}"
  "$bin/spike" dev ca issue --dir "$cluster/ca" --id spiffe://spike.ist/spike/pilot/role/superuser --out "$work/superuser" >&2
  (. "$cluster/env" && "$bin/spike" secret put bench/read username=bench password=0123456789abcdef0123456789abcdef >&2)
  export SPIKE_SVID_CERT_FILE="$work/superuser.pem" SPIKE_SVID_KEY_FILE="$work/superuser.key" SPIKE_TRUST_BUNDLE_FILE="$cluster/ca/bundle.pem"
  api_seconds="${SPIKE_BENCH_API_SECONDS:-10}"
  "$bin/APIBench" run nexus_write_one_replica "$first" write "$appenders" "$api_seconds"
  "$bin/APIBench" run nexus_write_two_replicas "$urls" write "$appenders" "$api_seconds"
  "$bin/APIBench" run nexus_read_one_replica "$first" read "$appenders" "$api_seconds"
  "$bin/APIBench" run nexus_read_two_replicas "$urls" read "$appenders" "$api_seconds"
  "$bin/APIBench" lag replica_lag "$first" "$second" "${SPIKE_BENCH_LAG_SAMPLES:-300}"

  "$bin/APIBench" populate "$first" "${SPIKE_BENCH_SECRETS:-100000}" "$appenders" >&2
  restart_second() {
    kill -KILL "$(cat "$cluster/run/nexus-2.pid")"
    while kill -0 "$(cat "$cluster/run/nexus-2.pid")" 2>/dev/null; do sleep 0.05; done
    started=$(date +%s.%N)
    "$bin/spike" dev start --dir "$cluster" nexus-2 >&2
    until "$bin/spike" dev status --dir "$cluster" >/dev/null 2>&1; do sleep 0.05; done
    echo "{\"name\": \"$1\", \"value\": $(python3 -c "import time; print(round(time.time() - $started, 2))"), \"unit\": \"s\"}"
    python3 Benchmarks/fold_line.py "$cluster/logs/nexus-2.log" | sed "s/nexus_fold_after_shares/$2/"
  }
  restart_second replica_restart_from_snapshot_to_ready replica_fold_from_snapshot
  psql "${server/\/\/\/postgres?/\/\/\/replicas?}" -qAt -c "DELETE FROM spike.snapshots" >&2
  restart_second replica_restart_from_log_to_ready replica_fold_from_log
} > "$work/figures.jsonl"

python3 - "$work/figures.jsonl" <<'PY'
import json, sys
figures = {}
for line in open(sys.argv[1]):
    if line.startswith("{"):
        figure = json.loads(line)
        name = figure["name"]
        if name == "pg_insert_loop":  # one per number of connections
            name = figure["name"] = "pg_insert_loop_%d" % figure["connections"]
        figures[name] = figure
def emit(name, baseline=None, target=None, met=None):
    out = dict(figures[name])
    if baseline:
        out.update(baseline=baseline, baseline_value=figures[baseline]["value"],
                   ratio=round(out["value"] / figures[baseline]["value"], 3))
    if target:
        out["target"] = target
        out["met"] = met(out)
    print(json.dumps(out))
emit("pg_insert_loop_1")
emit("pg_insert_loop_64")
emit("pg_store_group_commit_append", "pg_insert_loop_1", ">= 0.5 x an insert loop on the same connections",
     lambda f: f["ratio"] >= 0.5)
emit("pg_store_group_commit_append", "pg_insert_loop_64")
emit("log_replay")
emit("pg_store_replay", "log_replay")
emit("nexus_write_one_replica_throughput")
emit("nexus_write_two_replicas_throughput", "nexus_write_one_replica_throughput")
emit("nexus_write_one_replica_p99")
emit("nexus_write_two_replicas_p99", "nexus_write_one_replica_p99")
emit("nexus_read_one_replica_throughput")
emit("nexus_read_two_replicas_throughput", "nexus_read_one_replica_throughput")
emit("nexus_read_one_replica_p99")
emit("nexus_read_two_replicas_p99", "nexus_read_one_replica_p99")
emit("replica_lag_p50")
emit("replica_lag_p99")
emit("replica_lag_max")
emit("replica_restart_from_log_to_ready")
emit("replica_restart_from_snapshot_to_ready", "replica_restart_from_log_to_ready")
emit("replica_fold_from_log")
emit("replica_fold_from_snapshot", "replica_fold_from_log", "< 1000 ms after the shares, 100,000 secrets", lambda f: f["value"] < 1000)
PY
