//! Simulated machines: each has its own shape (mounts, interfaces, services) and load curve, so
//! heartbeats look like a real fleet's and alerts fire and resolve now and then.

use chrono::Utc;
use homelab_core::time;
use serde_json::{Value, json};

pub struct Machine {
    id: String,
    guid: String,
    mounts: Vec<(&'static str, f64)>,
    interfaces: Vec<&'static str>,
    services: Vec<String>,
    phase: f64,
}

pub struct Fleet {
    machines: Vec<Machine>,
}

const MOUNTS: [&str; 6] = ["/", "/boot", "/srv", "/var/lib/docker", "/mnt/media", "/home"];
const INTERFACES: [&str; 4] = ["eth0", "wlan0", "tailscale0", "docker0"];
const SERVICES: [&str; 15] = [
    "docker",
    "sshd",
    "nginx",
    "plex",
    "jellyfin",
    "pihole-FTL",
    "unbound",
    "smbd",
    "nfs-server",
    "cron",
    "tailscaled",
    "postgresql",
    "redis",
    "grafana",
    "prometheus",
];

/// A cheap deterministic hash for per-machine variety without a random-number dependency.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

impl Fleet {
    pub fn new(size: usize) -> Self {
        let machines = (0..size as u64)
            .map(|i| {
                let h = mix(i + 1);
                let mounts =
                    (0..3 + (h % 4) as usize).map(|m| (MOUNTS[m], 20.0 + (mix(h + m as u64) % 60) as f64)).collect();
                let interfaces = INTERFACES[..2 + ((h >> 8) % 3) as usize].to_vec();
                let services = SERVICES[..5 + ((h >> 16) % 11) as usize].iter().map(|s| s.to_string()).collect();
                let g = mix(h);
                Machine {
                    id: format!("bench-{i:05}"),
                    guid: format!(
                        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
                        g as u32,
                        (g >> 32) as u16,
                        (g >> 48) as u16 & 0xfff,
                        8 + (h % 4),
                        (h >> 4) as u16 & 0xfff,
                        mix(g) & 0xffff_ffff_ffff
                    ),
                    mounts,
                    interfaces,
                    services,
                    phase: (h % 1000) as f64 / 1000.0 * std::f64::consts::TAU,
                }
            })
            .collect();
        Fleet { machines }
    }

    /// The `n`-th heartbeat of the run, from machine `n mod size`, as JSON bytes.
    pub fn heartbeat(&self, n: u64) -> Vec<u8> {
        self.heartbeat_at(n, (n % self.machines.len() as u64) as usize, Utc::now())
    }

    /// Machine `index`'s heartbeat stamped `now` (history back-fill uses past instants).
    pub fn heartbeat_at(&self, n: u64, index: usize, now: chrono::DateTime<Utc>) -> Vec<u8> {
        let machine = &self.machines[index % self.machines.len()];
        let t = now.timestamp() as f64 / 600.0 + machine.phase;
        let cpu = (35.0 + 60.0 * t.sin().max(0.0).powi(3)).clamp(0.0, 100.0);
        let memory = 40.0 + 20.0 * (t / 3.0).sin().abs();
        let round = |v: f64| (v * 10.0).round() / 10.0;
        let filesystems: Vec<Value> = machine
            .mounts
            .iter()
            .map(|(mount, percent)| {
                let total = 500_000_000_000u64;
                let used = (total as f64 * percent / 100.0) as u64;
                json!({"mount_point": mount, "device": format!("/dev/sd{}", mount.len()), "fs_type": "ext4",
                       "total_bytes": total, "used_bytes": used, "available_bytes": total - used, "percent": percent})
            })
            .collect();
        let counter = (now.timestamp() as u64) * 12_345;
        let interfaces: Vec<Value> = machine
            .interfaces
            .iter()
            .map(|name| {
                json!({"name": name, "rx_bytes": counter, "tx_bytes": counter / 3, "rx_packets": counter / 1000,
                               "tx_packets": counter / 3000, "is_up": true})
            })
            .collect();
        let services: Vec<Value> = machine
            .services
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let status =
                    if (n / self.machines.len() as u64 + i as u64).is_multiple_of(97) { "stopped" } else { "running" };
                // Memory and CPU move with every report, as a real service's do.
                let memory_mb = 64.0 + 8.0 * i as f64 + 0.25 * (n % 13) as f64;
                json!({"name": name, "status": status, "pid": 1000 + i, "memory_mb": memory_mb,
                       "cpu_percent": round(cpu / 20.0 + 0.1 * i as f64)})
            })
            .collect();
        let mut body = json!({
            "server_guid": machine.guid,
            "server_id": machine.id,
            "hostname": format!("{}.home.lan", machine.id),
            "timestamp": time::format(&now),
            "agent_version": "0.1.0",
            "agent_mode": "readonly",
            "os_info": {"distribution": "Debian GNU/Linux", "version": "12", "kernel": "6.1.0-18-amd64", "architecture": "x86_64"},
            "cpu_info": {"cpu_model": "Intel(R) N100", "cpu_cores": 4},
            "metrics": {"cpu_percent": round(cpu), "memory_percent": round(memory), "memory_total_mb": 16000,
                        "memory_used_mb": (memory * 160.0) as u64, "disk_percent": machine.mounts[0].1,
                        "disk_total_gb": 465.66, "disk_used_gb": 200.0, "network_rx_bytes": counter,
                        "network_tx_bytes": counter / 3, "load_1m": round(cpu / 25.0), "load_5m": 0.8,
                        "load_15m": 0.6, "uptime_seconds": 864000},
            "filesystems": filesystems,
            "network_interfaces": interfaces,
            "services": services,
            "updates_available": 3,
            "security_updates": 1
        });
        // Roughly one heartbeat in sixty carries a package list, as agents send them hourly.
        if n.is_multiple_of(60) {
            body["packages"] = json!([{"name": "openssl", "current_version": "3.0.11", "new_version": "3.0.13",
                                       "repository": "bookworm-security", "is_security": true}]);
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_are_valid_v1_payloads() {
        let fleet = Fleet::new(50);
        for n in 0..200 {
            let hb: homelab_core::heartbeat::HeartbeatRequest = serde_json::from_slice(&fleet.heartbeat(n)).unwrap();
            hb.validate(Utc::now()).unwrap();
            let fs = hb.filesystems.unwrap().len();
            assert!((3..=6).contains(&fs));
            assert!((5..=15).contains(&hb.services.unwrap().len()));
        }
    }
}
