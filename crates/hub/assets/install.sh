#!/usr/bin/env bash
# Homelab Command agent installer, served by the hub at /api/v1/agents/register/install.sh.
#
#   curl -sSL HUB/api/v1/agents/register/install.sh | sudo bash -s -- --token hlh_rt_…
#
# 1. installs the agent binary: downloaded from the hub when it has one for this machine's
#    architecture, or an already installed one; otherwise it stops and says how to get one;
# 2. writes the systemd unit;
# 3. claims the registration token (`homelabcmd-agent register`), which writes the config file;
# 4. enables and starts the service.
#
# Options: --token T (required), --server-id ID, --hub URL, --prefix DIR (install below DIR,
# for testing), --no-start (write everything but do not touch systemd).
set -euo pipefail

HUB_URL="__HUB_URL__"
TOKEN=""
SERVER_ID=""
PREFIX=""
START=1

die() { echo "homelabcmd-agent install: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --token) TOKEN="${2:-}"; shift 2 ;;
        --token=*) TOKEN="${1#*=}"; shift ;;
        --server-id) SERVER_ID="${2:-}"; shift 2 ;;
        --server-id=*) SERVER_ID="${1#*=}"; shift ;;
        --hub) HUB_URL="${2:-}"; shift 2 ;;
        --hub=*) HUB_URL="${1#*=}"; shift ;;
        --prefix) PREFIX="${2:-}"; shift 2 ;;
        --prefix=*) PREFIX="${1#*=}"; shift ;;
        --no-start) START=0; shift ;;
        *) die "unknown option: $1" ;;
    esac
done

[ -n "$TOKEN" ] || die "--token is required (create one on the hub's Settings page)"
HUB_URL="${HUB_URL%/}"
BIN_DIR="$PREFIX/usr/local/bin"
BIN="$BIN_DIR/homelabcmd-agent"
UNIT_DIR="$PREFIX/etc/systemd/system"
CONFIG="$PREFIX/etc/homelab-agent/config.toml"
STATE_DIR="$PREFIX/var/lib/homelab-agent"

if [ -z "$PREFIX" ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (pipe into 'sudo bash -s -- --token …')"
fi

ARCH="$(uname -m)"
mkdir -p "$BIN_DIR" "$UNIT_DIR" "$(dirname "$CONFIG")" "$STATE_DIR"

download() {
    local url="$HUB_URL/api/v1/agents/download/$ARCH" out="$1"
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL -o "$out" "$url"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$out" "$url"
    else
        return 1
    fi
}

TMP="$(mktemp "$BIN_DIR/.homelabcmd-agent.XXXXXX")"
trap 'rm -f "$TMP"' EXIT
if download "$TMP" && [ -s "$TMP" ]; then
    chmod 0755 "$TMP"
    mv -f "$TMP" "$BIN"
    echo "Installed the agent for $ARCH from the hub: $BIN"
elif [ -x "$BIN" ]; then
    echo "The hub has no agent binary for $ARCH; keeping the installed $BIN"
else
    cat >&2 <<MSG
homelabcmd-agent install: the hub has no agent binary for this machine ($ARCH).
Build one (cargo build --release -p homelab-agent, or cross-compile for $ARCH), copy it to
$BIN (mode 0755) and run this installer again; or put it into the hub's agent_binaries_dir
as homelabcmd-agent-$ARCH so that every machine of this architecture can download it.
MSG
    exit 1
fi

cat > "$UNIT_DIR/homelabcmd-agent.service" <<'UNIT'
__UNIT__
UNIT
echo "Wrote $UNIT_DIR/homelabcmd-agent.service"

register=("$BIN" register --hub "$HUB_URL" --token "$TOKEN" --config "$CONFIG")
if [ -n "$SERVER_ID" ]; then
    register+=(--server-id "$SERVER_ID")
fi
HOMELAB_AGENT_STATE_DIR="$STATE_DIR" "${register[@]}"

if [ "$START" -eq 1 ]; then
    systemctl daemon-reload
    systemctl enable --now homelabcmd-agent
    echo "The agent is running: systemctl status homelabcmd-agent"
else
    echo "Not started (--no-start)."
fi
