#!/usr/bin/env bash
# `scripts/bench api` (called by scripts/bench): a release-built cluster from `spike dev up`, and
# nginx from Debian serving a small file over mutual TLS with certificates from the same
# development CA; the same load generator (Benchmarks/APIBench, 64 keep-alive connections)
# against both, and the writes against the log's own group commit (LogBench). Then 100,000 secrets
# written and the Nexus' resident memory read from /proc, also after a restart (from the snapshot
# its clean stop left), and a restart with the snapshot deleted (the whole log folded).
# SPIKE_BENCH_BASELINE_REF=<commit> also builds that commit's `spike` (in .build-baseline) and
# runs its cluster beside this one: its reads take turns with this build's, as the baseline of
# `nexus_read_throughput` (how ADR-0007 measured Hummingbird against our server).
set -euo pipefail
cd "$(dirname "$0")/../.."

connections="${SPIKE_BENCH_CONNECTIONS:-64}"
seconds="${SPIKE_BENCH_SECONDS:-5}"
read_rounds="${SPIKE_BENCH_READ_ROUNDS:-9}"
read_seconds="${SPIKE_BENCH_READ_SECONDS:-3}"
secrets="${SPIKE_BENCH_SECRETS:-100000}"
work="$(mktemp -d /tmp/spike-bench-api-XXXXXX)"
bin=.build/release
cluster="$work/cluster"
baseline_ref="${SPIKE_BENCH_BASELINE_REF:-}"
baseline_bin=.build-baseline/release/spike
baseline_cluster="$work/baseline-cluster"
cleanup() {
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  "$bin/spike" dev down --dir "$cluster" >/dev/null 2>&1 || true
  [ -d "$baseline_cluster" ] && "$baseline_bin" dev down --dir "$baseline_cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

swift build -c release --product spike >&2
swift build -c release --product APIBench >&2
swift build -c release --product LogBench >&2
if [ -n "$baseline_ref" ]; then
  mkdir -p "$work/baseline-src"
  git archive "$baseline_ref" | tar -x -C "$work/baseline-src"
  swift build -c release --product spike --package-path "$work/baseline-src" --scratch-path .build-baseline >&2
  "$baseline_bin" dev up --dir "$baseline_cluster" >/dev/null
  baseline_url="$(. "$baseline_cluster/env" && echo "$SPIKE_NEXUS_API_URL")"
  "$baseline_bin" dev ca issue --dir "$baseline_cluster/ca" --id spiffe://spike.ist/spike/pilot/role/superuser --out "$work/baseline-superuser" >/dev/null
  (. "$baseline_cluster/env" && "$baseline_bin" secret put bench/read username=bench password=0123456789abcdef0123456789abcdef >/dev/null)
fi
baseline_read() {
  SPIKE_SVID_CERT_FILE="$work/baseline-superuser.pem" SPIKE_SVID_KEY_FILE="$work/baseline-superuser.key" \
    SPIKE_TRUST_BUNDLE_FILE="$baseline_cluster/ca/bundle.pem" \
    .build/release/APIBench run "nexus_baseline_read@$1" "$baseline_url" read "$connections" "$read_seconds"
}

"$bin/spike" dev up --dir "$cluster" >/dev/null
# shellcheck disable=SC1091
. "$cluster/env"
nexus_pid() { cat "$cluster/run/nexus.pid"; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$(nexus_pid)/status"; }

# The load generator acts as the superuser, from PEM files; nginx presents a Nexus SVID.
"$bin/spike" dev ca issue --dir "$cluster/ca" --id spiffe://spike.ist/spike/pilot/role/superuser --out "$work/superuser" >/dev/null
"$bin/spike" dev ca issue --dir "$cluster/ca" --id spiffe://spike.ist/spike/nexus --out "$work/nginx-svid" >/dev/null
export SPIKE_SVID_CERT_FILE="$work/superuser.pem" SPIKE_SVID_KEY_FILE="$work/superuser.key" SPIKE_TRUST_BUNDLE_FILE="$cluster/ca/bundle.pem"

mkdir -p "$work/nginx/www"
chmod 755 "$work" "$work/nginx" "$work/nginx/www"
printf '{"data":{"password":"0123456789abcdef0123456789abcdef","username":"bench"}}' > "$work/nginx/www/small"
chmod 644 "$work/nginx/www/small"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  default_type application/json;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate $work/nginx-svid.pem;
    ssl_certificate_key $work/nginx-svid.key;
    ssl_client_certificate $cluster/ca/bundle.pem;
    ssl_verify_client on;
    location = /small { root $work/nginx/www; }
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log"

"$bin/spike" secret put bench/read username=bench password=0123456789abcdef0123456789abcdef >/dev/null
{
  # nginx and the Nexus take turns, and the report compares the medians: this machine's speed
  # drifts from one run to the next by more than the margin of the reads' goal (a round's
  # figure moves by up to a tenth), so the reads are measured in many short rounds.
  for round in $(seq 1 "$read_rounds"); do
    .build/release/APIBench run "nginx_static@$round" "https://127.0.0.1:$port" static "$connections" "$read_seconds"
    .build/release/APIBench run "nexus_read@$round" "$SPIKE_NEXUS_API_URL" read "$connections" "$read_seconds"
    if [ -n "$baseline_ref" ]; then baseline_read "$round"; fi
  done
  for round in 1 2 3; do
    .build/release/APIBench run "nexus_durable_write@$round" "$SPIKE_NEXUS_API_URL" write "$connections" "$seconds"
    # The baseline of the writes: the log alone, as many appenders as connections, one
    # authenticated event of a secret write's size (368 bytes: a SecretPut of the load generator's).
    .build/release/LogBench group-commit "$work/log-$round" "$connections" "$seconds" 368 "api_log_group_commit@${round}_throughput"
  done
  if [ -n "$baseline_ref" ]; then "$baseline_bin" dev down --dir "$baseline_cluster" >/dev/null; fi
  echo "{\"name\": \"nexus_rss_before_populate\", \"value\": $(rss_mb), \"unit\": \"MB\"}"
  .build/release/APIBench populate "$SPIKE_NEXUS_API_URL" "$secrets" "$connections"
  held="$("$bin/spike" secret list -f json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"
  echo "{\"name\": \"nexus_secrets_held\", \"value\": $held, \"unit\": \"secrets\"}"
  echo "{\"name\": \"nexus_rss_populated\", \"value\": $(rss_mb), \"unit\": \"MB\"}"
  # A restarted Nexus gets its root key back from the Keepers and folds its data from the
  # snapshot its clean stop left and the log after it.
  kill -TERM "$(nexus_pid)"
  while kill -0 "$(nexus_pid)" 2>/dev/null; do sleep 0.1; done
  started=$(date +%s.%N)
  "$bin/spike" dev start --dir "$cluster" nexus >/dev/null
  echo "{\"name\": \"nexus_restart_to_listening\", \"value\": $(python3 -c "import time; print(round(time.time() - $started, 2))"), \"unit\": \"s\"}"
  until "$bin/spike" dev status --dir "$cluster" >/dev/null 2>&1; do sleep 0.05; done
  echo "{\"name\": \"nexus_restart_to_ready\", \"value\": $(python3 -c "import time; print(round(time.time() - $started, 2))"), \"unit\": \"s\"}"
  # The Nexus' own account of its fold once the shares were back (the clean stop left a snapshot).
  python3 Benchmarks/fold_line.py "$cluster/logs/nexus.log"
  echo "{\"name\": \"nexus_rss_after_restart\", \"value\": $(rss_mb), \"unit\": \"MB\"}"
  # The same restart without a snapshot (deleted: derived data): the whole log folded.
  kill -TERM "$(nexus_pid)"
  while kill -0 "$(nexus_pid)" 2>/dev/null; do sleep 0.1; done
  "$bin/spike" log snapshots --data-dir "$cluster/nexus" --delete >&2
  started=$(date +%s.%N)
  "$bin/spike" dev start --dir "$cluster" nexus >/dev/null
  until "$bin/spike" dev status --dir "$cluster" >/dev/null 2>&1; do sleep 0.05; done
  echo "{\"name\": \"nexus_cold_restart_to_ready\", \"value\": $(python3 -c "import time; print(round(time.time() - $started, 2))"), \"unit\": \"s\"}"
  python3 Benchmarks/fold_line.py "$cluster/logs/nexus.log" | sed 's/nexus_fold_after_shares/nexus_cold_fold_after_shares/'
  "$bin/spike" secret get bench/populate/99 password >/dev/null
  echo "{\"name\": \"log_file\", \"value\": $(du -m "$cluster/nexus/data.mdb" | cut -f1), \"unit\": \"MB\"}"
} > "$work/figures.jsonl"

python3 Benchmarks/report_api.py "$work/figures.jsonl" "$(nproc)" "$connections"
