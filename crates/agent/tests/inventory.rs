//! Sensors, disk health, RAID, ZFS and GPUs on a fixture machine (`nas-ryzen-bookworm`), through
//! the collector as the agent and the hub's built-in agent use it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{Replay, fixture};
use homelab_agent::collectors::{mdstat, sensors};
use homelab_agent::command::{CommandError, CommandOutput, CommandRunner};
use homelab_agent::{AgentIdentity, Collector, CollectorConfig, SystemRoot};
use homelab_core::inventory::{
    DiskHealthReport, FanReport, GpuReport, RaidArrayReport, TemperatureReport, ZfsPoolReport,
};

const NAS: &str = "nas-ryzen-bookworm";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn identity() -> AgentIdentity {
    AgentIdentity { server_id: "nas".into(), server_guid: None, hostname: "nas".into() }
}

fn config() -> CollectorConfig {
    CollectorConfig { collect_containers: false, ..CollectorConfig::default() }
}

fn nas_collector(runner: Box<dyn CommandRunner>) -> Collector {
    let dir = fixture(NAS);
    Collector::with_probes(SystemRoot::under(&dir), config(), Box::new(common::FixtureFs::load(&dir)), runner)
}

fn temp(sensor: &str, kind: &str, celsius: f64, high: Option<f64>, critical: Option<f64>) -> TemperatureReport {
    TemperatureReport {
        sensor: sensor.into(),
        kind: kind.into(),
        celsius,
        high_celsius: high,
        critical_celsius: critical,
    }
}

#[test]
fn hwmon_temperatures_and_fans() {
    let found = sensors::read_sensors(&SystemRoot::under(fixture(NAS)));
    assert_eq!(
        found.temperatures.unwrap(),
        [
            // One chip per NVMe drive, all named `nvme`: named by their device instead.
            temp("nvme0/Composite", "drive", 38.9, Some(81.9), Some(84.9)),
            temp("k10temp/Tctl", "cpu", 45.1, None, None),
            temp("k10temp/Tccd1", "cpu", 44.5, None, None),
            temp("nct6798/SYSTIN", "other", 34.0, Some(80.0), None),
            temp("nct6798/CPUTIN", "other", 40.5, Some(80.0), None),
            temp("nvme1/Composite", "drive", 36.9, Some(82.9), Some(84.9)),
            temp("drivetemp-0:0:0:0/temp1", "drive", 33.0, Some(55.0), Some(60.0)),
            temp("amdgpu/edge", "gpu", 41.0, None, Some(100.0)),
        ],
        "the thermal zone is not used: hwmon has temperatures"
    );
    assert_eq!(
        found.fans.unwrap(),
        [
            FanReport { sensor: "nct6798/fan1".into(), rpm: 812.0 },
            FanReport { sensor: "nct6798/fan2".into(), rpm: 0.0 }
        ]
    );
}

#[test]
fn thermal_zones_stand_in_when_hwmon_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_tree(&fixture(NAS).join("sys/class/thermal"), &tmp.path().join("sys/class/thermal"));
    let found = sensors::read_sensors(&SystemRoot::under(tmp.path()));
    assert_eq!(found.temperatures.unwrap(), [temp("thermal/acpitz", "ambient", 16.8, None, None)]);
    assert_eq!(found.fans, None, "no hwmon: fans not collected");
    // The development machine (a VM) has an empty /sys/class/thermal and no hwmon: collected, none.
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(empty.path().join("sys/class/thermal")).unwrap();
    let found = sensors::read_sensors(&SystemRoot::under(empty.path()));
    assert_eq!((found.temperatures, found.fans), (Some(vec![]), None));
}

fn raid(name: &str, level: &str, state: &str, total: i64, active: i64, percent: Option<f64>) -> RaidArrayReport {
    RaidArrayReport {
        name: name.into(),
        level: level.into(),
        state: state.into(),
        devices_total: total,
        devices_active: active,
        rebuild_percent: percent,
    }
}

#[test]
fn software_raid_states() {
    let arrays = mdstat::read_raid_arrays(&SystemRoot::under(fixture(NAS))).unwrap().unwrap();
    assert_eq!(
        arrays,
        [
            raid("md0", "raid1", "clean", 2, 2, None),
            raid("md1", "raid5", "rebuilding", 3, 2, Some(28.3)),
            raid("md2", "raid1", "degraded", 2, 1, None),
            raid("md3", "", "inactive", 1, 0, None),
        ]
    );
    let resync = "md5 : active raid10 sdd[3] sdc[2] sdb[1] sda[0]\n      \
                  209584128 blocks super 1.2 512K chunks 2 near-copies [4/4] [UUUU]\n      \
                  [>....................]  resync =  0.4% (1039232/209584128) finish=16.7min speed=207846K/sec\n\n\
                  md6 : active (auto-read-only) raid1 sdf[1] sde[0]\n      \
                  1048512 blocks [2/2] [UU]\n        resync=PENDING\n\n\
                  md7 : active raid1 sdh[1] sdg[0]\n      1048512 blocks [2/2] [UU]\n      \
                  [==>..................]  check = 12.5% (131072/1048512) finish=0.1min speed=131072K/sec\n\n\
                  md8 : active raid0 sdj[1] sdi[0]\n      2096128 blocks super 1.2 512k chunks\n";
    assert_eq!(
        mdstat::parse_mdstat(resync),
        [
            raid("md5", "raid10", "rebuilding", 4, 4, Some(0.4)),
            raid("md6", "raid1", "rebuilding", 2, 2, None),
            raid("md7", "raid1", "clean", 2, 2, None),
            raid("md8", "raid0", "clean", 2, 2, None),
        ],
        "a check (scrub) is not a rebuild"
    );
    assert_eq!(mdstat::read_raid_arrays(&SystemRoot::under("/nonexistent")).unwrap(), None, "no md driver");
}

fn sata(
    device: &str,
    serial: &str,
    passed: bool,
    counters: (i64, i64, i64),
    hours: i64,
    celsius: f64,
) -> DiskHealthReport {
    DiskHealthReport {
        device: device.into(),
        model: Some("WDC WD40EFZX-68AWUN0".into()),
        serial: Some(serial.into()),
        protocol: "ata".into(),
        passed: Some(passed),
        temperature_celsius: Some(celsius),
        power_on_hours: Some(hours),
        reallocated_sectors: Some(counters.0),
        pending_sectors: Some(counters.1),
        uncorrectable_sectors: Some(counters.2),
        percentage_used: None,
        media_errors: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn nvme(
    device: &str,
    model: &str,
    serial: &str,
    passed: bool,
    used: i64,
    errors: i64,
    celsius: f64,
    hours: i64,
) -> DiskHealthReport {
    DiskHealthReport {
        device: device.into(),
        model: Some(model.into()),
        serial: Some(serial.into()),
        protocol: "nvme".into(),
        passed: Some(passed),
        temperature_celsius: Some(celsius),
        power_on_hours: Some(hours),
        percentage_used: Some(used),
        media_errors: Some(errors),
        ..DiskHealthReport::default()
    }
}

fn gpu(
    id: &str,
    vendor: &str,
    name: Option<&str>,
    util: Option<f64>,
    mem: (Option<i64>, Option<i64>),
    t: f64,
    w: Option<f64>,
) -> GpuReport {
    GpuReport {
        id: id.into(),
        vendor: vendor.into(),
        name: name.map(Into::into),
        utilisation_percent: util,
        memory_used_bytes: mem.0,
        memory_total_bytes: mem.1,
        temperature_celsius: Some(t),
        power_watts: w,
    }
}

#[test]
fn the_whole_inventory_in_one_heartbeat() {
    let mut collector = nas_collector(Box::new(Replay(fixture(NAS))));
    let before = collector.collect(&identity(), now()).heartbeat;
    assert_eq!((before.disk_health, before.zfs_pools), (None, None), "the tools have not run yet");
    assert_eq!(before.gpus.as_ref().map(Vec::len), Some(1), "the AMD card is read from sysfs at once");

    collector.run_command_probes_now();
    let collection = collector.collect(&identity(), now());
    let hb = collection.heartbeat;
    assert!(collection.warnings.iter().all(|w| !matches!(w.collector, "disk_health" | "zfs_pools" | "gpus")));
    assert_eq!(
        hb.disk_health.clone().unwrap(),
        [
            sata("/dev/sda", "WD-WX12D3456789", true, (0, 0, 0), 21_034, 34.0),
            // The raw value of attribute 194 packs min/max into its high bytes: not a temperature.
            sata("/dev/sdb", "WD-WX98D7654321", false, (1184, 24, 24), 30_712, 41.0),
            nvme("/dev/nvme0", "Samsung SSD 980 PRO 1TB", "S5GXNF0R123456A", true, 3, 0, 39.0, 8760),
            nvme("/dev/nvme1", "Samsung SSD 970 EVO Plus 1TB", "S4EWNX0N654321B", false, 104, 2, 42.0, 26_280),
        ]
    );
    assert_eq!(
        hb.zfs_pools.clone().unwrap(),
        [
            ZfsPoolReport {
                name: "tank".into(),
                health: "ONLINE".into(),
                size_bytes: Some(11_994_318_863_360),
                allocated_bytes: Some(4_398_046_511_104),
            },
            ZfsPoolReport {
                name: "backup".into(),
                health: "DEGRADED".into(),
                size_bytes: Some(3_985_729_650_688),
                allocated_bytes: Some(3_012_903_487_488),
            },
            ZfsPoolReport { name: "old".into(), health: "FAULTED".into(), size_bytes: None, allocated_bytes: None },
        ]
    );
    const MIB: i64 = 1024 * 1024;
    assert_eq!(
        hb.gpus.clone().unwrap(),
        [
            gpu("card0", "amd", None, Some(37.0), (Some(1_073_741_824), Some(17_163_091_968)), 41.0, Some(18.0)),
            gpu(
                "nvidia0",
                "nvidia",
                Some("NVIDIA GeForce RTX 3060"),
                Some(12.0),
                (Some(1034 * MIB), Some(12_288 * MIB)),
                45.0,
                Some(28.3)
            ),
            gpu("nvidia1", "nvidia", Some("Tesla P4"), None, (Some(0), Some(7680 * MIB)), 36.0, None),
        ]
    );
    assert_eq!(hb.temperatures.as_ref().map(Vec::len), Some(8));
    assert_eq!(hb.raid_arrays.as_ref().map(Vec::len), Some(4));
    hb.validate(now()).unwrap();
}

#[test]
fn switched_off_collectors_leave_their_keys_absent() {
    let dir = fixture(NAS);
    let off = CollectorConfig {
        collect_containers: false,
        collect_sensors: false,
        collect_disk_health: false,
        collect_gpus: false,
        ..CollectorConfig::default()
    };
    let collector =
        Collector::with_probes(SystemRoot::under(&dir), off, Box::new(common::FixtureFs::load(&dir)), Box::new(Refuse));
    collector.run_command_probes_now();
    let mut collector = collector;
    let hb = collector.collect(&identity(), now()).heartbeat;
    assert_eq!(
        (hb.temperatures, hb.fans, hb.disk_health, hb.raid_arrays, hb.zfs_pools, hb.gpus),
        (None, None, None, None, None, None)
    );
}

/// Panics on any command: proves that none is run.
struct Refuse;

impl CommandRunner for Refuse {
    fn run(&self, program: &str, args: &[&str], _: Duration) -> Result<CommandOutput, CommandError> {
        if program == "systemctl" {
            return Err(CommandError::NotFound { program: program.into() });
        }
        panic!("ran {program} {args:?}")
    }
}

/// Answers from a script that the test changes between runs.
struct Scripted(Mutex<Vec<(&'static str, Result<CommandOutput, &'static str>)>>);

impl Scripted {
    fn new(answers: Vec<(&'static str, Result<CommandOutput, &'static str>)>) -> Self {
        Scripted(Mutex::new(answers))
    }
}

fn out(success: bool, stdout: &str, stderr: &str) -> CommandOutput {
    CommandOutput { success, code: Some(i32::from(!success)), stdout: stdout.into(), stderr: stderr.into() }
}

impl CommandRunner for Scripted {
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CommandOutput, CommandError> {
        let answers = self.0.lock().unwrap();
        let key = format!("{program} {}", args.join(" "));
        let Some((_, answer)) = answers.iter().find(|(prefix, _)| key.starts_with(prefix)) else {
            return Err(CommandError::NotFound { program: program.into() });
        };
        match answer {
            Ok(output) => Ok(output.clone()),
            Err("timeout") => Err(CommandError::Timeout { program: program.into(), timeout }),
            Err(other) => panic!("bad script {other}"),
        }
    }
}

const DENIED_SCAN: &str = r#"{"json_format_version":[1,0],"smartctl":{"version":[7,3],"exit_status":0},"devices":[{"name":"/dev/sda","info_name":"/dev/sda","type":"ata","open_error":"Permission denied"},{"name":"/dev/nvme0","info_name":"/dev/nvme0","type":"nvme","open_error":"Permission denied"}]}"#;

#[test]
fn smartctl_without_root_is_not_collected_and_warned_about_once() {
    let scripted = Scripted::new(vec![("smartctl --scan-open", Ok(out(true, DENIED_SCAN, "")))]);
    let mut collector = nas_collector(Box::new(scripted));
    collector.run_command_probes_now();
    let first = collector.collect(&identity(), now());
    assert_eq!(first.heartbeat.disk_health, None);
    let warnings: Vec<String> =
        first.warnings.iter().filter(|w| w.collector == "disk_health").map(|w| w.message.clone()).collect();
    assert_eq!(warnings, ["S.M.A.R.T. not readable (/dev/sda: Permission denied); smartctl needs root"]);
    assert_eq!(first.heartbeat.zfs_pools, None, "zpool not installed: not collected");
    collector.run_command_probes_now();
    let second = collector.collect(&identity(), now());
    assert!(second.warnings.iter().all(|w| w.collector != "disk_health"), "{:?}", second.warnings);
}

#[test]
fn a_sleeping_disk_keeps_its_last_report_and_a_hung_tool_is_dropped() {
    let nas = fixture(NAS);
    let read = |name: &str| std::fs::read_to_string(nas.join("commands/smartctl").join(name)).unwrap();
    let scan = r#"{"devices":[{"name":"/dev/sda","type":"sat","protocol":"ATA"}]}"#.to_owned();
    let (scan, sda) = (Box::leak(scan.into_boxed_str()) as &str, Box::leak(read("sda.json").into_boxed_str()) as &str);
    let asleep = r#"{"json_format_version":[1,0],"smartctl":{"version":[7,3],"messages":[{"string":"Device is in STANDBY mode, exit(2)","severity":"information"}],"exit_status":2},"device":{"name":"/dev/sda","info_name":"/dev/sda [SAT]","type":"sat","protocol":"ATA"}}"#;
    let runner = std::sync::Arc::new(Scripted::new(vec![
        ("smartctl --scan-open", Ok(out(true, scan, ""))),
        ("smartctl --json -a", Ok(out(true, sda, ""))),
        ("zpool list", Ok(out(false, "", "no pools available\n"))),
        ("nvidia-smi", Err("timeout")),
    ]));
    let mut collector = nas_collector(Box::new(Shared(runner.clone())));
    collector.run_command_probes_now();
    let first = collector.collect(&identity(), now());
    let sda_report = first.heartbeat.disk_health.clone().unwrap();
    assert_eq!(sda_report.len(), 1);
    assert_eq!(first.heartbeat.zfs_pools, Some(vec![]), "zpool is there, with no pool");
    let gpu_warnings: Vec<&str> =
        first.warnings.iter().filter(|w| w.collector == "gpus").map(|w| w.message.as_str()).collect();
    assert_eq!(gpu_warnings, ["`nvidia-smi` did not finish within 10 s"]);
    assert_eq!(first.heartbeat.gpus.unwrap().len(), 1, "the AMD card is still reported");

    runner.0.lock().unwrap()[1] = ("smartctl --json -a", Ok(out(false, asleep, "")));
    collector.run_command_probes_now();
    let second = collector.collect(&identity(), now());
    assert_eq!(second.heartbeat.disk_health, Some(sda_report), "not woken up, not forgotten");
    assert!(second.warnings.is_empty() || second.warnings.iter().all(|w| w.collector != "gpus"));
}

struct Shared(std::sync::Arc<Scripted>);

impl CommandRunner for Shared {
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CommandOutput, CommandError> {
        self.0.run(program, args, timeout)
    }
}

#[test]
fn the_tools_run_on_their_own_thread() {
    let mut collector = nas_collector(Box::new(Replay(fixture(NAS))));
    collector.start_command_probes();
    assert!(collector.command_probes().wait_for_runs(1, Duration::from_secs(30)), "the thread never ran");
    let hb = collector.collect(&identity(), now()).heartbeat;
    assert_eq!(hb.disk_health.map(|d| d.len()), Some(4));
    assert_eq!(hb.zfs_pools.map(|p| p.len()), Some(3));
    assert_eq!(hb.gpus.map(|g| g.len()), Some(3));
}
