//! S.M.A.R.T. disk health from smartmontools' JSON output (`smartctl --json`, smartmontools
//! 7.0 and later): the disks from `smartctl --scan-open --json`, then `smartctl --json -a` per
//! disk.
//!
//! `smartctl`'s exit status is a bit mask in which most bits report on the disk, not on the
//! run (bit 3 "disk failing", bit 6 "errors in the log"), so the JSON is read whatever the
//! status; only bits 0 and 1 (bad command line, device could not be opened) mean there is
//! nothing to read.

use homelab_core::inventory::DiskHealthReport;
use serde::Deserialize;

use crate::error::ParseError;

/// Exit status bits that mean the run itself failed.
pub const FAILED_RUN_BITS: i32 = 0b11;

/// Disks found by `--scan-open`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScannedDevice {
    pub name: String,
    /// The `-d` type that worked (`sat`, `nvme`, `scsi`, `sntasmedia`, …).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub open_error: Option<String>,
}

#[derive(Deserialize)]
struct Scan {
    #[serde(default)]
    devices: Vec<ScannedDevice>,
}

/// The devices of a `smartctl --scan-open --json` run.
pub fn parse_scan(json: &str) -> Result<Vec<ScannedDevice>, ParseError> {
    serde_json::from_str::<Scan>(json)
        .map(|scan| scan.devices)
        .map_err(|e| ParseError::new(format!("smartctl --scan-open: {e}")))
}

#[derive(Deserialize, Default)]
struct Report {
    #[serde(default)]
    smartctl: Option<Tool>,
    #[serde(default)]
    device: Option<Device>,
    model_name: Option<String>,
    serial_number: Option<String>,
    smart_status: Option<SmartStatus>,
    temperature: Option<Temperature>,
    power_on_time: Option<PowerOnTime>,
    ata_smart_attributes: Option<AtaAttributes>,
    nvme_smart_health_information_log: Option<NvmeLog>,
}

#[derive(Deserialize, Default)]
struct Tool {
    #[serde(default)]
    messages: Vec<Message>,
    exit_status: Option<i32>,
}

#[derive(Deserialize)]
struct Message {
    string: String,
}

#[derive(Deserialize)]
struct Device {
    name: Option<String>,
    protocol: Option<String>,
}

#[derive(Deserialize)]
struct SmartStatus {
    passed: Option<bool>,
}

#[derive(Deserialize)]
struct Temperature {
    current: Option<f64>,
}

#[derive(Deserialize)]
struct PowerOnTime {
    hours: Option<i64>,
}

#[derive(Deserialize)]
struct AtaAttributes {
    #[serde(default)]
    table: Vec<AtaAttribute>,
}

#[derive(Deserialize)]
struct AtaAttribute {
    id: u32,
    raw: AtaRaw,
}

#[derive(Deserialize)]
struct AtaRaw {
    value: i64,
}

#[derive(Deserialize)]
struct NvmeLog {
    percentage_used: Option<i64>,
    media_errors: Option<i64>,
    temperature: Option<f64>,
    power_on_hours: Option<i64>,
}

/// What one `smartctl --json -a` run said about a disk.
#[derive(Debug, Clone, PartialEq)]
pub enum DiskAnswer {
    Report(DiskHealthReport),
    /// `-n standby` left a sleeping disk asleep: nothing new, keep what we knew.
    Asleep,
    /// The run failed (permission denied, no such device); the message says why.
    Failed(String),
}

/// Parses one disk's report. `device` is the path asked for, used when the JSON lacks one.
pub fn parse_disk(json: &str, device: &str) -> Result<DiskAnswer, ParseError> {
    let report: Report = serde_json::from_str(json).map_err(|e| ParseError::new(format!("smartctl {device}: {e}")))?;
    let tool = report.smartctl.unwrap_or_default();
    let message = tool.messages.iter().map(|m| m.string.trim()).collect::<Vec<_>>().join("; ");
    if message.contains("STANDBY") || message.contains("SLEEP") {
        return Ok(DiskAnswer::Asleep);
    }
    let protocol = match report.device.as_ref().and_then(|d| d.protocol.as_deref()).map(str::to_ascii_lowercase) {
        Some(p) if p == "ata" || p == "nvme" || p == "scsi" => p,
        _ => {
            let status = tool.exit_status.unwrap_or(0);
            return Ok(DiskAnswer::Failed(if message.is_empty() {
                format!("smartctl {device}: no report (exit status {status})")
            } else {
                format!("smartctl {device}: {message}")
            }));
        }
    };
    let attribute =
        |id: u32| report.ata_smart_attributes.as_ref()?.table.iter().find(|a| a.id == id).map(|a| a.raw.value.max(0));
    let nvme = report.nvme_smart_health_information_log.as_ref();
    let name = report.device.as_ref().and_then(|d| d.name.clone()).unwrap_or_else(|| device.to_owned());
    let text = |t: Option<String>| t.map(|t| super::truncate_chars(t.trim(), 255)).filter(|t| !t.is_empty());
    Ok(DiskAnswer::Report(DiskHealthReport {
        device: super::truncate_chars(&name, 255),
        model: text(report.model_name),
        serial: text(report.serial_number),
        protocol,
        passed: report.smart_status.and_then(|s| s.passed),
        temperature_celsius: report
            .temperature
            .and_then(|t| t.current)
            .or_else(|| nvme.and_then(|n| n.temperature))
            .filter(|t| (-100.0..=300.0).contains(t)),
        power_on_hours: report.power_on_time.and_then(|p| p.hours).or_else(|| nvme.and_then(|n| n.power_on_hours)),
        reallocated_sectors: attribute(5),
        pending_sectors: attribute(197),
        uncorrectable_sectors: attribute(198),
        percentage_used: nvme.and_then(|n| n.percentage_used).map(|p| p.clamp(0, 255)),
        media_errors: nvme.and_then(|n| n.media_errors).map(|m| m.max(0)),
    }))
}
