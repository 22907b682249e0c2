"""schemathesis, a tool we did not write, tries every operation of docs/openapi.yaml against a
real Nexus over mutual TLS (a local cluster from `spike dev up`; client certificates from its
development CA), as the superuser and as a workload no policy names. Its checks: no 5xx, and
every answer's status, content type, headers and body match the document.

Not its checks of how strictly requests are validated (`positive_data_acceptance`,
`negative_data_rejection`): like SPIKE, the Nexus ignores unknown and null fields and applies
rules (name characters, password strength, base64) the document states in words. Nor
`unsupported_method`: SPIKE answers 400 `api_bad_request` for any method or path it does not
route, and so do we (the document says so)."""
import os
import subprocess

import pytest
import yaml

from dev_cluster import HERE, dev_cluster, issue
from openapi_per_action import per_action_document

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("schemathesis")
    with dev_cluster(root) as (directory, url):
        document = root / "openapi.per-action.yaml"
        document.write_text(yaml.safe_dump(per_action_document(os.path.join(HERE, "../../docs/openapi.yaml")), sort_keys=False))
        yield directory, url, document


def schemathesis(url, document, certificate, key, examples, seed):
    run = subprocess.run(
        ["schemathesis", "run", str(document), "--url", url, "--tls-verify", "false",
         "--request-cert", certificate, "--request-cert-key", key,
         "--checks", CHECKS, "--max-examples", str(examples), "--seed", str(seed), "--no-color"],
        capture_output=True, text=True, timeout=900, cwd=os.path.dirname(str(document)))
    return run.returncode, run.stdout + run.stderr


def generated_cases(output):
    # "Test cases:\n  2436 generated, 2436 passed" (or "…, N found M unique failures").
    lines = output.splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip() == "Test cases:")
    return int(lines[index + 1].split()[0])


@pytest.mark.parametrize("identity,examples,seed", [
    ("spiffe://spike.ist/spike/pilot/role/superuser", 40, 1),
    ("spiffe://spike.ist/workload/schemathesis", 15, 2),
])
def test_every_answer_matches_the_document(cluster, tmp_path, identity, examples, seed):
    directory, url, document = cluster
    certificate, key = issue(directory, identity, tmp_path / "client")
    status, output = schemathesis(url, document, certificate, key, examples, seed)
    assert status == 0, output[-6000:]
    assert "Tested: 22" in output, output[-3000:]
    assert generated_cases(output) >= 22 * 5, output[-3000:]


def test_a_document_that_lies_is_caught(cluster, tmp_path):
    """The same run against a document that promises what the Nexus does not do (secret get
    answers only 404) fails: the check is live."""
    directory, url, document = cluster
    lying = yaml.safe_load(document.read_text())
    operation = lying["paths"]["/v1/store/secrets?action=get"]["post"]
    operation["responses"] = {"404": operation["responses"]["404"]}
    lying["paths"] = {"/v1/store/secrets?action=get": lying["paths"]["/v1/store/secrets?action=get"]}
    lying_path = tmp_path / "lying.yaml"
    lying_path.write_text(yaml.safe_dump(lying, sort_keys=False))
    certificate, key = issue(directory, "spiffe://spike.ist/spike/pilot/role/superuser", tmp_path / "client")
    status, output = schemathesis(url, lying_path, certificate, key, 20, 3)
    assert status != 0, output[-3000:]
    assert "Undocumented status code" in output, output[-3000:]
