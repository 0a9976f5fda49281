"""Validates Kubernetes resources against a CustomResourceDefinition's OpenAPI v3 schema.

Usage: validate_crd.py CRD.yaml VERSION RESOURCE.yaml...

The CRD's openAPIV3Schema is made into a JSON Schema (draft 7) as the API server and
`kubectl apply` (strict field validation) apply it: `x-kubernetes-list-type: set`
means unique items, an object with `properties` and no
`x-kubernetes-preserve-unknown-fields` refuses unknown fields, `format: int32/int64`
bounds the integer; the other `x-kubernetes-*` keys are dropped. Each resource must
have the CRD's group/version as apiVersion and its kind. Prints one line per problem;
exit 1 when there is any.
"""
import json
import sys

import jsonschema
import yaml

RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def translate(schema):
    if isinstance(schema, list):
        return [translate(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: translate(v) for k, v in value.items()}
        elif key == "x-kubernetes-list-type":
            if value == "set":
                out["uniqueItems"] = True
        elif key.startswith("x-kubernetes-") or key == "description":
            continue
        elif key == "format" and value in RANGES:
            low, high = RANGES[value]
            out["minimum"] = max(schema.get("minimum", low), low)
            out["maximum"] = min(schema.get("maximum", high), high)
        elif key == "minimum" and schema.get("format") in RANGES:
            continue
        else:
            out[key] = translate(value)
    if schema.get("type") == "object" and "properties" in schema and not schema.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        out["additionalProperties"] = False
    return out


def main():
    crd_path, version, *resources = sys.argv[1:]
    with open(crd_path) as f:
        crd = yaml.safe_load(f)
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    versions = [v for v in crd["spec"]["versions"] if v["name"] == version]
    if not versions:
        print(f"{crd_path}: no version {version}")
        return 1
    schema = translate(versions[0]["schema"]["openAPIV3Schema"])
    validator = jsonschema.Draft7Validator(schema)
    problems = []
    for path in resources:
        with open(path) as f:
            documents = list(yaml.safe_load_all(f))
        if len(documents) != 1:
            problems.append(f"{path}: {len(documents)} documents, expected 1")
            continue
        doc = documents[0]
        if not isinstance(doc, dict):
            problems.append(f"{path}: not a mapping")
            continue
        if doc.get("apiVersion") != f"{group}/{version}" or doc.get("kind") != kind:
            problems.append(f"{path}: apiVersion/kind {doc.get('apiVersion')}/{doc.get('kind')}, expected {group}/{version}/{kind}")
        for error in validator.iter_errors(doc):
            where = ".".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(f"{path}: {where}: {error.message}")
        if not problems:
            print(f"{path}: valid ({json.dumps(sorted(doc['spec']))})")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
