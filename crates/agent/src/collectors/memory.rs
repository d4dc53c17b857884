//! Memory use from `/proc/meminfo`.
//!
//! "Used" is `MemTotal − MemAvailable`: memory the kernel could not hand to a new program without
//! swapping. Page cache is reclaimable and therefore not "used"; counting it (as `free`'s old
//! "used" column did) makes every long-running server look full. The percentage is the same
//! figure psutil's `virtual_memory().percent` gives, which v1 sent.

use super::{read_and_parse, round_to};
use crate::error::{CollectError, ParseError};
use crate::root::SystemRoot;

/// Memory figures in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    pub total_bytes: u64,
    pub available_bytes: u64,
}

impl MemoryUsage {
    /// Memory no new program could get without swapping.
    pub fn used_bytes(&self) -> u64 {
        self.total_bytes.saturating_sub(self.available_bytes)
    }

    /// Percentage in use, rounded to 1 dp; `None` for a zero total rather than a division by zero.
    pub fn percent(&self) -> Option<f64> {
        (self.total_bytes > 0).then(|| round_to(self.used_bytes() as f64 / self.total_bytes as f64 * 100.0, 1))
    }

    /// Whole MiB, truncated like v1's integer division.
    pub fn total_mb(&self) -> i64 {
        mib(self.total_bytes)
    }

    /// Whole MiB in use, truncated like [`total_mb`](Self::total_mb).
    pub fn used_mb(&self) -> i64 {
        mib(self.used_bytes())
    }
}

fn mib(bytes: u64) -> i64 {
    // At most 2^44, always fits.
    i64::try_from(bytes / (1024 * 1024)).unwrap_or(i64::MAX)
}

/// Parses `/proc/meminfo`. Kernels before 3.14 have no `MemAvailable`; there we estimate it as
/// free + buffers + page cache, the approximation `free` used before the kernel offered one.
pub fn parse_meminfo(text: &str) -> Result<MemoryUsage, ParseError> {
    let mut total = None;
    let mut available = None;
    let mut free = 0;
    let mut buffers = 0;
    let mut cached = 0;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        if !matches!(key, "MemTotal" | "MemAvailable" | "MemFree" | "Buffers" | "Cached") {
            continue;
        }
        let bytes = parse_kb(rest).ok_or_else(|| ParseError::new(format!("bad value for {key}: {rest:?}")))?;
        match key {
            "MemTotal" => total = Some(bytes),
            "MemAvailable" => available = Some(bytes),
            "MemFree" => free = bytes,
            "Buffers" => buffers = bytes,
            _ => cached = bytes,
        }
    }
    let total_bytes = total.ok_or_else(|| ParseError::new("no MemTotal"))?;
    let available_bytes =
        available.unwrap_or_else(|| free.saturating_add(buffers).saturating_add(cached)).min(total_bytes);
    Ok(MemoryUsage { total_bytes, available_bytes })
}

/// `"  24684084 kB"` → bytes.
fn parse_kb(value: &str) -> Option<u64> {
    let mut parts = value.split_ascii_whitespace();
    let number: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => number.checked_mul(1024),
        None => Some(number),
        Some(_) => None,
    }
}

/// Reads `/proc/meminfo`.
pub fn read_memory(root: &SystemRoot) -> Result<MemoryUsage, CollectError> {
    read_and_parse(&root.proc.join("meminfo"), parse_meminfo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_with_mem_available() {
        let usage = parse_meminfo(
            "MemTotal:       24684084 kB\nMemFree:        22763936 kB\nMemAvailable:   24316664 kB\n\
             Buffers:            9680 kB\nCached:          1725500 kB\nHugePages_Total:       0\n",
        )
        .unwrap();
        assert_eq!(usage.total_bytes, 24_684_084 * 1024);
        assert_eq!(usage.available_bytes, 24_316_664 * 1024);
        assert_eq!(usage.used_bytes(), 367_420 * 1024);
        assert_eq!(usage.total_mb(), 24_105);
        assert_eq!(usage.used_mb(), 358);
        assert_eq!(usage.percent(), Some(1.5));
    }

    #[test]
    fn old_kernels_estimate_available() {
        let usage = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n").unwrap();
        assert_eq!(usage.available_bytes, 400 * 1024);
        assert_eq!(usage.percent(), Some(60.0));
    }

    #[test]
    fn missing_total_or_garbage_is_an_error() {
        assert!(parse_meminfo("MemFree: 100 kB\n").is_err());
        assert!(parse_meminfo("MemTotal: lots kB\n").is_err());
        assert!(parse_meminfo("MemTotal: 12 MB\n").is_err());
    }

    #[test]
    fn zero_total_has_no_percentage() {
        let usage = parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n").unwrap();
        assert_eq!(usage.percent(), None);
    }
}
