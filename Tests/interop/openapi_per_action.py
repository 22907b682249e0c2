"""docs/openapi.yaml in the form tools expect: one operation per SPIKE action.

SPIKE routes on `?action=` within a path, which OpenAPI cannot say (one operation per path and
method), so the document lists a path's actions under `x-spike-actions`. This turns each into an
operation of its own at `PATH?action=NAME` (the default action at `PATH`), with its request body
and one documented JSON schema per status: what schemathesis reads. Nothing is added: every
schema is the document's."""
import copy

import yaml


def per_action_document(path):
    with open(path) as handle:
        document = yaml.safe_load(handle)
    out = copy.deepcopy(document)
    out["paths"] = {}
    for route, item in document["paths"].items():
        post = item.get("post", {})
        actions = post.get("x-spike-actions")
        if not actions:
            out["paths"][route] = item
            continue
        for action, spec in actions.items():
            key = route if action == "" else f"{route}?action={action}"
            operation = {
                "summary": spec["summary"],
                "operationId": f"{route.strip('/').replace('/', '.')}.{action or 'default'}",
                "requestBody": {"required": True, "content": {"application/json": {"schema": spec["request"]}}},
                "responses": {
                    status: {"description": f"{status}", "content": {"application/json": {"schema": schema}}}
                    for status, schema in spec["responses"].items()
                },
            }
            out["paths"][key] = {"post": operation}
    return out
