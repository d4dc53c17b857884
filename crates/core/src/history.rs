//! Metric history: which series a heartbeat feeds, the retention tiers, and the maths that
//! merges tiers into chart buckets without holes.
//!
//! Every stored value belongs to a *series*: one metric of one server, optionally about one
//! subject (a mount point, an interface). Raw samples are rolled up into 5-minute and hourly
//! aggregates; a query reads the coarse tier where it is complete (before its *watermark*) and
//! finer tiers after it, so the newest data always shows.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::heartbeat::HeartbeatRequest;
use crate::time::Timestamp;

/// What a series measures. The string forms are stored, so never rename them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    CpuPercent,
    MemoryPercent,
    MemoryUsedMb,
    DiskPercent,
    DiskUsedGb,
    NetworkRxBytes,
    NetworkTxBytes,
    Load1m,
    Load5m,
    Load15m,
    /// Per mount point (subject = mount point).
    FilesystemPercent,
    FilesystemUsedBytes,
    /// Per interface (subject = interface name); cumulative counters.
    InterfaceRxBytes,
    InterfaceTxBytes,
    /// Per container (subject = container name).
    ContainerCpuPercent,
    ContainerMemoryBytes,
    /// Per sensor (subject = sensor id; GPUs as `gpu/<id>`, SATA disks as `disk/sda`).
    TemperatureCelsius,
    /// Per fan (subject = sensor id).
    FanRpm,
    /// Per GPU (subject = GPU id).
    GpuUtilisationPercent,
    GpuMemoryUsedBytes,
    GpuPowerWatts,
}

impl MetricKind {
    pub const ALL: [MetricKind; 21] = [
        MetricKind::CpuPercent,
        MetricKind::MemoryPercent,
        MetricKind::MemoryUsedMb,
        MetricKind::DiskPercent,
        MetricKind::DiskUsedGb,
        MetricKind::NetworkRxBytes,
        MetricKind::NetworkTxBytes,
        MetricKind::Load1m,
        MetricKind::Load5m,
        MetricKind::Load15m,
        MetricKind::FilesystemPercent,
        MetricKind::FilesystemUsedBytes,
        MetricKind::InterfaceRxBytes,
        MetricKind::InterfaceTxBytes,
        MetricKind::ContainerCpuPercent,
        MetricKind::ContainerMemoryBytes,
        MetricKind::TemperatureCelsius,
        MetricKind::FanRpm,
        MetricKind::GpuUtilisationPercent,
        MetricKind::GpuMemoryUsedBytes,
        MetricKind::GpuPowerWatts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::CpuPercent => "cpu_percent",
            MetricKind::MemoryPercent => "memory_percent",
            MetricKind::MemoryUsedMb => "memory_used_mb",
            MetricKind::DiskPercent => "disk_percent",
            MetricKind::DiskUsedGb => "disk_used_gb",
            MetricKind::NetworkRxBytes => "network_rx_bytes",
            MetricKind::NetworkTxBytes => "network_tx_bytes",
            MetricKind::Load1m => "load_1m",
            MetricKind::Load5m => "load_5m",
            MetricKind::Load15m => "load_15m",
            MetricKind::FilesystemPercent => "fs_percent",
            MetricKind::FilesystemUsedBytes => "fs_used_bytes",
            MetricKind::InterfaceRxBytes => "if_rx_bytes",
            MetricKind::InterfaceTxBytes => "if_tx_bytes",
            MetricKind::ContainerCpuPercent => "container_cpu_percent",
            MetricKind::ContainerMemoryBytes => "container_memory_bytes",
            MetricKind::TemperatureCelsius => "temperature_celsius",
            MetricKind::FanRpm => "fan_rpm",
            MetricKind::GpuUtilisationPercent => "gpu_utilisation_percent",
            MetricKind::GpuMemoryUsedBytes => "gpu_memory_used_bytes",
            MetricKind::GpuPowerWatts => "gpu_power_watts",
        }
    }

    pub fn parse(name: &str) -> Option<MetricKind> {
        MetricKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One value of one series at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub kind: MetricKind,
    /// Mount point or interface name; empty for machine-wide metrics.
    pub subject: String,
    pub value: f64,
}

/// The samples a heartbeat contributes to history (machine metrics, mounts, interfaces).
pub fn samples_of(hb: &HeartbeatRequest) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut push = |kind, subject: &str, value: Option<f64>| {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            samples.push(Sample { kind, subject: subject.to_owned(), value });
        }
    };
    if let Some(m) = &hb.metrics {
        push(MetricKind::CpuPercent, "", m.cpu_percent);
        push(MetricKind::MemoryPercent, "", m.memory_percent);
        push(MetricKind::MemoryUsedMb, "", m.memory_used_mb.map(|v| v as f64));
        push(MetricKind::DiskPercent, "", m.disk_percent);
        push(MetricKind::DiskUsedGb, "", m.disk_used_gb);
        push(MetricKind::NetworkRxBytes, "", m.network_rx_bytes.map(|v| v as f64));
        push(MetricKind::NetworkTxBytes, "", m.network_tx_bytes.map(|v| v as f64));
        push(MetricKind::Load1m, "", m.load_1m);
        push(MetricKind::Load5m, "", m.load_5m);
        push(MetricKind::Load15m, "", m.load_15m);
    }
    for fs in hb.filesystems.iter().flatten() {
        push(MetricKind::FilesystemPercent, &fs.mount_point, Some(fs.percent));
        push(MetricKind::FilesystemUsedBytes, &fs.mount_point, Some(fs.used_bytes as f64));
    }
    for iface in hb.network_interfaces.iter().flatten() {
        push(MetricKind::InterfaceRxBytes, &iface.name, Some(iface.rx_bytes as f64));
        push(MetricKind::InterfaceTxBytes, &iface.name, Some(iface.tx_bytes as f64));
    }
    for container in hb.containers.iter().flatten() {
        push(MetricKind::ContainerCpuPercent, &container.name, container.cpu_percent);
        push(MetricKind::ContainerMemoryBytes, &container.name, container.memory_used_bytes.map(|v| v as f64));
    }
    // The same sensors the alert engine judges, so a chart shows what an alert was about.
    for reading in crate::alerts::engine::temperatures_of(hb) {
        push(MetricKind::TemperatureCelsius, &reading.sensor, Some(reading.celsius));
    }
    for fan in hb.fans.iter().flatten() {
        push(MetricKind::FanRpm, &fan.sensor, Some(fan.rpm));
    }
    for gpu in hb.gpus.iter().flatten() {
        push(MetricKind::GpuUtilisationPercent, &gpu.id, gpu.utilisation_percent);
        push(MetricKind::GpuMemoryUsedBytes, &gpu.id, gpu.memory_used_bytes.map(|v| v as f64));
        push(MetricKind::GpuPowerWatts, &gpu.id, gpu.power_watts);
    }
    samples
}

/// The stored tiers, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Raw,
    FiveMinutes,
    Hourly,
}

impl Tier {
    /// Bucket width of a rollup tier in milliseconds (raw samples have none).
    pub fn bucket_millis(self) -> Option<i64> {
        match self {
            Tier::Raw => None,
            Tier::FiveMinutes => Some(300_000),
            Tier::Hourly => Some(3_600_000),
        }
    }

    /// Name used in the rollup watermark table.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::FiveMinutes => "5m",
            Tier::Hourly => "1h",
        }
    }
}

/// How long each tier is kept. Raw data is rolled up before it is pruned, so the coarser tiers
/// always cover what the finer ones lost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionPolicy {
    pub raw_days: u32,
    pub five_minute_days: u32,
    pub hourly_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy { raw_days: 7, five_minute_days: 90, hourly_days: 730 }
    }
}

impl RetentionPolicy {
    /// Samples of `tier` older than this may be deleted.
    pub fn cutoff(&self, tier: Tier, now: Timestamp) -> Timestamp {
        let days = match tier {
            Tier::Raw => self.raw_days,
            Tier::FiveMinutes => self.five_minute_days,
            Tier::Hourly => self.hourly_days,
        };
        now - Duration::days(i64::from(days))
    }

    /// Finer tiers must not outlive coarser ones, or a range query would find holes.
    pub fn check(&self) -> Result<(), String> {
        if self.raw_days == 0 {
            return Err("retention.raw_days must be at least 1".into());
        }
        if self.five_minute_days < self.raw_days {
            return Err("retention.five_minute_days must be at least retention.raw_days".into());
        }
        if self.hourly_days < self.five_minute_days {
            return Err("retention.hourly_days must be at least retention.five_minute_days".into());
        }
        Ok(())
    }
}

/// Start of the bucket of width `width` (ms) that holds `millis`.
pub fn bucket_start(millis: i64, width: i64) -> i64 {
    millis.div_euclid(width) * width
}

/// An aggregate over a bucket: a raw sample is an aggregate of one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregate {
    /// Bucket start (ms since epoch).
    pub ts: i64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    pub count: i64,
}

impl Aggregate {
    pub fn of_sample(ts: i64, value: f64) -> Self {
        Aggregate { ts, avg: value, min: value, max: value, count: 1 }
    }

    /// Combines two aggregates; the average is weighted by sample count. When both averages are
    /// the means of decimal sums (readings with up to three decimals, as agents send them), the
    /// sums are added exactly, so that a bucket's average is the correctly rounded mean of its
    /// readings rather than carrying the rounding error of every merge before it; history rows
    /// store such an average as its (short) sum.
    pub fn merge(&self, other: &Aggregate) -> Aggregate {
        let count = self.count + other.count;
        let avg = if count == 0 {
            self.avg
        } else {
            exact_merged_mean(self, other, count)
                .unwrap_or_else(|| (self.avg * self.count as f64 + other.avg * other.count as f64) / count as f64)
        };
        Aggregate { ts: self.ts, avg, min: self.min.min(other.min), max: self.max.max(other.max), count }
    }
}

/// Decimal scales a reading may have: integers, then one to three decimals.
pub const DECIMAL_SCALES: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];

/// Integers beyond this are not exact in an `f64`.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// The mean of `count` readings whose sum is `sum_units / scale`. This one formula is how both
/// merging and the history codec turn a decimal sum back into an average.
pub fn decimal_mean(sum_units: i64, scale: f64, count: i64) -> f64 {
    (sum_units as f64 / scale) / count as f64
}

/// The decimal sum (in units of `1 / scale`) whose [`decimal_mean`] is exactly `avg`, if any.
pub fn decimal_sum(avg: f64, count: i64, scale: f64) -> Option<i64> {
    let units = (avg * count as f64 * scale).round();
    // NaN fails the comparison too.
    let exact = units.abs() < MAX_EXACT;
    if !exact || count <= 0 {
        return None;
    }
    let units = units as i64;
    (decimal_mean(units, scale, count).to_bits() == avg.to_bits()).then_some(units)
}

fn exact_merged_mean(a: &Aggregate, b: &Aggregate, count: i64) -> Option<f64> {
    if a.count <= 0 || b.count <= 0 {
        return None;
    }
    DECIMAL_SCALES.iter().find_map(|&scale| {
        let sum = decimal_sum(a.avg, a.count, scale)?.checked_add(decimal_sum(b.avg, b.count, scale)?)?;
        (sum.unsigned_abs() < MAX_EXACT as u64).then(|| decimal_mean(sum, scale, count))
    })
}

/// Groups time-ordered aggregates (from any mix of tiers) into buckets of `width` ms.
pub fn rebucket(rows: impl IntoIterator<Item = Aggregate>, width: i64) -> Vec<Aggregate> {
    let mut out: Vec<Aggregate> = Vec::new();
    for row in rows {
        let start = bucket_start(row.ts, width);
        match out.last_mut() {
            Some(last) if last.ts == start => *last = last.merge(&row),
            _ => out.push(Aggregate { ts: start, ..row }),
        }
    }
    out
}

/// The ranges of `GET /servers/{id}/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HistoryRange {
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
    #[serde(rename = "12m")]
    Year,
}

impl HistoryRange {
    pub const ALL: [HistoryRange; 4] = [HistoryRange::Day, HistoryRange::Week, HistoryRange::Month, HistoryRange::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            HistoryRange::Day => "24h",
            HistoryRange::Week => "7d",
            HistoryRange::Month => "30d",
            HistoryRange::Year => "12m",
        }
    }

    pub fn parse(text: &str) -> Option<HistoryRange> {
        HistoryRange::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn window(self) -> Duration {
        match self {
            HistoryRange::Day => Duration::hours(24),
            HistoryRange::Week => Duration::days(7),
            HistoryRange::Month => Duration::days(30),
            HistoryRange::Year => Duration::days(365),
        }
    }

    /// Chart bucket width in ms; `None` means every raw sample.
    pub fn bucket_millis(self) -> Option<i64> {
        match self {
            HistoryRange::Day => None,
            HistoryRange::Week => Some(900_000),
            HistoryRange::Month => Some(3_600_000),
            HistoryRange::Year => Some(86_400_000),
        }
    }

    /// The v1 `resolution` label.
    pub fn resolution(self) -> &'static str {
        match self {
            HistoryRange::Day => "1m",
            HistoryRange::Week => "15m",
            HistoryRange::Month => "1h",
            HistoryRange::Year => "1d",
        }
    }

    /// The coarsest tier fine enough for this range's buckets.
    pub fn source_tier(self) -> Tier {
        match self {
            HistoryRange::Day => Tier::Raw,
            HistoryRange::Week => Tier::FiveMinutes,
            HistoryRange::Month | HistoryRange::Year => Tier::Hourly,
        }
    }
}

/// Which part of `[from, to)` each tier serves, given the rollup watermarks (everything before a
/// tier's watermark is rolled up into it). Tiers coarser than the range's source tier are never
/// read; finer tiers fill in after the coarser tier's watermark, so there are no holes.
pub fn tier_plan(
    source: Tier,
    from: i64,
    to: i64,
    five_minute_watermark: i64,
    hourly_watermark: i64,
) -> Vec<(Tier, i64, i64)> {
    let mut plan = Vec::new();
    let mut cursor = from;
    if source == Tier::Hourly {
        let end = hourly_watermark.min(to);
        if end > cursor {
            plan.push((Tier::Hourly, cursor, end));
            cursor = end;
        }
    }
    if matches!(source, Tier::Hourly | Tier::FiveMinutes) {
        let end = five_minute_watermark.min(to);
        if end > cursor {
            plan.push((Tier::FiveMinutes, cursor, end));
            cursor = end;
        }
    }
    if to > cursor {
        plan.push((Tier::Raw, cursor, to));
    }
    plan
}

/// Rounds to two decimals, as v1 does for aggregated values.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    #[test]
    fn a_heartbeat_feeds_machine_mount_and_interface_series() {
        let hb: HeartbeatRequest = serde_json::from_str(
            r#"{"server_id":"a","hostname":"a","timestamp":"2026-01-19T12:00:00Z",
                "metrics":{"cpu_percent":12.5,"memory_percent":null,"network_rx_bytes":100},
                "filesystems":[{"mount_point":"/srv","device":"sdb1","fs_type":"ext4","total_bytes":10,"used_bytes":4,"available_bytes":6,"percent":40}],
                "network_interfaces":[{"name":"eth0","rx_bytes":5,"tx_bytes":6,"rx_packets":1,"tx_packets":1,"is_up":true}]}"#,
        )
        .unwrap();
        let names: Vec<(String, String, f64)> =
            samples_of(&hb).into_iter().map(|s| (s.kind.as_str().to_owned(), s.subject, s.value)).collect();
        assert_eq!(
            names,
            [
                ("cpu_percent".into(), "".into(), 12.5),
                ("network_rx_bytes".into(), "".into(), 100.0),
                ("fs_percent".into(), "/srv".into(), 40.0),
                ("fs_used_bytes".into(), "/srv".into(), 4.0),
                ("if_rx_bytes".into(), "eth0".into(), 5.0),
                ("if_tx_bytes".into(), "eth0".into(), 6.0),
            ]
        );
    }

    #[test]
    fn metric_names_round_trip() {
        for kind in MetricKind::ALL {
            assert_eq!(MetricKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn merging_decimal_readings_adds_their_sums_exactly() {
        let naive = (0.1 + 0.2) / 2.0;
        assert_ne!(naive, 0.15, "the float sum carries an error");
        let merged = Aggregate::of_sample(0, 0.1).merge(&Aggregate::of_sample(0, 0.2));
        assert_eq!(merged.avg, 0.15);
        // Merge after merge, the average stays the mean of the decimal sum.
        let readings = [42.3, 41.9, 57.1, 0.7, 12.25, 99.999];
        let merged = readings[1..]
            .iter()
            .fold(Aggregate::of_sample(0, readings[0]), |acc, &v| acc.merge(&Aggregate::of_sample(0, v)));
        let exact = decimal_mean(42_300 + 41_900 + 57_100 + 700 + 12_250 + 99_999, 1000.0, 6);
        assert_eq!((merged.avg, merged.count), (exact, 6));
        assert_eq!(decimal_sum(merged.avg, 6, 1000.0), Some(254_249));
        // Readings no decimal scale holds fall back to the weighted float mean.
        let odd = Aggregate::of_sample(0, 1.0 / 3.0).merge(&Aggregate::of_sample(0, 1.0));
        assert_eq!(odd.avg, (1.0 / 3.0 + 1.0) / 2.0);
    }

    #[test]
    fn merging_weights_the_average_by_count() {
        let a = Aggregate { ts: 0, avg: 10.0, min: 5.0, max: 20.0, count: 3 };
        let b = Aggregate { ts: 300_000, avg: 50.0, min: 40.0, max: 60.0, count: 1 };
        let merged = a.merge(&b);
        assert_eq!(merged.avg, 20.0);
        assert_eq!((merged.min, merged.max, merged.count), (5.0, 60.0, 4));
    }

    #[test]
    fn rebucketing_mixed_tiers_keeps_every_sample() {
        let rows = vec![
            Aggregate { ts: 0, avg: 1.0, min: 1.0, max: 1.0, count: 12 },
            Aggregate { ts: 300_000, avg: 3.0, min: 2.0, max: 4.0, count: 12 },
            Aggregate::of_sample(3_600_000, 7.0),
            Aggregate::of_sample(3_660_000, 9.0),
        ];
        let buckets = rebucket(rows, 3_600_000);
        assert_eq!(buckets.len(), 2);
        assert_eq!((buckets[0].ts, buckets[0].avg, buckets[0].count), (0, 2.0, 24));
        assert_eq!((buckets[1].ts, buckets[1].avg, buckets[1].min, buckets[1].max), (3_600_000, 8.0, 7.0, 9.0));
    }

    #[test]
    fn the_tier_plan_has_no_holes_and_no_overlaps() {
        let plan = tier_plan(Tier::Hourly, 0, 10_000, 9_000, 6_000);
        assert_eq!(plan, [(Tier::Hourly, 0, 6_000), (Tier::FiveMinutes, 6_000, 9_000), (Tier::Raw, 9_000, 10_000)]);
        // Nothing rolled up yet: everything comes from raw.
        assert_eq!(tier_plan(Tier::Hourly, 100, 200, 0, 0), [(Tier::Raw, 100, 200)]);
        // A week reads 5-minute rollups, never the hourly tier.
        assert_eq!(
            tier_plan(Tier::FiveMinutes, 0, 10_000, 9_000, 6_000),
            [(Tier::FiveMinutes, 0, 9_000), (Tier::Raw, 9_000, 10_000)]
        );
        assert_eq!(tier_plan(Tier::Raw, 5, 10, 9, 9), [(Tier::Raw, 5, 10)]);
    }

    #[test]
    fn retention_cutoffs_and_checks() {
        let policy = RetentionPolicy::default();
        let now = time::parse("2026-01-31T00:00:00Z").unwrap();
        assert_eq!(time::format(&policy.cutoff(Tier::Raw, now)), "2026-01-24T00:00:00.000Z");
        policy.check().unwrap();
        assert!(RetentionPolicy { raw_days: 10, five_minute_days: 5, hourly_days: 700 }.check().is_err());
    }

    #[test]
    fn buckets_floor_negative_times_too() {
        assert_eq!(bucket_start(299_999, 300_000), 0);
        assert_eq!(bucket_start(-1, 300_000), -300_000);
    }
}
