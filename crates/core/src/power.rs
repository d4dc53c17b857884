//! Power and electricity cost (v1's EP0005): the machine category a CPU suggests, each
//! category's idle and full-load draw, and the estimate from load. Pure, so the heartbeat path,
//! the cost endpoints and the dashboard share one rule.

use serde::{Deserialize, Serialize};

use crate::validate::{ValidationErrors, Validator};

/// The power categories of v1 (`servers.machine_category`), with their default draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineCategory {
    Sbc,
    MiniPc,
    Nas,
    OfficeDesktop,
    GamingDesktop,
    Workstation,
    OfficeLaptop,
    GamingLaptop,
    RackServer,
}

/// Where `machine_category` came from: inferred from the CPU, or chosen by a person (and then
/// never overwritten by a heartbeat).
pub const SOURCE_AUTO: &str = "auto";
pub const SOURCE_USER: &str = "user";

impl MachineCategory {
    pub const ALL: [MachineCategory; 9] = [
        MachineCategory::Sbc,
        MachineCategory::MiniPc,
        MachineCategory::Nas,
        MachineCategory::OfficeDesktop,
        MachineCategory::GamingDesktop,
        MachineCategory::Workstation,
        MachineCategory::OfficeLaptop,
        MachineCategory::GamingLaptop,
        MachineCategory::RackServer,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            MachineCategory::Sbc => "sbc",
            MachineCategory::MiniPc => "mini_pc",
            MachineCategory::Nas => "nas",
            MachineCategory::OfficeDesktop => "office_desktop",
            MachineCategory::GamingDesktop => "gaming_desktop",
            MachineCategory::Workstation => "workstation",
            MachineCategory::OfficeLaptop => "office_laptop",
            MachineCategory::GamingLaptop => "gaming_laptop",
            MachineCategory::RackServer => "rack_server",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }

    pub const fn label(self) -> &'static str {
        match self {
            MachineCategory::Sbc => "Single Board Computer",
            MachineCategory::MiniPc => "Mini PC",
            MachineCategory::Nas => "NAS/Home Server",
            MachineCategory::OfficeDesktop => "Office Desktop",
            MachineCategory::GamingDesktop => "Gaming Desktop",
            MachineCategory::Workstation => "Workstation",
            MachineCategory::OfficeLaptop => "Office Laptop",
            MachineCategory::GamingLaptop => "Gaming Laptop",
            MachineCategory::RackServer => "Rack Server",
        }
    }

    /// v1's default draw (idle, full load) in watts.
    pub const fn profile(self) -> PowerRange {
        let (idle_watts, max_watts) = match self {
            MachineCategory::Sbc => (2, 6),
            MachineCategory::MiniPc => (10, 25),
            MachineCategory::Nas => (15, 35),
            MachineCategory::OfficeDesktop => (40, 100),
            MachineCategory::GamingDesktop => (75, 300),
            MachineCategory::Workstation => (100, 350),
            MachineCategory::OfficeLaptop => (10, 30),
            MachineCategory::GamingLaptop => (30, 100),
            MachineCategory::RackServer => (100, 300),
        };
        PowerRange { idle_watts, max_watts }
    }
}

/// The names `machine_category` accepts.
pub fn category_names() -> Vec<&'static str> {
    MachineCategory::ALL.iter().map(|c| c.as_str()).collect()
}

const ARM_ARCHITECTURES: [&str; 4] = ["aarch64", "armv7l", "armv6l", "arm64"];

/// The category a CPU model and architecture suggest (v1's `infer_category_from_cpu` table), or
/// `None` when nothing matches confidently.
pub fn infer_category(cpu_model: Option<&str>, architecture: Option<&str>) -> Option<MachineCategory> {
    let arm = architecture.is_some_and(|a| ARM_ARCHITECTURES.contains(&a.to_ascii_lowercase().as_str()));
    let model = match cpu_model.map(str::to_ascii_lowercase) {
        Some(model) if !model.is_empty() => model,
        _ => return arm.then_some(MachineCategory::Sbc),
    };
    let words: Vec<&str> = model.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').collect();
    let has_word = |w: &str| words.contains(&w);
    if has_word("m1") || has_word("m2") || has_word("m3") {
        return Some(MachineCategory::OfficeLaptop);
    }
    if arm {
        return Some(MachineCategory::Sbc);
    }
    if has_word("xeon") || has_word("epyc") || has_word("opteron") {
        return Some(MachineCategory::RackServer);
    }
    if model.contains("threadripper") {
        return Some(MachineCategory::Workstation);
    }
    if is_mobile(&model) {
        return Some(MachineCategory::OfficeLaptop);
    }
    let low_power = has_word("atom")
        || has_word("celeron")
        || has_word("pentium")
        || words.iter().any(|w| letter_then_digits(w, 'n', 2..=4) || letter_then_digits(w, 'j', 4..=4));
    if low_power {
        return Some(MachineCategory::MiniPc);
    }
    if core_tier(&model, &['7', '9']) || ryzen_tier(&model, &['7', '9']) {
        return Some(MachineCategory::Workstation);
    }
    if core_tier(&model, &['3', '5'])
        || ryzen_tier(&model, &['3', '5'])
        || model.contains("core")
        || model.contains("ryzen")
    {
        return Some(MachineCategory::OfficeDesktop);
    }
    None
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn boundary_at(bytes: &[u8], at: usize) -> bool {
    bytes.get(at).is_none_or(|b| !is_word_byte(*b))
}

fn letter_then_digits(word: &str, letter: char, count: std::ops::RangeInclusive<usize>) -> bool {
    word.strip_prefix(letter).is_some_and(|d| count.contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Length of the run of ASCII digits starting at `at`.
fn digits_at(bytes: &[u8], at: usize) -> usize {
    bytes[at.min(bytes.len())..].iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Intel mobile parts (`i5-8250U`, `i5-1235P`, `i5-1035G1`) and AMD mobile ones
/// (`Ryzen 5 5500U`, `Ryzen … Mobile`).
fn is_mobile(model: &str) -> bool {
    let bytes = model.as_bytes();
    for start in 0..bytes.len() {
        let intel = bytes[start] == b'i'
            && bytes.get(start + 1).is_some_and(|b| b"3579".contains(b))
            && bytes.get(start + 2) == Some(&b'-');
        if !intel {
            continue;
        }
        let digits = digits_at(bytes, start + 3);
        if !(4..=5).contains(&digits) {
            continue;
        }
        let suffix = start + 3 + digits;
        match bytes.get(suffix) {
            Some(b'u' | b'p') if boundary_at(bytes, suffix + 1) => return true,
            Some(b'g') if bytes.get(suffix + 1).is_some_and(u8::is_ascii_digit) && boundary_at(bytes, suffix + 2) => {
                return true;
            }
            _ => {}
        }
    }
    let Some(ryzen) = model.find("ryzen") else { return false };
    let rest = &model[ryzen..];
    if rest.contains("mobile") {
        return true;
    }
    let rest = rest.as_bytes();
    (0..rest.len()).any(|at| {
        let run = digits_at(rest, at);
        run >= 4 && rest.get(at + run) == Some(&b'u') && boundary_at(rest, at + run + 1)
    })
}

/// `core … i7-` style: the word "core" followed later by `i{tier}-`.
fn core_tier(model: &str, tiers: &[char]) -> bool {
    let Some(core) = model.find("core") else { return false };
    let rest = &model[core..];
    tiers.iter().any(|t| rest.contains(&format!("i{t}-")))
}

/// `ryzen 7` (then a word boundary) or `ryzen 7 5800` style.
fn ryzen_tier(model: &str, tiers: &[char]) -> bool {
    model.match_indices("ryzen").any(|(at, _)| {
        let rest = &model[at + 5..];
        let spaced = rest.strip_prefix(' ').and_then(|r| r.chars().next().map(|c| (c, r)));
        let single_space = spaced.is_some_and(|(c, r)| tiers.contains(&c) && boundary_at(r.as_bytes(), c.len_utf8()));
        let trimmed = rest.trim_start();
        let numbered = trimmed.chars().next().is_some_and(|c| tiers.contains(&c))
            && trimmed[1..].trim_start().starts_with(|c: char| c.is_ascii_digit());
        single_space || numbered
    })
}

/// A machine's draw at idle and at full load, in watts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerRange {
    pub idle_watts: i64,
    pub max_watts: i64,
}

/// The draw to estimate with: the person's `idle_watts`/`tdp_watts` where set, the category's
/// defaults for the rest; `None` when neither gives both ends.
pub fn power_range(category: Option<&str>, idle_watts: Option<i64>, tdp_watts: Option<i64>) -> Option<PowerRange> {
    let profile = category.and_then(MachineCategory::parse).map(MachineCategory::profile);
    let idle = idle_watts.or(profile.map(|p| p.idle_watts))?;
    let max = tdp_watts.or(profile.map(|p| p.max_watts))?;
    Some(PowerRange { idle_watts: idle, max_watts: max })
}

/// The CPU load assumed when a machine has reported none (as the v1 server page does).
pub const DEFAULT_CPU_PERCENT: f64 = 50.0;

/// Linear between idle and full load by CPU percentage (clamped to 0–100), to 0.1 W.
pub fn estimated_watts(range: PowerRange, cpu_percent: f64) -> f64 {
    let load = if cpu_percent.is_finite() { cpu_percent.clamp(0.0, 100.0) } else { DEFAULT_CPU_PERCENT };
    let watts = range.idle_watts as f64 + (range.max_watts - range.idle_watts) as f64 * load / 100.0;
    round(watts, 1)
}

/// Cost of running at `watts` for a day, to the hundredth.
pub fn daily_cost(watts: f64, rate_per_kwh: f64) -> f64 {
    round(watts * 24.0 / 1000.0 * rate_per_kwh, 2)
}

/// A month is 30 days, as in v1.
pub fn monthly_cost(watts: f64, rate_per_kwh: f64) -> f64 {
    round(watts * 24.0 * 30.0 / 1000.0 * rate_per_kwh, 2)
}

pub fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

/// The electricity tariff (v1's `cost` config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CostSettings {
    /// Price of one kWh.
    pub electricity_rate: f64,
    /// Shown before amounts, at most 10 characters.
    pub currency_symbol: String,
}

impl Default for CostSettings {
    fn default() -> Self {
        CostSettings { electricity_rate: 0.24, currency_symbol: "£".into() }
    }
}

/// `PUT /config/cost`: either field may be left out.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CostSettingsUpdate {
    /// Price of one kWh, 0 or more.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub electricity_rate: Option<f64>,
    /// Shown before amounts, at most 10 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 10))]
    pub currency_symbol: Option<String>,
}

impl CostSettingsUpdate {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        v.range_f64("electricity_rate", self.electricity_rate, 0.0, None);
        v.opt_str_len("currency_symbol", self.currency_symbol.as_deref(), 0, 10);
        v.finish()
    }

    pub fn apply(&self, mut settings: CostSettings) -> CostSettings {
        if let Some(rate) = self.electricity_rate {
            settings.electricity_rate = rate;
        }
        if let Some(symbol) = &self.currency_symbol {
            settings.currency_symbol.clone_from(symbol);
        }
        settings
    }
}

/// One machine's estimate; `None` fields when its draw is unknown (no category, no wattage).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEstimate {
    pub range: Option<PowerRange>,
    pub cpu_percent: Option<f64>,
    pub estimated_watts: Option<f64>,
    pub daily_cost: Option<f64>,
    pub monthly_cost: Option<f64>,
}

pub fn estimate(
    category: Option<&str>,
    idle_watts: Option<i64>,
    tdp_watts: Option<i64>,
    cpu_percent: Option<f64>,
    rate: f64,
) -> ServerEstimate {
    let range = power_range(category, idle_watts, tdp_watts);
    let watts = range.map(|r| estimated_watts(r, cpu_percent.unwrap_or(DEFAULT_CPU_PERCENT)));
    ServerEstimate {
        range,
        cpu_percent,
        estimated_watts: watts,
        daily_cost: watts.map(|w| daily_cost(w, rate)),
        monthly_cost: watts.map(|w| monthly_cost(w, rate)),
    }
}

/// The fleet's total: machines with a known draw are summed, the rest counted as missing.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetEstimate {
    pub servers_included: usize,
    pub servers_missing_config: usize,
    pub total_estimated_watts: f64,
    pub daily_cost: f64,
    pub monthly_cost: f64,
}

pub fn fleet_estimate<'a>(estimates: impl IntoIterator<Item = &'a ServerEstimate>, rate: f64) -> FleetEstimate {
    let mut included = 0;
    let mut missing = 0;
    let mut watts = 0.0;
    for estimate in estimates {
        match estimate.estimated_watts {
            Some(w) => {
                included += 1;
                watts += w;
            }
            None => missing += 1,
        }
    }
    FleetEstimate {
        servers_included: included,
        servers_missing_config: missing,
        total_estimated_watts: round(watts, 1),
        daily_cost: daily_cost(watts, rate),
        monthly_cost: monthly_cost(watts, rate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(model: &str, arch: &str) -> Option<&'static str> {
        infer_category(Some(model), Some(arch)).map(MachineCategory::as_str)
    }

    #[test]
    fn categories_follow_the_v1_table() {
        assert_eq!(infer("Raspberry Pi 4 Model B Rev 1.4", "aarch64"), Some("sbc"));
        assert_eq!(infer("Cortex-A72", "armv7l"), Some("sbc"));
        assert_eq!(infer("Apple M2", "arm64"), Some("office_laptop"));
        assert_eq!(infer("Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", "x86_64"), Some("rack_server"));
        assert_eq!(infer("AMD EPYC 7B13 64-Core Processor", "x86_64"), Some("rack_server"));
        assert_eq!(infer("AMD Ryzen Threadripper 3970X", "x86_64"), Some("workstation"));
        assert_eq!(infer("Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", "x86_64"), Some("office_laptop"));
        assert_eq!(infer("12th Gen Intel(R) Core(TM) i5-1235P", "x86_64"), Some("office_laptop"));
        assert_eq!(infer("Intel(R) Core(TM) i5-1035G1 CPU", "x86_64"), Some("office_laptop"));
        assert_eq!(infer("AMD Ryzen 5 5500U with Radeon Graphics", "x86_64"), Some("office_laptop"));
        assert_eq!(infer("AMD Ryzen 7 PRO 4750U", "x86_64"), Some("office_laptop"));
        assert_eq!(infer("Intel(R) N100", "x86_64"), Some("mini_pc"));
        assert_eq!(infer("Intel(R) Celeron(R) J4125 CPU @ 2.00GHz", "x86_64"), Some("mini_pc"));
        assert_eq!(infer("Intel(R) Pentium(R) Silver N5095", "x86_64"), Some("mini_pc"));
        assert_eq!(infer("Intel(R) Core(TM) i7-9700K CPU @ 3.60GHz", "x86_64"), Some("workstation"));
        assert_eq!(infer("AMD Ryzen 9 5950X 16-Core Processor", "x86_64"), Some("workstation"));
        assert_eq!(infer("Intel(R) Core(TM) i5-10400 CPU @ 2.90GHz", "x86_64"), Some("office_desktop"));
        assert_eq!(infer("AMD Ryzen 5 3600 6-Core Processor", "x86_64"), Some("office_desktop"));
        assert_eq!(infer("Intel(R) Core(TM)2 Duo CPU", "x86_64"), Some("office_desktop"));
        assert_eq!(infer("QEMU Virtual CPU version 2.5+", "x86_64"), None);
    }

    #[test]
    fn architecture_alone_decides_without_a_model() {
        assert_eq!(infer_category(None, Some("aarch64")), Some(MachineCategory::Sbc));
        assert_eq!(infer_category(Some(""), Some("ARM64")), Some(MachineCategory::Sbc));
        assert_eq!(infer_category(None, Some("x86_64")), None);
        assert_eq!(infer_category(None, None), None);
    }

    #[test]
    fn near_misses_are_not_mobile_parts() {
        // Six digits, or a suffix glued to more letters, is not v1's `i5-8250U\b`.
        assert!(!is_mobile("core i5-825000u"));
        assert!(!is_mobile("core i5-8250ux"));
        assert!(is_mobile("core i7-10510u cpu"));
    }

    #[test]
    fn user_wattage_wins_over_the_category() {
        let rack = power_range(Some("rack_server"), None, None);
        assert_eq!(rack, Some(PowerRange { idle_watts: 100, max_watts: 300 }));
        let tuned = power_range(Some("rack_server"), Some(80), Some(200));
        assert_eq!(tuned, Some(PowerRange { idle_watts: 80, max_watts: 200 }));
        assert_eq!(power_range(None, None, Some(65)), None, "no idle figure without a category");
        assert_eq!(power_range(None, Some(10), Some(65)), Some(PowerRange { idle_watts: 10, max_watts: 65 }));
        assert_eq!(power_range(Some("toaster"), None, None), None);
    }

    #[test]
    fn estimate_is_linear_in_load_and_clamped() {
        let range = PowerRange { idle_watts: 40, max_watts: 100 };
        assert_eq!(estimated_watts(range, 0.0), 40.0);
        assert_eq!(estimated_watts(range, 25.0), 55.0);
        assert_eq!(estimated_watts(range, 180.0), 100.0);
        assert_eq!(estimated_watts(range, -5.0), 40.0);
        // 55 W for a day is 1.32 kWh; at 0.24 that is 0.3168.
        assert_eq!(daily_cost(55.0, 0.24), 0.32);
        assert_eq!(monthly_cost(55.0, 0.24), 9.5);
    }

    #[test]
    fn fleet_sums_what_it_knows_and_counts_the_rest() {
        let known = estimate(Some("sbc"), None, None, Some(50.0), 0.24);
        assert_eq!(known.estimated_watts, Some(4.0));
        let unknown = estimate(None, None, None, Some(10.0), 0.24);
        assert_eq!(unknown.estimated_watts, None);
        let defaulted = estimate(Some("office_desktop"), None, None, None, 0.24);
        assert_eq!(defaulted.estimated_watts, Some(70.0), "no load reported: 50 %");
        let fleet = fleet_estimate([&known, &unknown, &defaulted], 0.24);
        assert_eq!(fleet.servers_included, 2);
        assert_eq!(fleet.servers_missing_config, 1);
        assert_eq!(fleet.total_estimated_watts, 74.0);
        assert_eq!(fleet.daily_cost, 0.43);
        assert_eq!(fleet.monthly_cost, 12.79);
    }

    #[test]
    fn cost_update_validates_and_merges() {
        let bad = CostSettingsUpdate { electricity_rate: Some(-1.0), currency_symbol: Some("x".repeat(11)) };
        let errors = bad.validate().expect_err("both fields are out of range");
        assert_eq!(errors.0.len(), 2);
        let update = CostSettingsUpdate { electricity_rate: Some(0.3), currency_symbol: None };
        assert_eq!(
            update.apply(CostSettings::default()),
            CostSettings { electricity_rate: 0.3, currency_symbol: "£".into() }
        );
    }
}
