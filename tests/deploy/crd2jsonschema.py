#!/usr/bin/env python3
"""Turn a CustomResourceDefinition's openAPIV3Schema into the JSON Schema
kubeconform reads, as yannh/kubeconform's openapi2jsonschema.py does:

- one file per served version: <out>/<group>/<kind>_<version>.json
  (kubeconform: -schema-location '<out>/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json');
- strict: every object that lists its properties gets
  additionalProperties: false (a misspelt field is an error, as the API
  server's pruning would silently drop it), unless the CRD says
  x-kubernetes-preserve-unknown-fields;
- x-kubernetes-int-or-string becomes "integer or string";
- apiVersion and kind are pinned to the CRD's group/version and kind.

    tests/deploy/crd2jsonschema.py OUT_DIR CRD.yaml...

tests/deploy/test_deploy.py checks that the committed schemas are exactly
what this script makes of the committed CRDs (tests/deploy/crds/).
"""
import copy
import json
import pathlib
import sys

import yaml


def strictify(node):
    """Returns a converted copy of one OpenAPI v3 schema node."""
    if isinstance(node, list):
        return [strictify(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: strictify(v) for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        for key in ("type", "format", "pattern"):
            out.pop(key, None)
        out["oneOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = out.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def schemas_of(crd):
    """Yields (group, kind, version, json_schema) for each served version."""
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = strictify(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
        props = schema.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
        props["kind"] = {"type": "string", "enum": [kind]}
        schema["additionalProperties"] = False
        schema.setdefault("required", [])
        for name in ("apiVersion", "kind", "metadata"):
            if name not in schema["required"]:
                schema["required"].append(name)
        schema["$schema"] = "http://json-schema.org/draft-04/schema#"
        yield group, kind, version["name"], schema


def convert(out_dir, crd_paths):
    """Writes every schema; returns the paths written."""
    written = []
    for path in crd_paths:
        for doc in yaml.safe_load_all(pathlib.Path(path).read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            for group, kind, version, schema in schemas_of(doc):
                target = pathlib.Path(out_dir) / group / f"{kind.lower()}_{version}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
                written.append(target)
    return written


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    for target in convert(sys.argv[1], sys.argv[2:]):
        print(target)
