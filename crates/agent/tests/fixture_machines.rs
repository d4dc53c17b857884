//! Whole heartbeats built from fixture machines, with every value checked exactly.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Utc};
use common::{FixtureFs, Replay, copy_tree, fixture};
use homelab_agent::collectors::{cpu, disks, load, memory, network, os, packages, uptime};
use homelab_agent::{AgentIdentity, Collector, CollectorConfig, SystemRoot, Warning};
use homelab_core::heartbeat::{
    CpuInfo, FilesystemReport, HeartbeatRequest, InterfaceReport, Metrics, OsInfo, PackageReport, ServiceReport,
};

const PI: &str = "raspberrypi4-bookworm-arm64";
const CONTAINER: &str = "debian12-epyc-container";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn identity(server_id: &str, hostname: &str) -> AgentIdentity {
    AgentIdentity {
        server_id: server_id.into(),
        server_guid: Some("0b3f8a52-6c1d-4e2a-9f47-5d8e1c2b3a49".into()),
        hostname: hostname.into(),
    }
}

fn collector(dir: &std::path::Path, fixture_dir: &std::path::Path, config: CollectorConfig) -> Collector {
    Collector::with_probes(
        SystemRoot::under(dir),
        config,
        Box::new(FixtureFs::load(fixture_dir)),
        Box::new(Replay(fixture_dir.to_path_buf())),
    )
}

fn fs(mount_point: &str, device: &str, fs_type: &str, sizes: (i64, i64, i64), percent: f64) -> FilesystemReport {
    FilesystemReport {
        mount_point: mount_point.into(),
        device: device.into(),
        fs_type: fs_type.into(),
        total_bytes: sizes.0,
        used_bytes: sizes.1,
        available_bytes: sizes.2,
        percent,
    }
}

fn iface(name: &str, rx: (i64, i64), tx: (i64, i64), is_up: bool) -> InterfaceReport {
    InterfaceReport { name: name.into(), rx_bytes: rx.0, rx_packets: rx.1, tx_bytes: tx.0, tx_packets: tx.1, is_up }
}

fn service(
    name: &str,
    status: &str,
    reason: Option<&str>,
    pid: Option<i64>,
    memory_mb: Option<f64>,
    cpu: Option<f64>,
) -> ServiceReport {
    ServiceReport {
        name: name.into(),
        status: status.into(),
        status_reason: reason.map(Into::into),
        pid,
        memory_mb,
        cpu_percent: cpu,
        restarts: None,
    }
}

fn package(name: &str, repository: &str, new: &str, current: &str) -> PackageReport {
    PackageReport {
        name: name.into(),
        current_version: current.into(),
        new_version: new.into(),
        repository: repository.into(),
        is_security: repository.contains("security"),
    }
}

/// Advances the Pi's counters: 3000 ticks over 4 CPUs (750 ticks of wall time), 900 of them
/// busy; pihole-FTL (pid 812) used 375 ticks.
fn advance_pi(dir: &std::path::Path) {
    let stat = std::fs::read_to_string(dir.join("proc/stat")).unwrap().replacen(
        "cpu  2519834 3120 1045623 40612345 40213 0 18234 0",
        "cpu  2520434 3120 1045823 40614345 40313 0 18334 0",
        1,
    );
    std::fs::write(dir.join("proc/stat"), stat).unwrap();
    let pid = std::fs::read_to_string(dir.join("proc/812/stat")).unwrap().replacen(" 45678 12345 ", " 45978 12420 ", 1);
    std::fs::write(dir.join("proc/812/stat"), pid).unwrap();
}

#[test]
fn raspberry_pi_heartbeat() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture_dir = fixture(PI);
    copy_tree(&fixture_dir, tmp.path());
    let config = CollectorConfig {
        services: ["pihole-FTL", "docker", "unbound", "nginx"].map(String::from).to_vec(),
        collect_packages: true,
        ..CollectorConfig::default()
    };
    let mut collector = collector(tmp.path(), &fixture_dir, config);
    assert_eq!(collector.prime(), []);
    advance_pi(tmp.path());

    let collection = collector.collect(&identity("pihole", "pihole"), now());
    assert_eq!(
        collection.warnings,
        [Warning {
            collector: "filesystems",
            message: "/mnt/backups (nas.home.lan:/export/backups): no answer within 2 s".into()
        }]
    );
    let expected = HeartbeatRequest {
        server_guid: Some("0b3f8a52-6c1d-4e2a-9f47-5d8e1c2b3a49".into()),
        server_id: "pihole".into(),
        hostname: "pihole".into(),
        timestamp: now(),
        agent_version: Some(env!("CARGO_PKG_VERSION").into()),
        agent_mode: Some("readonly".into()),
        os_info: Some(OsInfo {
            distribution: Some("Debian GNU/Linux".into()),
            version: Some("12".into()),
            kernel: Some("6.6.51+rpt-rpi-v8".into()),
            architecture: Some("aarch64".into()),
        }),
        metrics: Some(Metrics {
            cpu_percent: Some(30.0),
            memory_percent: Some(24.9),
            memory_total_mb: Some(3794),
            memory_used_mb: Some(945),
            disk_percent: Some(24.0),
            disk_total_gb: Some(29.22),
            disk_used_gb: Some(6.66),
            network_rx_bytes: Some(98_772_218_880),
            network_tx_bytes: Some(12_349_239_134),
            load_1m: Some(0.42),
            load_5m: Some(0.37),
            load_15m: Some(0.31),
            uptime_seconds: Some(1_209_600),
        }),
        updates_available: Some(4),
        security_updates: Some(2),
        services: Some(vec![
            service("pihole-FTL", "running", None, Some(812), Some(46.0), Some(50.0)),
            // No /proc/905 in the fixture: the process is gone, so no CPU figure.
            service("docker", "running", None, Some(905), Some(117.7), None),
            service("unbound", "failed", None, None, None, None),
            service("nginx", "unknown", Some("unit not found"), None, None, None),
            // Every other loaded unit from one `systemctl list-units`, state only, by name.
            service("avahi-daemon", "running", None, None, None, None),
            service("bluetooth", "running", None, None, None, None),
            service("console-setup", "running", None, None, None, None),
            service("cron", "running", None, None, None, None),
            service("dbus", "running", None, None, None, None),
            service("getty@tty1", "running", None, None, None, None),
            service("lighttpd", "stopped", None, None, None, None),
            service("rpi-eeprom-update", "failed", None, None, None, None),
            service("ssh", "running", None, None, None, None),
            service("systemd-journald", "running", None, None, None, None),
        ]),
        packages: Some(vec![
            package("chromium", "stable", "1:131.0.6778.85-1~deb12u1+rpt1", "1:130.0.6723.116-1~deb12u1+rpt1"),
            package("libc6", "stable-security", "2.36-9+rpi1+deb12u10", "2.36-9+rpi1+deb12u9"),
            package("linux-image-rpi-v8", "stable", "1:6.6.62-1+rpt1", "1:6.6.51-1+rpt3"),
            package("openssh-server", "stable-security", "1:9.2p1-2+deb12u4", "1:9.2p1-2+deb12u3"),
        ]),
        cpu_info: Some(CpuInfo { cpu_model: Some("Raspberry Pi 4 Model B Rev 1.4".into()), cpu_cores: Some(4) }),
        filesystems: Some(vec![
            fs("/", "/dev/mmcblk0p2", "ext4", (31_376_707_584, 7_146_692_608, 22_611_410_944), 24.0),
            fs("/boot/firmware", "/dev/mmcblk0p1", "vfat", (535_805_952, 65_273_856, 470_532_096), 12.2),
            fs(
                "/media/pi/My Passport",
                "/dev/sdb1",
                "exfat",
                (2_000_381_018_112, 1_500_285_763_584, 500_095_254_528),
                75.0,
            ),
            fs("/mnt/usb", "/dev/sda1", "ext4", (983_349_346_304, 612_032_012_288, 321_316_634_624), 65.6),
        ]),
        network_interfaces: Some(vec![
            iface("eth0", (98_765_432_101, 71_234_567), (12_345_678_901, 23_456_789), true),
            iface("wlan0", (0, 0), (0, 0), false),
            iface("docker0", (1_234_567, 8901), (2_345_678, 9012), false),
            iface("tailscale0", (5_551_212, 4321), (1_212_555, 3210), true),
            iface("veth3c1d2e0", (1000, 10), (2000, 20), true),
        ]),
        containers: None,
        temperatures: None,
        fans: None,
        disk_health: None,
        raid_arrays: None,
        zfs_pools: None,
        gpus: None,
    };
    assert_eq!(collection.heartbeat, expected);
    collection.heartbeat.validate(now()).unwrap();
    assert!(collector.reboot_required());

    // Within the hour packages are not listed again, and the keys stay absent so the hub keeps
    // what it has.
    let later = collector.collect(&identity("pihole", "pihole"), now() + chrono::Duration::minutes(1));
    assert_eq!(later.heartbeat.packages, None);
    assert_eq!(later.heartbeat.updates_available, None);
    assert_eq!(later.heartbeat.security_updates, None);
    assert_eq!(later.heartbeat.metrics.unwrap().cpu_percent, None, "no ticks passed");
}

#[test]
fn the_first_collection_without_prime_has_no_cpu_percent() {
    let fixture_dir = fixture(PI);
    let mut collector = collector(&fixture_dir, &fixture_dir, CollectorConfig::default());
    let collection = collector.collect(&identity("pihole", "pihole"), now());
    let heartbeat = collection.heartbeat;
    assert_eq!(heartbeat.metrics.unwrap().cpu_percent, None);
    // No services configured: every loaded unit is still reported, state only.
    let services = heartbeat.services.unwrap();
    assert_eq!(services.len(), 13, "{services:?}");
    assert!(services.iter().all(|s| s.pid.is_none() && s.memory_mb.is_none() && s.cpu_percent.is_none()));
    assert_eq!(services[0], service("avahi-daemon", "running", None, None, None, None));
    assert_eq!(heartbeat.packages, None, "packages not enabled");
    assert_eq!(heartbeat.updates_available, None);
}

#[test]
fn container_heartbeat_from_this_machine() {
    let fixture_dir = fixture(CONTAINER);
    let config =
        CollectorConfig { services: vec!["cron".into()], collect_packages: true, ..CollectorConfig::default() };
    let mut collector = collector(&fixture_dir, &fixture_dir, config);
    let collection = collector.collect(&identity("vm", "vm"), now());
    assert_eq!(collection.warnings, []);
    let hb = collection.heartbeat;
    assert_eq!(
        hb.os_info,
        Some(OsInfo {
            distribution: Some("Debian GNU/Linux".into()),
            version: Some("12".into()),
            kernel: Some("6.18.44-fc-v669".into()),
            architecture: Some("x86_64".into()),
        })
    );
    assert_eq!(hb.cpu_info, Some(CpuInfo { cpu_model: Some("AMD EPYC".into()), cpu_cores: Some(2) }));
    assert_eq!(
        hb.metrics,
        Some(Metrics {
            cpu_percent: None,
            memory_percent: Some(2.4),
            memory_total_mb: Some(24_105),
            memory_used_mb: Some(583),
            disk_percent: Some(14.7),
            disk_total_gb: Some(251.97),
            disk_used_gb: Some(13.36),
            network_rx_bytes: Some(73_092_517),
            network_tx_bytes: Some(276_849),
            load_1m: Some(1.36),
            load_5m: Some(0.93),
            load_15m: Some(0.61),
            uptime_seconds: Some(1154),
        })
    );
    assert_eq!(
        hb.filesystems,
        Some(vec![fs("/", "/dev/vda", "ext4", (270_553_174_016, 14_344_548_352, 83_228_200_960), 14.7)])
    );
    assert_eq!(
        hb.network_interfaces,
        Some(vec![
            iface("ifb0", (0, 0), (0, 0), false),
            iface("ifb1", (0, 0), (0, 0), false),
            iface("eth0", (73_092_517, 3170), (276_849, 2109), true),
        ])
    );
    assert_eq!(
        hb.services,
        Some(vec![service("cron", "unknown", Some("systemd not available (container)"), None, None, None)])
    );
    let packages = hb.packages.as_deref().unwrap();
    assert_eq!((packages.len(), hb.updates_available, hb.security_updates), (80, Some(80), Some(20)));
    assert_eq!(packages[0], package("base-files", "oldstable", "12.4+deb12u14", "12.4+deb12u11"));
    assert!(
        packages
            .iter()
            .any(|p| p.name == "libcups2" && p.repository == "oldstable,oldstable-security" && p.is_security)
    );
    assert!(!collector.reboot_required());
    hb.validate(now()).unwrap();
}

#[test]
fn a_machine_with_nothing_readable_still_yields_a_heartbeat() {
    let tmp = tempfile::tempdir().unwrap();
    let config =
        CollectorConfig { services: vec!["nginx".into()], collect_packages: true, ..CollectorConfig::default() };
    let mut collector = collector(tmp.path(), tmp.path(), config);
    let collection = collector.collect(&identity("empty", "empty"), now());
    let hb = &collection.heartbeat;
    assert_eq!(hb.metrics, Some(Metrics::default()), "present, so alert evaluation still runs");
    assert_eq!(hb.filesystems, None);
    assert_eq!(hb.network_interfaces, None);
    assert_eq!(hb.cpu_info, None);
    assert_eq!(hb.os_info, None, "nothing readable at all: the os collector reports a failure");
    assert_eq!(hb.services.as_ref().unwrap()[0].status_reason.as_deref(), Some("systemd not available"));
    assert_eq!(hb.packages, None, "apt is not installed");
    let collectors: Vec<&str> = collection.warnings.iter().map(|w| w.collector).collect();
    assert_eq!(collectors, ["cpu", "memory", "filesystems", "network", "load", "uptime", "os", "cpu_info"]);
    assert!(collection.warnings[1].message.contains("meminfo"), "{}", collection.warnings[1]);
    hb.validate(now()).unwrap();
}

/// The per-collector functions on the fixtures, as the hub may call them directly.
#[test]
fn individual_collectors_on_the_pi_fixture() {
    let root = SystemRoot::under(fixture(PI));
    let stat = cpu::read_proc_stat(&root).unwrap();
    assert_eq!((stat.cpu_count, stat.total.total()), (4, 44_239_369));
    assert_eq!(memory::read_memory(&root).unwrap().total_mb(), 3794);
    assert_eq!(load::read_load(&root).unwrap().fifteen, 0.31);
    assert_eq!(uptime::read_uptime(&root).unwrap(), 1_209_600);
    assert_eq!(os::read_hostname(&root).unwrap(), "pihole");
    assert!(packages::reboot_required(&root));
    let names: Vec<String> = network::read_interfaces(&root).unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["eth0", "wlan0", "docker0", "tailscale0", "veth3c1d2e0"]);
    let mounts = disks::select_mounts(disks::parse_mounts(&std::fs::read_to_string(root.proc.join("mounts")).unwrap()));
    let points: Vec<&str> = mounts.iter().map(|m| m.mount_point.as_str()).collect();
    assert_eq!(points, ["/", "/boot/firmware", "/media/pi/My Passport", "/mnt/backups", "/mnt/usb"]);
}

/// What `systemctl` printed on this machine, replayed on a copy that claims systemd is running.
struct FailingSystemctl(String);

impl homelab_agent::command::CommandRunner for FailingSystemctl {
    fn run(
        &self,
        _program: &str,
        _args: &[&str],
        _timeout: std::time::Duration,
    ) -> Result<homelab_agent::command::CommandOutput, homelab_agent::command::CommandError> {
        Ok(homelab_agent::command::CommandOutput {
            success: false,
            code: Some(1),
            stdout: String::new(),
            stderr: self.0.clone(),
        })
    }
}

#[test]
fn systemctl_without_a_running_systemd_is_reported_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture_dir = fixture(CONTAINER);
    copy_tree(&fixture_dir, tmp.path());
    std::fs::remove_file(tmp.path().join(".dockerenv")).unwrap();
    std::fs::create_dir_all(tmp.path().join("var/run/systemd/system")).unwrap();
    let stderr = std::fs::read_to_string(fixture_dir.join("commands/systemctl-show.stderr")).unwrap();
    let config = CollectorConfig { services: vec!["cron".into()], ..CollectorConfig::default() };
    let mut collector = Collector::with_probes(
        SystemRoot::under(tmp.path()),
        config,
        Box::new(FixtureFs::load(&fixture_dir)),
        Box::new(FailingSystemctl(stderr)),
    );
    let services = collector.collect(&identity("vm", "vm"), now()).heartbeat.services.unwrap();
    assert_eq!(services, [service("cron", "unknown", Some("systemd not available"), None, None, None)]);
}
