#!/usr/bin/env bash
# Checks deploy/kubernetes without a cluster:
# 1. renders the kustomization (kubectl kustomize);
# 2. checks every object against the Kubernetes API's field names, types and required fields (the models of the
#    Kubernetes Python client, Debian's python3-kubernetes): an unknown or misspelt field is an error here, where a
#    client-side apply would drop it without a word;
# 3. takes the three files out of the ConfigMap and the keys file out of the Secret and runs `mcp-gateway validate`
#    on them;
# 4. when a cluster is reachable, `kubectl apply --dry-run=server -k` as well.
#
#   deploy/kubernetes/validate.sh
#
# Needs kubectl, /usr/bin/python3 with python3-yaml and python3-kubernetes (apt-get install kubectl python3-yaml
# python3-kubernetes), and the gateway: $MCP_GATEWAY, else mcp-gateway on PATH, else `dotnet run` of src/McpGateway.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-gateway-k8s.XXXXXX")
trap 'rm -rf "$work"' EXIT

command -v kubectl >/dev/null || { echo "validate.sh: kubectl is not installed (apt-get install kubectl)." >&2; exit 1; }
kubectl kustomize "$here" >"$work/all.yaml"
echo "rendered: $(grep -c '^kind:' "$work/all.yaml") objects (kubectl kustomize)"

/usr/bin/python3 - "$work" <<'PY'
import json, os, re, sys
import yaml
import kubernetes.client as k8s
from kubernetes.client import ApiClient

work = sys.argv[1]
errors = []

def model(api_version, kind):
    version = api_version.split("/")[-1]
    names = [version[0].upper() + version[1:] + kind]
    if version == "v2":  # this client predates autoscaling/v2; v2beta2 has the same fields
        names.append("V2beta2" + kind)
    for name in names:
        if hasattr(k8s, name):
            return name
    return None

def check(value, kind, path):
    if value is None:
        return
    if kind.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list")
            return
        for i, item in enumerate(value):
            check(item, kind[5:-1], f"{path}[{i}]")
    elif kind.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map")
            return
        inner = re.match(r"dict\(str, (.*)\)", kind).group(1)
        for key, item in value.items():
            check(item, inner, f"{path}.{key}")
    elif kind in ("str", "datetime", "date"):
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, found {type(value).__name__} {value!r}")
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer, found {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected true or false, found {value!r}")
    elif kind == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            errors.append(f"{path}: expected a number, found {value!r}")
    elif kind == "object":
        pass  # int-or-string and free-form values
    else:
        cls = getattr(k8s, kind)
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object ({kind})")
            return
        fields = {json_name: attr for attr, json_name in cls.attribute_map.items()}
        for key, item in value.items():
            if key not in fields:
                errors.append(f"{path}.{key}: not a field of {kind}")
            else:
                check(item, cls.openapi_types[fields[key]], f"{path}.{key}")

api = ApiClient()
for doc in yaml.safe_load_all(open(os.path.join(work, "all.yaml"))):
    kind, name = doc["kind"], doc["metadata"]["name"]
    cls = model(doc["apiVersion"], kind)
    where = f"{kind}/{name}"
    if cls is None:
        errors.append(f"{where}: no model for {doc['apiVersion']} {kind}")
        continue
    before = len(errors)
    check(doc, cls, where)
    try:
        api._ApiClient__deserialize(doc, cls)  # the models' constructors refuse missing required fields
    except ValueError as e:
        errors.append(f"{where}: {e}")
    print(("ok    " if len(errors) == before else "FAIL  ") + where)
    if kind == "ConfigMap":
        os.makedirs(os.path.join(work, "config"), exist_ok=True)
        for file, text in doc.get("data", {}).items():
            open(os.path.join(work, "config", file), "w").write(text)
    if kind == "Secret":
        os.makedirs(os.path.join(work, "secrets"), exist_ok=True)
        for file, text in doc.get("stringData", {}).items():
            open(os.path.join(work, "secrets", file), "w").write(text)

for e in errors:
    print("error: " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

if [[ -n ${MCP_GATEWAY:-} ]]; then
  gateway=("$MCP_GATEWAY")
elif command -v mcp-gateway >/dev/null; then
  gateway=(mcp-gateway)
else
  gateway=(dotnet run --project "$repo/src/McpGateway" --)
fi
# The settings name /secrets/mcp-gateway.keys.json, the Secret's path in the pod; here the extracted copy stands in.
echo "mcp-gateway validate (the ConfigMap's files, the Secret's keys file):"
MCP_GATEWAY_AUTHENTICATION__APIKEYS__FILE="$work/secrets/mcp-gateway.keys.json" "${gateway[@]}" validate \
  --config "$work/config/mcp-gateway.servers.json" \
  --rules "$work/config/mcp-gateway.rules.json" \
  --settings "$work/config/mcp-gateway.settings.json" 2>&1 | sed "s|$work/||g"
status=${PIPESTATUS[0]}
[[ $status == 0 ]] || { echo "validate.sh: the gateway's files do not validate." >&2; exit 1; }

if kubectl cluster-info >/dev/null 2>&1; then
  kubectl apply --dry-run=server -k "$here"
else
  echo "no cluster reachable: skipped kubectl apply --dry-run=server (kubectl's client-side dry run needs one too)"
fi
echo "deploy/kubernetes: all checks passed"
