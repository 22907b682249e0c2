#!/usr/bin/env bash
# `scripts/bench soak` (called by scripts/bench): a release-built cluster from `spike dev up`
# under a mixed load (Benchmarks/APIBench soak: workers writing their own paths and reading
# them back, one write in five), first without faults (the baseline of latency and memory),
# then with a fault every SPIKE_SOAK_FAULT_EVERY seconds, in turn: a Keeper killed with SIGKILL
# and started again, the Nexus killed with SIGKILL and started again (it gets its shares back
# from the Keepers). Then every acknowledged write is read back.
# Figures: acknowledged writes lost (must be 0), p50/p99 of each phase, the Nexus' resident
# anonymous memory over the steady phase (sampled every 2 s; flat: the last third against the
# first within 10%).
set -euo pipefail
cd "$(dirname "$0")/../.."

workers="${SPIKE_SOAK_WORKERS:-8}"
steady="${SPIKE_SOAK_STEADY_SECONDS:-90}"
faults="${SPIKE_SOAK_FAULT_SECONDS:-120}"
every="${SPIKE_SOAK_FAULT_EVERY:-15}"
work="$(mktemp -d /tmp/spike-bench-soak-XXXXXX)"
bin=.build/release
cluster="$work/cluster"
cleanup() {
  [ -n "${load_pid:-}" ] && kill "$load_pid" 2>/dev/null || true
  "$bin/spike" dev down --dir "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

swift build -c release --product spike >&2
swift build -c release --product APIBench >&2

"$bin/spike" dev up --dir "$cluster" --poll-interval 1s >/dev/null
url="$(. "$cluster/env" && echo "$SPIKE_NEXUS_API_URL")"
"$bin/spike" dev ca issue --dir "$cluster/ca" --id spiffe://spike.ist/spike/pilot/role/superuser --out "$work/superuser" >/dev/null
export SPIKE_SVID_CERT_FILE="$work/superuser.pem" SPIKE_SVID_KEY_FILE="$work/superuser.key" SPIKE_TRUST_BUNDLE_FILE="$cluster/ca/bundle.pem"
pid_of() { cat "$cluster/run/$1.pid"; }
# Anonymous resident memory (the heap): the log's mapped pages count in VmRSS as the log grows,
# and are the kernel's to drop.
rss_kb() { awk '/^RssAnon/ {print $2}' "/proc/$(pid_of nexus)/status"; }
figure() { echo "{\"name\": \"$1\", \"value\": $2, \"unit\": \"$3\"}"; }

"$bin/APIBench" soak "$url" "$workers" "$steady" "$faults" "$work/ledger.json" > "$work/load.jsonl" &
load_pid=$!

# The steady phase: memory every 2 s after a 10 s warm-up.
sleep 10
samples=()
deadline=$(( $(date +%s) + steady - 10 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  samples+=("$(rss_kb)")
  sleep 2
done

# The faults: a Keeper, then the Nexus, in turn, each killed with SIGKILL and started again.
nexus_kills=0
keeper_kills=0
round=0
deadline=$(( $(date +%s) + faults - every ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  sleep "$every"
  if (( round % 2 == 0 )); then
    keeper="keeper-$(( (round / 2) % 3 + 1 ))"
    kill -KILL "$(pid_of "$keeper")"
    keeper_kills=$((keeper_kills + 1))
    sleep 1
    "$bin/spike" dev start --dir "$cluster" "$keeper" >/dev/null
  else
    kill -KILL "$(pid_of nexus)"
    nexus_kills=$((nexus_kills + 1))
    sleep 1
    "$bin/spike" dev start --dir "$cluster" nexus >/dev/null
  fi
  round=$((round + 1))
done
wait "$load_pid"
load_pid=
until "$bin/spike" dev status --dir "$cluster" >/dev/null 2>&1; do sleep 0.5; done

{
  cat "$work/load.jsonl"
  "$bin/APIBench" verify "$url" "$work/ledger.json"
  figure soak_nexus_sigkills "$nexus_kills" kills
  figure soak_keeper_sigkills "$keeper_kills" kills
  figure soak_nexus_vmrss_at_end "$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$(pid_of nexus)/status")" MB
  python3 - "${samples[@]}" <<'PY'
import json, sys
kb = [int(x) for x in sys.argv[1:]]
third = max(1, len(kb) // 3)
first, last = sum(kb[:third]) / third, sum(kb[-third:]) / third
for name, value, unit in [("soak_rss_samples", len(kb), "samples"),
                          ("soak_rss_first_third", round(first / 1024, 1), "MB"),
                          ("soak_rss_last_third", round(last / 1024, 1), "MB"),
                          ("soak_rss_growth", round(last / first, 3), "ratio")]:
    print(json.dumps({"name": name, "value": value, "unit": unit}))
PY
} > "$work/figures.jsonl"
cat "$work/figures.jsonl"
python3 - "$work/figures.jsonl" <<'PY'
import json, sys
figures = {f["name"]: f["value"] for f in map(json.loads, open(sys.argv[1]))}
ratio = figures["soak_faults_p99"] / figures["soak_steady_p99"]
print(json.dumps({"name": "soak_p99_faults_vs_steady", "value": round(ratio, 2), "unit": "ratio",
                  "baseline": figures["soak_steady_p99"]}))
failed = figures["soak_acknowledged_writes_lost"] != 0 or figures["soak_rss_growth"] > 1.10
print("soak:", "FAILED" if failed else "ok",
      f"(lost {figures['soak_acknowledged_writes_lost']:.0f} of {figures['soak_acknowledged_writes']:.0f} acknowledged writes; "
      f"p99 {figures['soak_steady_p99']} ms steady, {figures['soak_faults_p99']} ms under faults; "
      f"longest wait for an answer {figures['soak_longest_wait_for_an_answer']} s; "
      f"RSS {figures['soak_rss_first_third']} → {figures['soak_rss_last_third']} MB)", file=sys.stderr)
sys.exit(1 if failed else 0)
PY
