"""py-spiffe, a Workload API client we did not write, fetches X.509-SVIDs from `spike dev agent`:
the SPIFFE ID and chain are what our CA issued, and rotations arrive."""
import os
import subprocess
import tempfile
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from spiffe import WorkloadApiClient

SPIKE = os.environ.get("SPIKE_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug/spike"))
IDENTITY = "spiffe://spike.ist/workload/python"


@pytest.fixture
def agent(tmp_path):
    ca = tmp_path / "ca"
    subprocess.run([SPIKE, "dev", "ca", "init", "--dir", str(ca), "--trust-domain", "spike.ist"], check=True, capture_output=True)
    socket = os.path.join(tempfile.gettempdir(), f"spk-py-{os.getpid()}-{time.monotonic_ns() % 100000}.sock")
    process = subprocess.Popen([SPIKE, "dev", "agent", "--ca", str(ca), "--socket", socket, "--id", IDENTITY, "--ttl", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on unix://"), line
        with open(ca / "ca.pem", "rb") as handle:
            authority = x509.load_pem_x509_certificate(handle.read())
        yield f"unix://{socket}", authority
    finally:
        process.kill()
        process.wait()
        if os.path.exists(socket):
            os.unlink(socket)


def test_py_spiffe_fetches_what_we_issued(agent):
    endpoint, authority = agent
    client = WorkloadApiClient(socket_path=endpoint, default_timeout=10)
    try:
        svid = client.fetch_x509_svid()
        assert str(svid.spiffe_id) == IDENTITY
        leaf = svid.leaf
        assert leaf.issuer == authority.subject
        authority.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))
        uris = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.UniformResourceIdentifier)
        assert uris == [IDENTITY]
        # The private key is the leaf's.
        assert svid.private_key.public_key().public_numbers() == leaf.public_key().public_numbers()

        bundles = client.fetch_x509_bundles()
        bundle = bundles.get_bundle_for_trust_domain(svid.spiffe_id.trust_domain)
        assert [c.fingerprint(c.signature_hash_algorithm) for c in bundle.x509_authorities] == \
               [authority.fingerprint(authority.signature_hash_algorithm)]
    finally:
        client.close()


def test_rotation_reaches_py_spiffe(agent):
    endpoint, _ = agent
    client = WorkloadApiClient(socket_path=endpoint, default_timeout=10)
    try:
        first = client.fetch_x509_svid().leaf.serial_number
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.3)
            if client.fetch_x509_svid().leaf.serial_number != first:
                break
        assert client.fetch_x509_svid().leaf.serial_number != first
    finally:
        client.close()
