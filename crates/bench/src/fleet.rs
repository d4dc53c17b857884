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
    body: Body,
}

/// What the simulated agents send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// About 2 KB: 3–6 mounts, 2–4 interfaces, 5–15 services; a one-package list in one
    /// heartbeat of sixty.
    Default,
    /// About 3 KB, shaped like a real v1 agent's heartbeat on a busy Debian machine (contract
    /// §2.3; the agent's fixtures): every machine has 6 mounts, 4 interfaces and 10 watched
    /// services, readings at the agent's precision, and one heartbeat in ten carries the
    /// machine's pending updates (24 packages, as `apt list --upgradable` reports them).
    V1Realistic,
}

impl Body {
    pub fn parse(name: &str) -> Option<Body> {
        match name {
            "default" => Some(Body::Default),
            "v1-realistic" => Some(Body::V1Realistic),
            _ => None,
        }
    }
}

/// Services a realistic machine reports (the agent sends the ones it is configured to watch).
const REALISTIC_SERVICES: usize = 10;

/// Pending updates of a Debian 12 machine (name, new version, current version, repository), from
/// the agent's `debian12-epyc-container` fixture.
const PACKAGES: [(&str, &str, &str, &str); 24] = [
    ("base-files", "12.4+deb12u14", "12.4+deb12u11", "oldstable"),
    ("bash", "5.2.15-2+b13", "5.2.15-2+b8", "oldstable"),
    ("distro-info-data", "0.58+deb12u7", "0.58+deb12u6", "oldstable"),
    ("dpkg-dev", "1.21.23", "1.21.22", "oldstable"),
    ("dpkg", "1.21.23", "1.21.22", "oldstable"),
    ("e2fsprogs", "1.47.0-2+b2", "1.47.0-2", "oldstable"),
    ("init-system-helpers", "1.65.2+deb12u1", "1.65.2", "oldstable"),
    ("krb5-locales", "1.20.1-2+deb12u4", "1.20.1-2+deb12u3", "oldstable"),
    ("libaom3", "3.6.0-1+deb12u2", "3.6.0-1+deb12u1", "oldstable"),
    ("libcap2-bin", "1:2.66-4+deb12u3+b1", "1:2.66-4+deb12u2+b2", "oldstable"),
    ("libcap2", "1:2.66-4+deb12u3+b1", "1:2.66-4+deb12u2+b2", "oldstable"),
    ("libcom-err2", "1.47.0-2+b2", "1.47.0-2", "oldstable"),
    ("libcups2", "2.4.2-3+deb12u9", "2.4.2-3+deb12u8", "oldstable-security"),
    ("libdpkg-perl", "1.21.23", "1.21.22", "oldstable"),
    ("libexpat1-dev", "2.5.0-1+deb12u2", "2.5.0-1+deb12u1", "oldstable"),
    ("libexpat1", "2.5.0-1+deb12u2", "2.5.0-1+deb12u1", "oldstable"),
    ("libext2fs2", "1.47.0-2+b2", "1.47.0-2", "oldstable"),
    ("libgdk-pixbuf-2.0-0", "2.42.10+dfsg-1+deb12u4", "2.42.10+dfsg-1+deb12u2", "oldstable-security"),
    ("libgdk-pixbuf2.0-bin", "2.42.10+dfsg-1+deb12u4", "2.42.10+dfsg-1+deb12u2", "oldstable-security"),
    ("libgdk-pixbuf2.0-common", "2.42.10+dfsg-1+deb12u4", "2.42.10+dfsg-1+deb12u2", "oldstable-security"),
    ("libglib2.0-0", "2.74.6-2+deb12u9", "2.74.6-2+deb12u8", "oldstable"),
    ("libglib2.0-bin", "2.74.6-2+deb12u9", "2.74.6-2+deb12u8", "oldstable"),
    ("libglib2.0-data", "2.74.6-2+deb12u9", "2.74.6-2+deb12u8", "oldstable"),
    ("libgnutls-dane0", "3.7.9-2+deb12u7", "3.7.9-2+deb12u6", "oldstable-security"),
];

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
        Fleet::with_body(size, Body::Default)
    }

    pub fn with_body(size: usize, body: Body) -> Self {
        let full = body == Body::V1Realistic;
        let machines = (0..size as u64)
            .map(|i| {
                let h = mix(i + 1);
                let mount_count = if full { MOUNTS.len() } else { 3 + (h % 4) as usize };
                let mounts = (0..mount_count).map(|m| (MOUNTS[m], 20.0 + (mix(h + m as u64) % 60) as f64)).collect();
                let interfaces =
                    INTERFACES[..if full { INTERFACES.len() } else { 2 + ((h >> 8) % 3) as usize }].to_vec();
                let service_count = if full { SERVICES.len() } else { 5 + ((h >> 16) % 11) as usize };
                let services = SERVICES[..service_count].iter().map(|s| s.to_string()).collect();
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
        Fleet { machines, body }
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
        if self.body == Body::V1Realistic {
            realistic(&mut body, n, cpu);
        } else if n.is_multiple_of(60) {
            // Roughly one heartbeat in sixty carries a package list, as agents send them hourly.
            body["packages"] = json!([{"name": "openssl", "current_version": "3.0.11", "new_version": "3.0.13",
                                       "repository": "bookworm-security", "is_security": true}]);
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// Turns a default body into a v1 agent's: readings at the agent's precision (one decimal for
/// percentages, two for load and GB), service reasons, the reboot flag the agent adds, and one
/// heartbeat in ten with the pending updates.
fn realistic(body: &mut Value, n: u64, cpu: f64) {
    let round = |v: f64, places: i32| (v * 10f64.powi(places)).round() / 10f64.powi(places);
    body["agent_version"] = json!("1.4.2");
    body["metrics"]["load_1m"] = json!(round(cpu / 23.0, 2));
    body["metrics"]["load_5m"] = json!(round(cpu / 27.0, 2));
    body["metrics"]["load_15m"] = json!(round(cpu / 31.0, 2));
    body["metrics"]["disk_used_gb"] = json!(round(186.0 + (n % 97) as f64 / 7.0, 2));
    body["metrics"]["reboot_required"] = json!(false);
    body["cpu_info"] = json!({"cpu_model": "AMD EPYC 7763 64-Core Processor", "cpu_cores": 8});
    body["os_info"]["kernel"] = json!("6.1.0-28-amd64");
    if let Some(services) = body["services"].as_array_mut() {
        services.truncate(REALISTIC_SERVICES);
        for service in services.iter_mut().filter(|service| service["status"] != "running") {
            service["status_reason"] = json!("inactive (dead)");
        }
    }
    if let Some(filesystems) = body["filesystems"].as_array_mut() {
        for (i, fs) in filesystems.iter_mut().enumerate() {
            fs["device"] = json!(format!("/dev/mapper/vg0-lv{i}_{}", fs["mount_point"].as_str().unwrap_or("").len()));
        }
    }
    if n.is_multiple_of(10) {
        let packages: Vec<Value> = PACKAGES
            .iter()
            .map(|(name, new, current, repository)| {
                json!({"name": name, "current_version": current, "new_version": new,
                       "repository": format!("debian-{repository}"), "is_security": repository.ends_with("security")})
            })
            .collect();
        body["updates_available"] = json!(packages.len());
        body["security_updates"] = json!(PACKAGES.iter().filter(|p| p.3.ends_with("security")).count());
        body["packages"] = Value::Array(packages);
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

    #[test]
    fn realistic_heartbeats_are_valid_v1_payloads_of_about_three_kilobytes() {
        let fleet = Fleet::with_body(50, Body::V1Realistic);
        let mut sizes = Vec::new();
        for n in 0..200 {
            let body = fleet.heartbeat(n);
            let hb: homelab_core::heartbeat::HeartbeatRequest = serde_json::from_slice(&body).unwrap();
            hb.validate(Utc::now()).unwrap();
            assert_eq!(hb.packages.as_ref().map(Vec::len), n.is_multiple_of(10).then_some(PACKAGES.len()), "{n}");
            sizes.push(body.len());
        }
        let plain = sizes.iter().enumerate().filter(|(n, _)| n % 10 != 0).map(|(_, s)| *s);
        assert!(plain.clone().all(|s| (2_600..3_600).contains(&s)), "{:?}", plain.collect::<Vec<_>>());
    }
}
