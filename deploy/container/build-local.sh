#!/usr/bin/env bash
# Builds the mcp-gateway container image without any container registry, then runs it and checks that it answers.
#
#   deploy/container/build-local.sh [--rebuild-base] [--no-check] [--keep]
#
# 1. Base image: Debian bookworm made by mmdebstrap (ca-certificates, libssl3, nodejs, npm, tini, curl, passwd),
#    imported into podman as $BASE_IMAGE. It is kept and reused by later runs (--rebuild-base makes it again).
# 2. Podman's quirks on this kind of machine are found by starting a container of the base, and worked around:
#    crun's "cgroups in hybrid mode not supported" (use runc), and "setrlimit RLIMIT_NOFILE: Operation not
#    permitted" (a private containers.conf with `default_ulimits = []`, through CONTAINERS_CONF).
# 3. The gateway is published self-contained on the host (dotnet publish -r linux-x64 --self-contained).
# 4. deploy/container/Containerfile is built with the base as RUNTIME_BASE and the host's publish output in place
#    of its build stage, so neither the SDK image nor the Node.js image is needed.
# 5. Unless --no-check: a /config laid out as Kubernetes lays out a ConfigMap (files as symlinks through ..data),
#    with one stdio server (@modelcontextprotocol/server-everything, npm-installed on the host and mounted
#    read-only) and an API key; the container is started and must answer /healthz 200, /readyz 200, tools/list
#    through /mcp with the key (the server's tools) and 401 without it; the image's HEALTHCHECK must pass; a rules
#    change delivered as a ConfigMap update (a symlink swap) must reach the running gateway.
#
# Needs: podman, mmdebstrap (only to make the base), the .NET 10 SDK, node and npm (the check's server), curl.
# Environment: IMAGE (localhost/mcp-gateway:local), BASE_IMAGE (localhost/mcp-gateway-base:bookworm), PORT (18080),
# DEBIAN_MIRROR (http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR (http://deb.debian.org/debian-security).
set -euo pipefail

IMAGE=${IMAGE:-localhost/mcp-gateway:local}
BASE_IMAGE=${BASE_IMAGE:-localhost/mcp-gateway-base:bookworm}
PORT=${PORT:-18080}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
BASE_PACKAGES=ca-certificates,libssl3,nodejs,npm,tini,curl,passwd

rebuild_base=false check=true keep=false
for arg in "$@"; do
  case "$arg" in
    --rebuild-base) rebuild_base=true ;;
    --no-check) check=false ;;
    --keep) keep=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-local.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-gateway-image.XXXXXX")
container=""
started=$SECONDS

say() { printf '[%3ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() { printf 'build-local.sh: %s\n' "$*" >&2; exit 1; }

cleanup() {
  if [[ -n $container ]]; then
    if [[ $keep == true ]]; then
      say "left running: container $container on http://127.0.0.1:$PORT (podman ${podman_flags[*]} rm -f $container)"
    else
      pm rm -f "$container" >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$work"
}
trap cleanup EXIT

for tool in podman dotnet curl; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed."
done

# Every podman call goes through pm, with the flags the probe below finds necessary.
podman_flags=()
pm() { podman "${podman_flags[@]}" "$@"; }

# --- 1. The base image -------------------------------------------------------------------------------------------
if [[ $rebuild_base == true ]] || ! podman image exists "$BASE_IMAGE"; then
  command -v mmdebstrap >/dev/null || fail "'mmdebstrap' is not installed (apt-get install mmdebstrap)."
  say "making the base image $BASE_IMAGE with mmdebstrap (Debian bookworm: $BASE_PACKAGES); this takes a few minutes"
  # No recommends, no documentation but the copyright files, no translations: the image carries what runs.
  mmdebstrap --variant=apt --format=tar --include="$BASE_PACKAGES" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    bookworm "$work/base.tar" \
    "deb $DEBIAN_MIRROR bookworm main" \
    "deb $DEBIAN_MIRROR bookworm-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR bookworm-security main" >"$work/mmdebstrap.log" 2>&1 \
    || { tail -20 "$work/mmdebstrap.log" >&2; fail "mmdebstrap failed (the log's end is above)."; }
  podman import --change 'CMD ["/bin/bash"]' "$work/base.tar" "$BASE_IMAGE" >"$work/import.log" 2>&1 \
    || { cat "$work/import.log" >&2; fail "podman import of the base failed."; }
  rm -f "$work/base.tar"
else
  say "reusing the base image $BASE_IMAGE (--rebuild-base makes it again)"
fi

# --- 2. Podman on this machine -----------------------------------------------------------------------------------
# Start a container of the base; on each known failure apply its workaround and try again.
fix_ulimits() {
  # CONTAINERS_CONF replaces every containers.conf podman would read, so the private file starts from the one in
  # force and only replaces its default_ulimits (the hard limits the sandbox allows are lower than podman's defaults).
  local source=${CONTAINERS_CONF:-/etc/containers/containers.conf}
  local private="$work/containers.conf"
  if [[ -f $source ]]; then
    awk '
      /^[[:space:]]*default_ulimits[[:space:]]*=/ { skipping = 1 }
      skipping { if ($0 ~ /\]/) skipping = 0; next }
      { print }
      /^[[:space:]]*\[containers\][[:space:]]*$/ { print "default_ulimits = []"; added = 1 }
      END { if (!added) { print "[containers]"; print "default_ulimits = []" } }
    ' "$source" >"$private"
  else
    printf '[containers]\ndefault_ulimits = []\n' >"$private"
  fi
  export CONTAINERS_CONF=$private
}

applied="" started_one=false
for _ in 1 2 3; do
  if probe=$(pm run --rm --network none "$BASE_IMAGE" true 2>&1); then
    started_one=true
    break
  fi
  if [[ $probe == *"cgroups in hybrid mode not supported"* && $applied != *runc* ]]; then
    runc=$(command -v runc || echo /usr/sbin/runc)
    [[ -x $runc ]] || fail "crun cannot start containers on this host (cgroups in hybrid mode) and runc is not installed (apt-get install runc)."
    say "podman's default runtime crun fails here (\"cgroups in hybrid mode not supported\"): using --runtime $runc"
    podman_flags+=(--runtime "$runc")
    applied+=" runc"
  elif [[ ($probe == *RLIMIT_NOFILE* || $probe == *"error setting rlimit"*) && $applied != *ulimits* ]]; then
    fix_ulimits
    say "podman cannot set its default ulimits here (\"setrlimit RLIMIT_NOFILE: Operation not permitted\"): using $CONTAINERS_CONF with default_ulimits = []"
    applied+=" ulimits"
  else
    break
  fi
done
[[ $started_one == true ]] || fail "podman cannot start a container of $BASE_IMAGE${applied:+ even with the workarounds (${applied# })}: $probe"
say "podman starts containers${applied:+ (workarounds:$applied)}"

# --- 3. The gateway, published on the host -----------------------------------------------------------------------
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) fail "no .NET runtime identifier for $(uname -m)." ;;
esac
say "publishing the gateway self-contained ($rid)"
dotnet publish "$repo/src/McpGateway" -c Release -r "$rid" --self-contained \
  -p:CopyOutputSymbolsToPublishDirectory=false -o "$work/publish/out" >"$work/publish.log" 2>&1 \
  || { tail -20 "$work/publish.log" >&2; fail "dotnet publish failed (the log's end is above)."; }

# --- 4. The image --------------------------------------------------------------------------------------------------
say "building $IMAGE from deploy/container/Containerfile on $BASE_IMAGE"
mkdir -p "$work/context"
# --format docker keeps the HEALTHCHECK (the OCI format has none). The empty context: the skipped build stage is
# the only one that reads it.
pm build --format docker --pull=never \
  --build-arg RUNTIME_BASE="$BASE_IMAGE" \
  --build-context build="$work/publish" \
  -f "$repo/deploy/container/Containerfile" -t "$IMAGE" "$work/context" >"$work/build.log" 2>&1 \
  || { tail -20 "$work/build.log" >&2; fail "podman build failed (the log's end is above)."; }
say "built $IMAGE ($(pm image inspect "$IMAGE" --format '{{.Size}}' | awk '{ printf "%d MB", $1 / 1000000 }')): $(pm run --rm --health-cmd none --entrypoint mcp-gateway "$IMAGE" --version)"

[[ $check == true ]] || exit 0

# --- 5. Run it and check it ----------------------------------------------------------------------------------------
command -v npm >/dev/null || fail "the check needs node and npm on the host (for its MCP server); --no-check builds only."
everything_version=$(node -p 'require(process.argv[1]).dependencies["@modelcontextprotocol/server-everything"]' "$repo/tests/fixtures/package.json")
say "installing @modelcontextprotocol/server-everything@$everything_version (host npm) for the check's stdio server"
npm install --prefix "$work/servers" --omit=dev --no-audit --no-fund --loglevel=error \
  "@modelcontextprotocol/server-everything@$everything_version" >"$work/npm.log" 2>&1 \
  || { tail -20 "$work/npm.log" >&2; fail "npm install failed (the log's end is above)."; }

# /config as the kubelet writes a ConfigMap volume: the files live in a timestamped folder, ..data points at it,
# and each file is a symlink through ..data; an update writes a new folder and swaps ..data.
config="$work/config"
write_config() { # $1: folder, $2: the researcher's tools ("*" or a list)
  mkdir -p "$1"
  cat >"$1/mcp-gateway.servers.json" <<'JSON'
{
  "mcpServers": {
    "everything": {
      "description": "The MCP reference server, from the read-only volume /opt/mcp-servers.",
      "command": "node",
      "args": ["/opt/mcp-servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js", "stdio"],
      "required": true
    }
  }
}
JSON
  cat >"$1/mcp-gateway.rules.json" <<JSON
{ "agents": { "researcher": { "allow": { "servers": ["everything"], "tools": { "everything": $2 } } } } }
JSON
  cat >"$1/mcp-gateway.settings.json" <<'JSON'
{ "audit": { "file": "-" } }
JSON
}
write_config "$config/..v1" '["*"]'
ln -s ..v1 "$config/..data"
for name in servers rules settings; do
  ln -s "..data/mcp-gateway.$name.json" "$config/mcp-gateway.$name.json"
done

gateway=("$work/publish/out/mcp-gateway")
key=$("${gateway[@]}" keys add --agent researcher --label container-check \
  --config "$config/mcp-gateway.servers.json" --rules "$config/mcp-gateway.rules.json" --settings "$config/mcp-gateway.settings.json")
# The keys file is written beside the settings file, that is in ..v1 (through the symlink's folder, /config).
if [[ -f $config/mcp-gateway.keys.json && ! -L $config/mcp-gateway.keys.json ]]; then
  mv "$config/mcp-gateway.keys.json" "$config/..v1/"
  ln -s ..data/mcp-gateway.keys.json "$config/mcp-gateway.keys.json"
fi
"${gateway[@]}" validate --config "$config/mcp-gateway.servers.json" --rules "$config/mcp-gateway.rules.json" \
  --settings "$config/mcp-gateway.settings.json" >"$work/validate.log" 2>&1 \
  || { cat "$work/validate.log" >&2; fail "the check's configuration does not validate."; }

# The keys file is readable by its owner only: the container's user (10001) must own the files. `:U` has podman
# chown the mounted folders to that user (with docker: chown -R 10001:10001 the folder).
say "starting the container (port $PORT; /config and /opt/mcp-servers mounted read-only)"
container=$(pm run -d \
  -p "127.0.0.1:$PORT:8080" \
  -v "$config:/config:ro,U" \
  -v "$work/servers:/opt/mcp-servers:ro,U" \
  "$IMAGE" 2>"$work/run.log") || { cat "$work/run.log" >&2; fail "podman run failed."; }
# Podman runs the HEALTHCHECK from systemd timers; without systemd it says so and runs none by itself (the check
# below runs it by hand with `podman healthcheck run`).
if grep -q 'unable to get systemd connection' "$work/run.log"; then
  say "note: no systemd here, so podman schedules no health checks by itself (\"unable to get systemd connection to add healthchecks\")"
fi

url="http://127.0.0.1:$PORT"
logs() { pm logs "$container" 2>&1 | grep -v '^{"time"' | tail -30 >&2; }
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

for _ in $(seq 1 60); do
  [[ $(status_of "$url/healthz") == 200 ]] && break
  [[ $(pm inspect -f '{{.State.Running}}' "$container") == true ]] || { logs; fail "the container exited (its log is above)."; }
  sleep 1
done
[[ $(status_of "$url/healthz") == 200 ]] || { logs; fail "/healthz did not answer 200 within 60 s."; }
say "GET /healthz -> 200 $(curl -s "$url/healthz")"

for _ in $(seq 1 90); do
  [[ $(status_of "$url/readyz") == 200 ]] && break
  sleep 1
done
readyz=$(curl -s "$url/readyz" | tr -d '\n ')
[[ $(status_of "$url/readyz") == 200 ]] || { logs; fail "/readyz did not answer 200 within 90 s: $readyz"; }
say "GET /readyz -> 200 $readyz"

mcp_headers=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
# The body of a JSON reply, or the data of the first event of an SSE reply.
json_of() { node -e '
  const text = require("fs").readFileSync(0, "utf8");
  const data = text.split("\n").find(l => l.startsWith("data:"));
  process.stdout.write(data ? data.slice(5).trim() : text);'; }

tools_list() { # prints the tool names, one line; $@: extra curl arguments (the key)
  local headers="$work/headers" session reply
  reply=$(curl -s -D "$headers" "${mcp_headers[@]}" "$@" "$url/mcp" \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"build-local.sh","version":"1"}}}')
  session=$(awk 'tolower($1) == "mcp-session-id:" { print $2 }' "$headers" | tr -d '\r')
  [[ -n $session ]] || { echo "initialize answered without a session: $(head -1 "$headers") $reply" >&2; return 1; }
  curl -s -o /dev/null "${mcp_headers[@]}" "$@" -H "Mcp-Session-Id: $session" -H 'MCP-Protocol-Version: 2025-11-25' "$url/mcp" \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  curl -s "${mcp_headers[@]}" "$@" -H "Mcp-Session-Id: $session" -H 'MCP-Protocol-Version: 2025-11-25' "$url/mcp" \
    -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' | json_of >"$work/tools.json"
  curl -s -o /dev/null -X DELETE "$@" -H "Mcp-Session-Id: $session" -H 'MCP-Protocol-Version: 2025-11-25' "$url/mcp"
  node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
    if (!r.result) { console.error(JSON.stringify(r)); process.exit(1); }
    console.log(r.result.tools.map(t => t.name).join(" "));' <"$work/tools.json"
}

tools=$(tools_list -H "Authorization: Bearer $key") || { logs; fail "tools/list with the key failed."; }
count=$(wc -w <<<"$tools")
[[ $tools == *everything_echo* ]] || { logs; fail "tools/list with the key does not list everything_echo: $tools"; }
say "POST /mcp tools/list with the key -> $count tools: $tools"

unauthorized=$(curl -s -o /dev/null -w '%{http_code}' "${mcp_headers[@]}" "$url/mcp" \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"build-local.sh","version":"1"}}}')
[[ $unauthorized == 401 ]] || fail "POST /mcp without the key answered $unauthorized, not 401."
say "POST /mcp without the key -> 401"

health=$(pm healthcheck run "$container" 2>&1) || { logs; fail "the image's HEALTHCHECK fails: $health"; }
say "podman healthcheck run (the image's HEALTHCHECK, curl /healthz) -> ${health:-healthy}"
say "PID 1 in the container: $(pm exec "$container" cat /proc/1/cmdline | tr '\0' ' ')"
say "processes in the container:"
pm exec "$container" sh -c 'for p in /proc/[0-9]*; do [ "${p#/proc/}" = $$ ] || printf "    %6s  %s\n" "${p#/proc/}" "$(tr "\0\n" "  " <"$p/cmdline" | cut -c1-100)"; done' || true

# A ConfigMap update: a new folder, ..data swapped by rename (atomic), the old folder removed, as the kubelet does.
write_config "$config/..v2" '["echo", "get-sum"]'
cp -p "$config/..v1/mcp-gateway.keys.json" "$config/..v2/"
chown -R --reference="$config/..v1" "$config/..v2" 2>/dev/null || true
ln -s ..v2 "$config/..data_tmp"
mv -T "$config/..data_tmp" "$config/..data"
rm -rf "$config/..v1"
say "ConfigMap-style update: the researcher may now use echo and get-sum only; waiting for the gateway to see it"
everything_tools() { tr ' ' '\n' <<<"$1" | grep -c '^everything_' || true; }
for _ in $(seq 1 30); do
  tools=$(tools_list -H "Authorization: Bearer $key" 2>/dev/null) || tools=""
  [[ $(everything_tools "$tools") == 2 ]] && break
  sleep 1
done
[[ $(everything_tools "$tools") == 2 ]] || { logs; fail "the rules change did not reach the gateway within 30 s (tools: $tools)."; }
say "after the symlink swap, tools/list with the key -> $tools"

# podman stop sends SIGTERM to PID 1 (tini), which passes it on; the gateway stops its servers and exits.
stop_started=$SECONDS
pm stop -t 20 "$container" >/dev/null 2>&1
say "podman stop -> exited $(pm inspect -f '{{.State.ExitCode}}' "$container") after $((SECONDS - stop_started)) s (SIGTERM through tini; no SIGKILL needed)"

say "the container's log (abridged):"
pm logs "$container" 2>&1 | grep -v '^{"time"' | head -12 | sed 's/^/    /'
say "audit records on stdout: $(pm logs "$container" 2>/dev/null | grep -c '^{"time"'); the last: $(pm logs "$container" 2>/dev/null | grep '^{"time"' | tail -1 | cut -c1-200)"
pm rm "$container" >/dev/null
container=""
# Listening on 0.0.0.0 without authentication: refused, unless the operator says so explicitly.
open_config="$work/open-config"
mkdir -p "$open_config"
cp -L "$config/mcp-gateway.servers.json" "$config/mcp-gateway.rules.json" "$config/mcp-gateway.settings.json" "$open_config/"
open_run=(run --rm -v "$open_config:/config:ro,U" -v "$work/servers:/opt/mcp-servers:ro,U")
if refusal=$(timeout 60 podman "${podman_flags[@]}" "${open_run[@]}" "$IMAGE" 2>&1); then
  fail "without authentication and without --allow-unauthenticated the gateway started: $refusal"
fi
say "without a keys file or JWT settings: refused, $(grep -o 'error: --http.*so any caller could name any agent' <<<"$refusal")"
container=$(pm run -d -p "127.0.0.1:$PORT:8080" -v "$open_config:/config:ro,U" -v "$work/servers:/opt/mcp-servers:ro,U" \
  -e MCP_GATEWAY_HTTP__ALLOWUNAUTHENTICATED=true "$IMAGE" 2>/dev/null)
for _ in $(seq 1 60); do
  [[ $(status_of "$url/healthz") == 200 ]] && break
  sleep 1
done
[[ $(status_of "$url/healthz") == 200 ]] || { logs; fail "with MCP_GATEWAY_HTTP__ALLOWUNAUTHENTICATED=true the gateway did not answer /healthz."; }
say "with -e MCP_GATEWAY_HTTP__ALLOWUNAUTHENTICATED=true (or IMAGE --allow-unauthenticated): starts, /healthz -> 200"

say "all checks passed"
