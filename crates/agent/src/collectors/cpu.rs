//! CPU utilisation from `/proc/stat` and the CPU model and core count from `/proc/cpuinfo`.
//!
//! Utilisation is a rate, so it needs two readings. Instead of blocking for a second per
//! heartbeat as v1 did (`psutil.cpu_percent(interval=1)`), [`CpuSampler`] keeps the previous
//! counters and reports the average over the whole interval between two heartbeats, which is
//! both cheaper and a truer picture of the minute than a one-second snapshot.

use homelab_core::heartbeat::CpuInfo;

use super::{read_and_parse, read_file, round_to};
use crate::error::{CollectError, ParseError};
use crate::root::SystemRoot;

/// Cumulative time counters of the aggregate `cpu` line, in clock ticks (`USER_HZ`).
///
/// `guest` and `guest_nice` are left out on purpose: the kernel already counts them inside
/// `user` and `nice`, and adding them again would inflate the total (psutil does the same).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// Every tick that elapsed, summed over all CPUs.
    pub fn total(&self) -> u64 {
        self.user
            .saturating_add(self.nice)
            .saturating_add(self.system)
            .saturating_add(self.idle)
            .saturating_add(self.iowait)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
            .saturating_add(self.steal)
    }

    /// Ticks spent doing work; waiting for I/O counts as idle, as in psutil and `top`.
    pub fn busy(&self) -> u64 {
        self.total().saturating_sub(self.idle.saturating_add(self.iowait))
    }
}

/// The parts of `/proc/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The aggregate `cpu` line.
    pub total: CpuTimes,
    /// How many `cpuN` lines there are (online CPUs), to turn the aggregate into wall time.
    pub cpu_count: usize,
}

impl ProcStat {
    /// Clock ticks of wall time covered by the counters, per CPU: the yardstick for per-process
    /// CPU %, which comes from the same tick counters and so needs no wall clock or `USER_HZ`.
    pub fn ticks_per_cpu(&self) -> f64 {
        self.total.total() as f64 / self.cpu_count.max(1) as f64
    }
}

/// Parses `/proc/stat`.
pub fn parse_proc_stat(text: &str) -> Result<ProcStat, ParseError> {
    let mut total = None;
    let mut cpu_count = 0;
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        match fields.next() {
            Some("cpu") => total = Some(parse_cpu_times(fields)?),
            Some(name) if name.starts_with("cpu") && name[3..].bytes().all(|b| b.is_ascii_digit()) => {
                cpu_count += 1;
            }
            _ => {}
        }
    }
    let total = total.ok_or_else(|| ParseError::new("no aggregate `cpu` line"))?;
    Ok(ProcStat { total, cpu_count: cpu_count.max(1) })
}

fn parse_cpu_times<'a>(fields: impl Iterator<Item = &'a str>) -> Result<CpuTimes, ParseError> {
    let values = fields
        .take(8)
        .map(|f| f.parse::<u64>().map_err(|_| ParseError::new(format!("bad counter {f:?} on the `cpu` line"))))
        .collect::<Result<Vec<_>, _>>()?;
    if values.len() < 4 {
        return Err(ParseError::new("the `cpu` line has fewer than 4 counters"));
    }
    // Old kernels lack the later columns; they are zero there.
    let at = |i: usize| values.get(i).copied().unwrap_or(0);
    Ok(CpuTimes {
        user: at(0),
        nice: at(1),
        system: at(2),
        idle: at(3),
        iowait: at(4),
        irq: at(5),
        softirq: at(6),
        steal: at(7),
    })
}

/// Busy percentage between two readings, rounded to 1 dp like psutil.
///
/// `None` when no time passed or the counters went backwards (a counter reset), because any
/// number we made up then would be fiction.
pub fn cpu_percent_between(previous: &CpuTimes, current: &CpuTimes) -> Option<f64> {
    let elapsed = current.total().checked_sub(previous.total())?;
    if elapsed == 0 {
        return None;
    }
    // `iowait` can step backwards on tickless kernels, making busy look larger; clamp instead.
    let busy = current.busy().saturating_sub(previous.busy());
    Some(round_to((busy as f64 / elapsed as f64 * 100.0).clamp(0.0, 100.0), 1))
}

/// Remembers the previous `/proc/stat` counters so each call yields the utilisation since the
/// last one.
#[derive(Debug, Clone, Default)]
pub struct CpuSampler {
    previous: Option<CpuTimes>,
}

impl CpuSampler {
    /// A sampler without a baseline: its first sample yields no percentage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `current` and returns the utilisation since the previous sample, if there was one.
    pub fn sample(&mut self, current: CpuTimes) -> Option<f64> {
        let Some(previous) = self.previous else {
            self.previous = Some(current);
            return None;
        };
        if current.total() == previous.total() {
            // Sampled twice within one tick: keep the old baseline so the next call measures a
            // real interval.
            return None;
        }
        self.previous = Some(current);
        cpu_percent_between(&previous, &current)
    }

    /// Whether a baseline exists, i.e. the next sample will produce a percentage.
    pub fn is_primed(&self) -> bool {
        self.previous.is_some()
    }
}

/// Reads `/proc/stat`.
pub fn read_proc_stat(root: &SystemRoot) -> Result<ProcStat, CollectError> {
    read_and_parse(&root.proc.join("stat"), parse_proc_stat)
}

/// Parses `/proc/cpuinfo`: the model is `model name` (x86, 32-bit ARM) or, on ARM boards whose
/// kernel prints no model name, `Model` (Raspberry Pi: "Raspberry Pi 4 Model B Rev 1.4") and
/// then `Hardware`; the core count is the number of `processor` entries. This order is v1's,
/// which the hub's machine-category inference was written against.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut model_name = None;
    let mut board_model = None;
    let mut hardware = None;
    let mut processors: i64 = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let slot = match key.trim() {
            "processor" => {
                processors += 1;
                continue;
            }
            "model name" => &mut model_name,
            "Model" => &mut board_model,
            "Hardware" => &mut hardware,
            _ => continue,
        };
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value.to_owned());
        }
    }
    CpuInfo {
        cpu_model: model_name.or(board_model).or(hardware),
        // The hub accepts 1–1024 and would reject the whole heartbeat otherwise.
        cpu_cores: (1..=1024).contains(&processors).then_some(processors),
    }
}

/// Reads the CPU model and core count. On ARM boards without a model in `/proc/cpuinfo`, the
/// device tree's board name (`/proc/device-tree/model`) is the next best description.
pub fn read_cpu_info(root: &SystemRoot) -> Result<CpuInfo, CollectError> {
    let mut info = parse_cpuinfo(&read_file(&root.proc.join("cpuinfo"))?);
    if info.cpu_model.is_none()
        && let Ok(model) = read_file(&root.proc.join("device-tree/model"))
    {
        let model = model.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        if !model.is_empty() {
            info.cpu_model = Some(model.to_owned());
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(user: u64, system: u64, idle: u64, iowait: u64) -> CpuTimes {
        CpuTimes { user, system, idle, iowait, ..CpuTimes::default() }
    }

    #[test]
    fn proc_stat_aggregate_line_and_cpu_count() {
        let stat = parse_proc_stat(
            "cpu  43996 0 5209 70012 1508 0 30 186 0 0\n\
             cpu0 21737 0 2462 35858 313 0 4 87 0 0\n\
             cpu1 22258 0 2746 34154 1195 0 25 98 0 0\n\
             intr 238670 0 0\nctxt 255198\nbtime 1795465036\n",
        )
        .unwrap();
        assert_eq!(
            stat.total,
            CpuTimes { user: 43996, nice: 0, system: 5209, idle: 70012, iowait: 1508, irq: 0, softirq: 30, steal: 186 }
        );
        assert_eq!(stat.cpu_count, 2);
        assert_eq!(stat.total.total(), 120_941);
        assert_eq!(stat.total.busy(), 120_941 - 70012 - 1508);
        assert_eq!(stat.ticks_per_cpu(), 60_470.5);
    }

    #[test]
    fn guest_columns_are_not_counted_twice() {
        let stat = parse_proc_stat("cpu 100 0 0 100 0 0 0 0 50 50\n").unwrap();
        assert_eq!(stat.total.total(), 200);
    }

    #[test]
    fn short_and_broken_cpu_lines() {
        let old_kernel = parse_proc_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(old_kernel.total.total(), 10);
        assert!(parse_proc_stat("cpu 1 2\n").is_err());
        assert!(parse_proc_stat("cpu 1 2 x 4\n").is_err());
        assert!(parse_proc_stat("intr 1 2 3\n").is_err());
        assert!(parse_proc_stat("").is_err());
    }

    #[test]
    fn percent_between_two_readings() {
        let a = times(100, 50, 800, 50);
        let b = times(150, 75, 900, 75);
        // elapsed = 1200 - 1000 = 200 ticks, busy = 225 - 150 = 75 ticks.
        assert_eq!(cpu_percent_between(&a, &b), Some(37.5));
        assert_eq!(cpu_percent_between(&a, &a), None);
        assert_eq!(cpu_percent_between(&b, &a), None, "counters went backwards");
    }

    #[test]
    fn iowait_stepping_back_cannot_push_percent_over_100() {
        let a = times(0, 0, 100, 100);
        let b = times(10, 0, 100, 50);
        assert_eq!(cpu_percent_between(&a, &b), None, "total went backwards");
        let c = times(100, 0, 100, 40);
        assert_eq!(cpu_percent_between(&a, &c), Some(100.0));
    }

    #[test]
    fn sampler_needs_a_baseline_and_keeps_it_within_one_tick() {
        let mut sampler = CpuSampler::new();
        assert!(!sampler.is_primed());
        assert_eq!(sampler.sample(times(0, 0, 100, 0)), None);
        assert!(sampler.is_primed());
        assert_eq!(sampler.sample(times(0, 0, 100, 0)), None);
        assert_eq!(sampler.sample(times(25, 0, 175, 0)), Some(25.0));
        assert_eq!(sampler.sample(times(125, 0, 175, 0)), Some(100.0));
    }

    #[test]
    fn cpuinfo_x86() {
        let info = parse_cpuinfo(
            "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n\n\
             processor\t: 1\nmodel name\t: AMD EPYC\n",
        );
        assert_eq!(info.cpu_model.as_deref(), Some("AMD EPYC"));
        assert_eq!(info.cpu_cores, Some(2));
    }

    #[test]
    fn cpuinfo_32_bit_arm_prefers_the_model_name() {
        let info = parse_cpuinfo(
            "processor\t: 0\nmodel name\t: ARMv7 Processor rev 3 (v7l)\nBogoMIPS\t: 108.00\n\n\
             processor\t: 1\nmodel name\t: ARMv7 Processor rev 3 (v7l)\n\n\
             Hardware\t: BCM2835\nRevision\t: c03112\nModel\t\t: Raspberry Pi 4 Model B Rev 1.2\n",
        );
        assert_eq!(info.cpu_model.as_deref(), Some("ARMv7 Processor rev 3 (v7l)"));
        assert_eq!(info.cpu_cores, Some(2));
    }

    #[test]
    fn cpuinfo_hardware_is_the_last_resort() {
        let info = parse_cpuinfo("processor\t: 0\nHardware\t: Allwinner sun8i Family\n");
        assert_eq!(info.cpu_model.as_deref(), Some("Allwinner sun8i Family"));
        let nothing = parse_cpuinfo("garbage without colons\n");
        assert_eq!(nothing, CpuInfo::default());
    }
}
