#!/usr/bin/env bash
# `scripts/bench recovery` (called by scripts/bench): a release-built dev cluster holding
# 100,000 secrets, brought back three ways, each timed from the moment the command is given
# until `spike dev status` says ready:
#   - the Nexus alone restarted: it unseals from the Keepers (the baseline of the two below);
#   - every process lost, then `spike recover` with the admin password (scrypt, N = 2^18, r = 8,
#     p = 1, in the Nexus, then the fold's authenticators checked);
#   - every process lost, then `spike operator restore` with two of the three shard files.
# And scrypt itself at those parameters: in `spike recover`'s answer time against `openssl kdf`
# doing the same derivation (the same libcrypto), three rounds each. Then `spike operator rotate`
# with the 100,000 version keys to re-wrap (answered once its transaction is durable), three rounds
# (each rotation re-wraps them all), against the restart of the same round.
set -euo pipefail
cd "$(dirname "$0")/../.."

secrets="${SPIKE_BENCH_SECRETS:-100000}"
connections="${SPIKE_BENCH_CONNECTIONS:-64}"
work="$(mktemp -d /tmp/spike-bench-recovery-XXXXXX)"
bin=.build/release
cluster="$work/cluster"
cleanup() {
  "$bin/spike" dev down --dir "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

swift build -c release --product spike >&2
swift build -c release --product APIBench >&2
printf 'bench admin password' > "$work/password"
"$bin/spike" dev up --dir "$cluster" --admin-password-file "$work/password" --poll-interval 1s >/dev/null
"$bin/spike" dev ca issue --dir "$cluster/ca" --id spiffe://spike.ist/spike/pilot/role/superuser --out "$work/superuser" >/dev/null
# The load generator alone acts from PEM files (the `spike` commands use the agents' sockets).
populate() {
  SPIKE_SVID_CERT_FILE="$work/superuser.pem" SPIKE_SVID_KEY_FILE="$work/superuser.key" SPIKE_TRUST_BUNDLE_FILE="$cluster/ca/bundle.pem" \
    .build/release/APIBench populate "$url" "$secrets" "$connections"
}
url="$(. "$cluster/env" && echo "$SPIKE_NEXUS_API_URL")"

now() { date +%s.%N; }
since() { python3 -c "import time; print(round(time.time() - $1, 3))"; }
wait_ready() { until "$bin/spike" dev status --dir "$cluster" >/dev/null 2>&1; do sleep 0.05; done; }
kill_all() {
  for pid_file in "$cluster"/run/*.pid; do kill -KILL "$(cat "$pid_file")" 2>/dev/null || true; done
  sleep 0.5
}
sealed_again() {
  kill_all
  "$bin/spike" dev up --dir "$cluster" --timeout 3 >/dev/null 2>&1 || true
}

{
  populate
  held="$(. "$cluster/env" && "$bin/spike" secret list -f json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"
  echo "{\"name\": \"recovery_secrets_held\", \"value\": $held, \"unit\": \"secrets\"}"
  (. "$cluster/env-recover" && SPIKE_PILOT_RECOVERY_DIR="$work/shards" "$bin/spike" operator recover >/dev/null)
  for round in 1 2 3; do
    # Baseline: the Nexus alone, restarted; its Keepers hold their shares.
    kill -KILL "$(cat "$cluster/run/nexus.pid")"
    started=$(now)
    "$bin/spike" dev start --dir "$cluster" nexus >/dev/null
    wait_ready
    echo "{\"name\": \"keepers_restart_to_ready@${round}_seconds\", \"value\": $(since "$started"), \"unit\": \"s\"}"

    sealed_again
    started=$(now)
    (. "$cluster/env-recover" && "$bin/spike" recover < "$work/password" >/dev/null)
    answered=$(since "$started")
    wait_ready
    echo "{\"name\": \"password_recover_to_ready@${round}_seconds\", \"value\": $(since "$started"), \"unit\": \"s\"}"
    echo "{\"name\": \"password_recover_answer@${round}_seconds\", \"value\": $answered, \"unit\": \"s\"}"

    sealed_again
    started=$(now)
    for index in 1 3; do
      (. "$cluster/env-restore" && "$bin/spike" operator restore < "$work/shards/recover/spike.recovery.$index.txt" >/dev/null)
    done
    wait_ready
    echo "{\"name\": \"shards_restore_to_ready@${round}_seconds\", \"value\": $(since "$started"), \"unit\": \"s\"}"

    started=$(now)
    openssl kdf -keylen 32 -kdfopt pass:benchmark -kdfopt salt:0123456789abcdef -kdfopt n:262144 -kdfopt r:8 -kdfopt p:1 \
      -kdfopt maxmem_bytes:536870912 SCRYPT >/dev/null
    echo "{\"name\": \"openssl_scrypt_n18_r8_p1@${round}_seconds\", \"value\": $(since "$started"), \"unit\": \"s\"}"
  done
  for round in 1 2 3; do
    started=$(now)
    (. "$cluster/env" && "$bin/spike" operator rotate >/dev/null)
    echo "{\"name\": \"rotation_answer@${round}_seconds\", \"value\": $(since "$started"), \"unit\": \"s\"}"
    sleep 2
  done
  (. "$cluster/env" && "$bin/spike" secret get bench/populate/99 password >/dev/null)
  echo "{\"name\": \"recovery_log_file\", \"value\": $(du -m "$cluster/nexus/data.mdb" | cut -f1), \"unit\": \"MB\"}"
} > "$work/figures.jsonl"

python3 Benchmarks/report_recovery.py "$work/figures.jsonl" "$(nproc)"
