#!/bin/bash
# The agent's footprint with the inventory beyond v1: 30 containers (the stand-in engine of
# tests/common/engine.rs), 8 temperature sensors, 2 fans, 4 S.M.A.R.T. disks, 4 md arrays,
# 3 ZFS pools and 3 GPUs (the nas-ryzen-bookworm fixture, its tools replaced by scripts printing
# the fixture's output). The machine's own /proc and /etc are used for the v1 metrics.
#
#   cargo build --release -p homelab-agent
#   cargo test -p homelab-agent --test containers --no-run
#   crates/agent/tests/footprint.sh target/release/homelabcmd-agent 60
#
# Prints CPU per collection in the process (`check --bench-collect`), what one heartbeat
# carries, and, for `run` at a 1 s interval against a stand-in hub: RSS once a second, CPU per
# heartbeat, and the CPU of child processes (systemctl, apt, smartctl, zpool, nvidia-smi).
set -eu
AGENT=$(realpath "$1"); DURATION=${2:-60}; PORT=${PORT:-18931}
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
FX=$REPO/crates/agent/tests/fixtures/nas-ryzen-bookworm
TESTS=$(ls -t "$REPO"/target/debug/deps/containers-* | grep -v '\.d$' | head -1)
W=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT

mkdir -p "$W/bin" "$W/root/proc" "$W/root/var/run" "$W/state"
for f in stat meminfo mounts net loadavg uptime cpuinfo sys version; do ln -s "/proc/$f" "$W/root/proc/$f"; done
cp "$FX/proc/mdstat" "$W/root/proc/mdstat"; ln -s "$FX/sys" "$W/root/sys"; ln -s /etc "$W/root/etc"
cat > "$W/bin/smartctl" <<SH
#!/bin/sh
case "\$*" in
  *--scan-open*) exec cat "$FX/commands/smartctl/scan.json" ;;
  *) for last; do :; done; exec cat "$FX/commands/smartctl/\$(basename "\$last").json" ;;
esac
SH
printf '#!/bin/sh\nexec cat "%s/commands/zpool-list.txt"\n' "$FX" > "$W/bin/zpool"
printf '#!/bin/sh\nexec cat "%s/commands/nvidia-smi.csv"\n' "$FX" > "$W/bin/nvidia-smi"
chmod +x "$W"/bin/*

HOMELAB_STAND_IN_ENGINE=$W/engine.sock HOMELAB_STAND_IN_CONTAINERS=30 \
  "$TESTS" --ignored --exact serve_stand_in_engine >/dev/null 2>&1 &
HOMELAB_STAND_IN_HUB=127.0.0.1:$PORT "$TESTS" --ignored --exact serve_stand_in_hub >/dev/null 2>&1 &
while [ ! -S "$W/engine.sock" ]; do sleep 0.1; done

export PATH=$W/bin:$PATH HOMELAB_AGENT_CONTAINER_SOCKETS=$W/engine.sock HOMELAB_AGENT_ROOT=$W/root
echo "== check --bench-collect 200 (collection + JSON encoding, in the process)"
"$AGENT" check --bench-collect 200 2>/dev/null | tail -1
echo "== one heartbeat (check): items per key"
"$AGENT" check 2>/dev/null > "$W/heartbeat.json"
for key in containers temperatures fans disk_health raid_arrays zfs_pools gpus; do
  printf '%s=%s ' "$key" "$(tr -d ' \n' < "$W/heartbeat.json" | grep -o "\"$key\":\[[^]]*" | grep -o '"sensor"\|"device"\|"name":"md\|"health":"[A-Z]\|"vendor"\|"image"' | wc -l)"
done; echo

HOMELAB_AGENT_HUB_URL=http://127.0.0.1:$PORT HOMELAB_AGENT_API_KEY=k HOMELAB_AGENT_SERVER_ID=bench-agent \
  HOMELAB_AGENT_HEARTBEAT_INTERVAL_MS=1000 HOMELAB_AGENT_STATE_DIR=$W/state HOMELAB_AGENT_DISK_HEALTH_INTERVAL=60 \
  "$AGENT" run >/dev/null 2>"$W/agent.log" & PID=$!
cpu() { awk '{print $14+$15, $16+$17}' "/proc/$PID/stat"; }
sleep 2; read -r SELF0 CHILD0 < <(cpu)
RSS=()
for _ in $(seq 3 "$DURATION"); do sleep 1; RSS+=("$(awk '/VmRSS/{print $2}' "/proc/$PID/status")"); done
read -r SELF1 CHILD1 < <(cpu)
HWM=$(awk '/VmHWM/{print $2}' "/proc/$PID/status"); TICK=$(getconf CLK_TCK); N=$((DURATION - 2))
echo "== run, 1 s interval, $DURATION s"
echo "RSS KiB: first ${RSS[0]}, max $(printf '%s\n' "${RSS[@]}" | sort -n | tail -1), last ${RSS[-1]}; peak (VmHWM) $HWM"
awk -v s=$((SELF1 - SELF0)) -v c=$((CHILD1 - CHILD0)) -v t="$TICK" -v n="$N" 'BEGIN {
  printf "agent CPU per heartbeat %.2f ms; child processes %.0f ms in %d s\n", s * 1000 / t / n, c * 1000 / t, n }'
grep -c WARN "$W/agent.log" | sed 's/^/warnings logged: /'
