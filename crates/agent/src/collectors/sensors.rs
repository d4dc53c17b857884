//! Temperatures and fans from `/sys/class/hwmon`, with `/sys/class/thermal` as the fallback
//! for machines whose hwmon has no temperature (many ARM boards, some VMs).
//!
//! hwmon values are integers in milli-degrees Celsius (`tempN_input`, `_max`, `_crit`) and RPM
//! (`fanN_input`); `tempN_label` names a channel (`Package id 0`, `Composite`). A sensor is
//! named `<chip>/<label>`, the channel number standing in for a missing label. hwmon numbers
//! change between boots, so they name a chip only when its name and device leave no other way.

use std::collections::HashMap;
use std::path::Path;

use homelab_core::inventory::{FanReport, TemperatureReport};

use super::round_to;
use crate::root::SystemRoot;

/// One `tempN` channel as read, in milli-degrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTemperature {
    pub channel: u32,
    pub label: Option<String>,
    pub input: i64,
    pub max: Option<i64>,
    pub crit: Option<i64>,
}

/// One `fanN` channel as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFan {
    pub channel: u32,
    pub label: Option<String>,
    pub rpm: u64,
}

/// One hwmon chip directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chip {
    /// N of `hwmonN`.
    pub index: u32,
    /// Its `name` file (`coretemp`, `nvme`, `nct6775`).
    pub name: String,
    /// The last part of its `device` link (`nvme0`, `coretemp.0`), when it has one.
    pub device: Option<String>,
    pub temperatures: Vec<RawTemperature>,
    pub fans: Vec<RawFan>,
}

/// A thermal zone (`thermal_zoneN/type` and `temp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub index: u32,
    pub kind: String,
    pub temp: i64,
}

/// What the sensors collector found: `None` where the kernel interface is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sensors {
    pub temperatures: Option<Vec<TemperatureReport>>,
    pub fans: Option<Vec<FanReport>>,
}

/// The kind of sensor a chip (or thermal zone type) measures, for per-kind thresholds.
pub fn kind_of(chip: &str) -> &'static str {
    let chip = chip.to_ascii_lowercase();
    match chip.as_str() {
        "coretemp" | "k10temp" | "k8temp" | "zenpower" | "cpu_thermal" | "cpu-thermal" | "x86_pkg_temp"
        | "soc_thermal" => "cpu",
        "nvme" | "drivetemp" => "drive",
        "amdgpu" | "nouveau" | "radeon" | "gpu_thermal" => "gpu",
        "acpitz" => "ambient",
        other if other.starts_with("pch_") || other.contains("chipset") => "chipset",
        _ => "other",
    }
}

/// Reads every hwmon chip; `None` when `/sys/class/hwmon` cannot be listed.
pub fn read_hwmon(root: &SystemRoot) -> Option<Vec<Chip>> {
    let entries = std::fs::read_dir(root.sys.join("class/hwmon")).ok()?;
    let mut chips: Vec<Chip> = entries
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name();
            let index = file_name.to_str()?.strip_prefix("hwmon")?.parse().ok()?;
            read_chip(&entry.path(), index)
        })
        .collect();
    chips.sort_by_key(|c| c.index);
    Some(chips)
}

fn read_chip(dir: &Path, index: u32) -> Option<Chip> {
    // Kernels before 3.x kept the attributes one level down, under `device/`.
    let base = if dir.join("name").is_file() { dir.to_path_buf() } else { dir.join("device") };
    let name = read_trimmed(&base.join("name"))?;
    let device = std::fs::read_link(dir.join("device"))
        .ok()
        .and_then(|target| target.file_name().and_then(|n| n.to_str()).map(str::to_owned));
    let mut temperatures = Vec::new();
    let mut fans = Vec::new();
    for entry in std::fs::read_dir(&base).ok()?.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else { continue };
        let Some(stem) = file_name.strip_suffix("_input") else { continue };
        let value = |suffix: &str| read_trimmed(&base.join(format!("{stem}_{suffix}")));
        if let Some(channel) = stem.strip_prefix("temp").and_then(|n| n.parse().ok()) {
            // A channel that cannot be read right now (EIO, ENODATA: sensor asleep) is skipped.
            let Some(input) = value("input").and_then(|v| v.parse().ok()) else { continue };
            let number = |suffix: &str| value(suffix).and_then(|v| v.parse().ok());
            temperatures.push(RawTemperature {
                channel,
                label: value("label"),
                input,
                max: number("max"),
                crit: number("crit"),
            });
        } else if let Some(channel) = stem.strip_prefix("fan").and_then(|n| n.parse().ok()) {
            let Some(rpm) = value("input").and_then(|v| v.parse().ok()) else { continue };
            fans.push(RawFan { channel, label: value("label"), rpm });
        }
    }
    temperatures.sort_by_key(|t| t.channel);
    fans.sort_by_key(|f| f.channel);
    Some(Chip { index, name, device, temperatures, fans })
}

/// Reads every thermal zone; `None` when `/sys/class/thermal` cannot be listed.
pub fn read_thermal_zones(root: &SystemRoot) -> Option<Vec<Zone>> {
    let entries = std::fs::read_dir(root.sys.join("class/thermal")).ok()?;
    let mut zones: Vec<Zone> = entries
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name();
            let index = file_name.to_str()?.strip_prefix("thermal_zone")?.parse().ok()?;
            let kind = read_trimmed(&entry.path().join("type"))?;
            let temp = read_trimmed(&entry.path().join("temp"))?.parse().ok()?;
            Some(Zone { index, kind, temp })
        })
        .collect();
    zones.sort_by_key(|z| z.index);
    Some(zones)
}

fn read_trimmed(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The name each chip's sensors go under: its own name when unique; for drives (one chip per
/// disk, all called `nvme` or `drivetemp`) and for repeated names, the device it belongs to,
/// which survives reboots; the hwmon number only when there is nothing else.
pub fn chip_ids(chips: &[Chip]) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for chip in chips {
        *counts.entry(chip.name.as_str()).or_default() += 1;
    }
    let ids: Vec<String> = chips
        .iter()
        .map(|chip| {
            let per_device = kind_of(&chip.name) == "drive" || counts[chip.name.as_str()] > 1;
            match (&chip.device, per_device) {
                (_, false) => chip.name.clone(),
                (Some(device), true) if device.starts_with(&chip.name) => device.clone(),
                (Some(device), true) => format!("{}-{device}", chip.name),
                (None, true) => format!("{}-hwmon{}", chip.name, chip.index),
            }
        })
        .collect();
    // Two chips on one device with one name: the hwmon number is all that is left.
    ids.iter()
        .zip(chips)
        .map(|(id, chip)| {
            if ids.iter().filter(|other| *other == id).count() > 1 {
                format!("{id}-hwmon{}", chip.index)
            } else {
                id.clone()
            }
        })
        .collect()
}

fn celsius(milli: i64) -> Option<f64> {
    let value = round_to(milli as f64 / 1000.0, 1);
    // Outside this the value is a driver's "no probe" marker (-273 °C and the like).
    (-100.0..=300.0).contains(&value).then_some(value)
}

/// Turns the chips (and, when they hold no temperature, the thermal zones) into reports.
pub fn reports(chips: Option<&[Chip]>, zones: Option<&[Zone]>) -> Sensors {
    let mut temperatures = Vec::new();
    let mut fans = Vec::new();
    if let Some(chips) = chips {
        for (chip, id) in chips.iter().zip(chip_ids(chips)) {
            let kind = kind_of(&chip.name);
            for t in &chip.temperatures {
                let Some(value) = celsius(t.input) else { continue };
                let label = t.label.clone().unwrap_or_else(|| format!("temp{}", t.channel));
                temperatures.push(TemperatureReport {
                    sensor: super::truncate_chars(&format!("{id}/{label}"), 255),
                    kind: kind.to_owned(),
                    celsius: value,
                    // Some chips report 0 for "no limit".
                    high_celsius: t.max.and_then(celsius).filter(|v| *v > 0.0),
                    critical_celsius: t.crit.and_then(celsius).filter(|v| *v > 0.0),
                });
            }
            for f in &chip.fans {
                let label = f.label.clone().unwrap_or_else(|| format!("fan{}", f.channel));
                fans.push(FanReport {
                    sensor: super::truncate_chars(&format!("{id}/{label}"), 255),
                    rpm: f.rpm.min(1_000_000) as f64,
                });
            }
        }
    }
    if temperatures.is_empty()
        && let Some(zones) = zones
    {
        for zone in zones {
            let Some(value) = celsius(zone.temp) else { continue };
            let repeated = zones.iter().filter(|z| z.kind == zone.kind).count() > 1;
            let sensor = if repeated {
                format!("thermal/{}-{}", zone.kind, zone.index)
            } else {
                format!("thermal/{}", zone.kind)
            };
            temperatures.push(TemperatureReport {
                sensor: super::truncate_chars(&sensor, 255),
                kind: kind_of(&zone.kind).to_owned(),
                celsius: value,
                high_celsius: None,
                critical_celsius: None,
            });
        }
    }
    Sensors { temperatures: (chips.is_some() || zones.is_some()).then_some(temperatures), fans: chips.map(|_| fans) }
}

/// Reads hwmon and, when needed, the thermal zones below `root`.
pub fn read_sensors(root: &SystemRoot) -> Sensors {
    let chips = read_hwmon(root);
    let has_temperature = chips.as_ref().is_some_and(|c| c.iter().any(|chip| !chip.temperatures.is_empty()));
    let zones = if has_temperature { None } else { read_thermal_zones(root) };
    reports(chips.as_deref(), zones.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chip(index: u32, name: &str, device: Option<&str>) -> Chip {
        Chip {
            index,
            name: name.into(),
            device: device.map(Into::into),
            temperatures: vec![RawTemperature { channel: 1, label: None, input: 40_000, max: None, crit: None }],
            fans: Vec::new(),
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(kind_of("coretemp"), "cpu");
        assert_eq!(kind_of("k10temp"), "cpu");
        assert_eq!(kind_of("nvme"), "drive");
        assert_eq!(kind_of("pch_cannonlake"), "chipset");
        assert_eq!(kind_of("amdgpu"), "gpu");
        assert_eq!(kind_of("acpitz"), "ambient");
        assert_eq!(kind_of("nct6798"), "other");
    }

    #[test]
    fn chip_names_are_unique_and_stable() {
        let chips = [
            chip(0, "acpitz", Some("LNXTHERM:00")),
            chip(1, "nvme", Some("nvme0")),
            chip(2, "coretemp", Some("coretemp.0")),
            chip(3, "nvme", Some("nvme1")),
            chip(4, "drivetemp", Some("0:0:0:0")),
            chip(5, "jc42", None),
            chip(6, "jc42", None),
            chip(7, "spd5118", Some("0-0051")),
            chip(8, "spd5118", Some("0-0051")),
        ];
        assert_eq!(
            chip_ids(&chips),
            [
                "acpitz",
                "nvme0",
                "coretemp",
                "nvme1",
                "drivetemp-0:0:0:0",
                "jc42-hwmon5",
                "jc42-hwmon6",
                "spd5118-0-0051-hwmon7",
                "spd5118-0-0051-hwmon8"
            ]
        );
    }

    #[test]
    fn implausible_values_are_dropped() {
        let mut probe = chip(0, "it8728", None);
        probe.temperatures.push(RawTemperature { channel: 2, label: None, input: -273_000, max: Some(0), crit: None });
        let sensors = reports(Some(&[probe]), None);
        let temps = sensors.temperatures.unwrap();
        assert_eq!(temps.len(), 1);
        assert_eq!(temps[0].sensor, "it8728/temp1");
        assert_eq!(sensors.fans, Some(vec![]));
    }

    #[test]
    fn thermal_zones_only_when_hwmon_has_no_temperature() {
        let zones = [
            Zone { index: 0, kind: "acpitz".into(), temp: 27_800 },
            Zone { index: 1, kind: "x86_pkg_temp".into(), temp: 51_000 },
            Zone { index: 2, kind: "acpitz".into(), temp: 29_800 },
        ];
        let sensors = reports(Some(&[]), Some(&zones));
        let names: Vec<(String, String)> =
            sensors.temperatures.unwrap().into_iter().map(|t| (t.sensor, t.kind)).collect();
        assert_eq!(
            names,
            [
                ("thermal/acpitz-0".to_owned(), "ambient".to_owned()),
                ("thermal/x86_pkg_temp".to_owned(), "cpu".to_owned()),
                ("thermal/acpitz-2".to_owned(), "ambient".to_owned())
            ]
        );
        let with_hwmon = reports(Some(&[chip(0, "coretemp", None)]), Some(&zones));
        assert_eq!(with_hwmon.temperatures.unwrap().len(), 1);
        assert_eq!(reports(None, None), Sensors::default(), "nothing to read: not collected");
    }
}
