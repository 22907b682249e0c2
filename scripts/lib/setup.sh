# Sourced by scripts/*: installs what the project needs on a fresh Debian machine with Swift.
# Idempotent and quiet when everything is already there.

# Debian packages: LMDB, RE2 and OpenSSL development files (linked by the package), the LMDB tools,
# gcc for the raw-LMDB benchmark baseline, Chromium to render the audit report's HTML in a test,
# PostgreSQL's server for the event store in PostgreSQL (a private instance, scripts/lib/postgres.sh).
SPIKE_APT_PACKAGES=(liblmdb-dev libre2-dev libssl-dev lmdb-utils gcc pkg-config openssl curl chromium postgresql)
# Python packages for the interoperability tests: an independent reader of the log format,
# py-spiffe, a Workload API client we did not write, DuckDB for docs/analysis.md's queries, and
# schemathesis, which tries the API against its document.
SPIKE_PIP_PACKAGES=(lmdb "cryptography>=46" pytest spiffe duckdb "schemathesis>=4,<5" pyyaml)

spike_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Extra packages may be named: `spike_install_system_packages nginx`.
spike_install_system_packages() {
  local missing=()
  for package in "${SPIKE_APT_PACKAGES[@]}" "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    spike_as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive spike_as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

spike_install_python_packages() {
  if ! python3 -c 'import lmdb, pytest, spiffe, duckdb, schemathesis, yaml; from cryptography.hazmat.primitives import hpke' >/dev/null 2>&1; then
    echo "installing Python packages: ${SPIKE_PIP_PACKAGES[*]}"
    python3 -m pip install --quiet --disable-pip-version-check "${SPIKE_PIP_PACKAGES[@]}"
  fi
}

spike_require_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    echo "swift is not on PATH: install Swift 6.3 (https://www.swift.org/install/linux/) and retry" >&2
    exit 1
  fi
}
