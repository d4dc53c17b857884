//! GPUs: NVIDIA through `nvidia-smi`'s CSV query, AMD through the amdgpu driver's files under
//! `/sys/class/drm/card*/device`.

use std::path::Path;

use homelab_core::inventory::GpuReport;

use super::{round_to, saturating_i64};
use crate::root::SystemRoot;

/// The `nvidia-smi` invocation, as run; the columns [`parse_nvidia_smi`] expects, in order.
pub const NVIDIA_SMI_ARGS: [&str; 2] = [
    "--query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw",
    "--format=csv,noheader,nounits",
];

/// PCI vendor id of AMD in `device/vendor`.
const AMD_VENDOR: &str = "0x1002";

/// One GPU per line: `0, NVIDIA GeForce RTX 3060, 12, 1034, 12288, 45, 28.34`. Memory is in
/// MiB; a value the card cannot report is `[N/A]` or `[Not Supported]` and becomes absent.
pub fn parse_nvidia_smi(text: &str) -> Vec<GpuReport> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() < 7 {
                return None;
            }
            let number = |i: usize| fields[i].parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
            let mib = |i: usize| number(i).map(|v| (v * 1024.0 * 1024.0) as i64);
            let index: u32 = fields[0].parse().ok()?;
            Some(GpuReport {
                id: format!("nvidia{index}"),
                vendor: "nvidia".into(),
                name: Some(super::truncate_chars(fields[1], 255)).filter(|n| !n.is_empty() && !n.starts_with('[')),
                utilisation_percent: number(2).map(|v| v.min(100.0)),
                memory_used_bytes: mib(3),
                memory_total_bytes: mib(4),
                temperature_celsius: number(5).filter(|v| *v <= 300.0),
                power_watts: number(6).map(|v| round_to(v.min(10_000.0), 1)),
            })
        })
        .collect()
}

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// AMD cards (`cardN` whose `device/vendor` is AMD's). `None` when `/sys/class/drm` cannot be
/// listed.
pub fn read_amd_gpus(root: &SystemRoot) -> Option<Vec<GpuReport>> {
    let entries = std::fs::read_dir(root.sys.join("class/drm")).ok()?;
    let mut cards: Vec<(u32, GpuReport)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            // `card0-DP-1` and the like are the card's connectors.
            let index: u32 = name.strip_prefix("card")?.parse().ok()?;
            let device = entry.path().join("device");
            let vendor = std::fs::read_to_string(device.join("vendor")).ok()?;
            (vendor.trim() == AMD_VENDOR).then_some(())?;
            let hwmon = std::fs::read_dir(device.join("hwmon"))
                .ok()
                .and_then(|mut dirs| dirs.find_map(|d| d.ok()))
                .map(|d| d.path());
            let from_hwmon = |file: &str| hwmon.as_ref().and_then(|dir| read_number(&dir.join(file)));
            Some((
                index,
                GpuReport {
                    id: name,
                    vendor: "amd".into(),
                    name: std::fs::read_to_string(device.join("product_name"))
                        .ok()
                        .map(|n| super::truncate_chars(n.trim(), 255))
                        .filter(|n| !n.is_empty()),
                    utilisation_percent: read_number(&device.join("gpu_busy_percent")).map(|v| v.min(100) as f64),
                    memory_used_bytes: read_number(&device.join("mem_info_vram_used")).map(saturating_i64),
                    memory_total_bytes: read_number(&device.join("mem_info_vram_total")).map(saturating_i64),
                    temperature_celsius: from_hwmon("temp1_input")
                        .map(|milli| round_to(milli as f64 / 1000.0, 1))
                        .filter(|v| *v <= 300.0),
                    // Microwatts; newer kernels call the average `power1_input`.
                    power_watts: from_hwmon("power1_average")
                        .or_else(|| from_hwmon("power1_input"))
                        .map(|micro| round_to((micro as f64 / 1e6).min(10_000.0), 1)),
                },
            ))
        })
        .collect();
    cards.sort_by_key(|(index, _)| *index);
    Some(cards.into_iter().map(|(_, card)| card).collect())
}
