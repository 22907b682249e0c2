"""A local cluster from `spike dev up` for the tests that talk to a real Nexus, and SVIDs from its
development CA."""
import contextlib
import os
import secrets
import subprocess

HERE = os.path.dirname(__file__)
SPIKE = os.environ.get("SPIKE_BIN", os.path.join(HERE, "../../.build/debug/spike"))


@contextlib.contextmanager
def dev_cluster(root):
    """Yields (directory, the Nexus' API URL) of a cluster under `root`, brought down after."""
    directory = root / "cluster"
    password = root / "password"
    password.write_text(secrets.token_urlsafe(18) + "\n")
    up = subprocess.run([SPIKE, "dev", "up", "--dir", str(directory), "--admin-password-file", str(password)],
                        capture_output=True, text=True, timeout=180)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        url = next(line.split("=", 1)[1].strip("'") for line in (directory / "env").read_text().splitlines()
                   if line.startswith("export SPIKE_NEXUS_API_URL="))
        yield directory, url
    finally:
        subprocess.run([SPIKE, "dev", "down", "--dir", str(directory)], capture_output=True, timeout=120)


def issue(directory, spiffe_id, prefix):
    """An X.509-SVID for `spiffe_id` from the cluster's CA: (certificate file, key file)."""
    subprocess.run([SPIKE, "dev", "ca", "issue", "--dir", str(directory / "ca"), "--id", spiffe_id, "--out", str(prefix)],
                   check=True, capture_output=True, timeout=60)
    return f"{prefix}.pem", f"{prefix}.key"
