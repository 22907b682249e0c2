# Sourced by scripts/test: runs the Swift test suites with a time limit, so that a hung test fails
# the run within minutes and says where it hung (the tests that started and did not end, and every
# thread's stack when gdb is there), instead of running into CI's own timeout with nothing to show.

# spike_swift_test_with_limit SECONDS [swift test arguments...]
# (Every command that may fail here says `|| true`: scripts/test runs with `set -euo pipefail`.)
spike_swift_test_with_limit() {
  local limit="$1"; shift
  local log; log="$(mktemp /tmp/spike-swift-test.XXXXXX)"
  # Line-buffered: a run cut short shows every line it printed, not the last full buffer.
  stdbuf -oL -eL swift test "$@" > >(tee "$log") 2>&1 &
  local runner=$!
  local waited=0
  while kill -0 "$runner" 2>/dev/null; do
    if [ "$waited" -ge "$limit" ]; then
      echo "swift test did not end within ${limit} s. Started and not ended:"
      python3 - "$log" <<'EOF'
import re, sys
text = open(sys.argv[1], errors="replace").read()
ended = set(re.findall(r"[✔✘] (?:Test|Suite) (\S+?)[( ]", text))
for started in dict.fromkeys(re.findall(r"◇ (?:Test|Suite) (?!case passing|run started)(\S+?)[( ]", text)):
    if started not in ended:
        print("  " + started)
EOF
      local tests
      for tests in $(pgrep -P "$runner" -f 'PackageTests.xctest'); do
        if command -v gdb >/dev/null 2>&1; then
          echo "the stacks of process $tests:"
          gdb -p "$tests" -batch -ex 'thread apply all bt 25' 2>/dev/null | grep -E '^(Thread|#)' | swift demangle --simplified || true
        fi
        # Its children too (a process a test started holds what it inherited: CI's output).
        kill -KILL "$tests" $(spike_descendants "$tests") 2>/dev/null || true
      done
      kill "$runner" 2>/dev/null || true
      wait "$runner" 2>/dev/null || true
      rm -f "$log"
      return 1
    fi
    sleep 5
    waited=$((waited + 5))
  done
  local status=0
  wait "$runner" || status=$?
  rm -f "$log"
  return "$status"
}

# The pids of every process below $1.
spike_descendants() {
  local child
  for child in $(pgrep -P "$1"); do
    echo "$child"
    spike_descendants "$child"
  done
}
