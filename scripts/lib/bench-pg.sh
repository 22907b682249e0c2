#!/usr/bin/env bash
# scripts/bench pg: the event store in PostgreSQL, on a private server started here (Debian's
# postgresql, a Unix socket, fsync on), each figure against a baseline measured in this run:
#   durable appends/s through PostgresEventStore (64 appenders, group commit on its one write
#   connection) vs an insert loop of rows of the same size, one row per transaction, on the same
#   number of connections (1), and for reference on 64; a replay of the log it wrote vs the same
#   log copied into LMDB (`spike log copy`) and replayed there.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/setup.sh
source scripts/lib/postgres.sh

seconds="${SPIKE_BENCH_SECONDS:-20}"
appenders=64
work="$(mktemp -d /tmp/spike-bench-pg.XXXXXX)"
chmod 711 "$work"   # the server's own user (postgres, under root) reaches its directory in it
trap 'spike_postgres_stop "$work/server"; rm -rf "$work"' EXIT

swift build -c release --product PGBench >&2
swift build -c release --product LogBench >&2
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
def emit(name, baseline=None, target=None):
    out = dict(figures[name])
    if baseline:
        out.update(baseline=baseline, baseline_value=figures[baseline]["value"],
                   ratio=round(out["value"] / figures[baseline]["value"], 3))
    if target:
        out["target"] = target
    print(json.dumps(out))
emit("pg_insert_loop_1")
emit("pg_insert_loop_64")
emit("pg_store_group_commit_append", "pg_insert_loop_1", ">= 0.5 x an insert loop on the same connections")
emit("pg_store_group_commit_append", "pg_insert_loop_64")
emit("log_replay")
emit("pg_store_replay", "log_replay")
PY
