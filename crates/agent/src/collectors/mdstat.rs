//! Linux software RAID from `/proc/mdstat`: each array's level, member counts, and whether it
//! is clean, degraded, rebuilding (a recovery, resync or reshape running) or inactive.

use homelab_core::inventory::RaidArrayReport;

use super::read_file;
use crate::error::CollectError;
use crate::root::SystemRoot;

/// Parses `/proc/mdstat`. An array is a line `mdN : active raid1 sdb1[1] sda1[0]` followed by
/// indented lines up to the next blank one; lines we do not understand are ignored.
pub fn parse_mdstat(text: &str) -> Vec<RaidArrayReport> {
    let mut arrays = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((name, rest)) = line.split_once(" : ") else { continue };
        let name = name.trim();
        if !name.starts_with("md") || name.contains(' ') {
            continue;
        }
        let mut detail = Vec::new();
        while let Some(next) = lines.peek() {
            if next.trim().is_empty() || !next.starts_with(char::is_whitespace) {
                break;
            }
            detail.push(lines.next().unwrap_or_default());
        }
        arrays.push(parse_array(name, rest, &detail));
    }
    arrays
}

fn parse_array(name: &str, header: &str, detail: &[&str]) -> RaidArrayReport {
    let words: Vec<&str> = header.split_whitespace().collect();
    let inactive = words.first() == Some(&"inactive");
    // `active`, then an optional `(auto-read-only)` or `(read-only)`, then the level.
    let level = if inactive {
        String::new()
    } else {
        words.iter().skip(1).find(|w| !w.starts_with('(')).map_or_else(String::new, |w| (*w).to_owned())
    };
    // Members are `sda1[0]`, with `(S)` for a spare and `(F)` for a failed one.
    let members: Vec<&str> = words.iter().copied().filter(|w| w.contains('[')).collect();
    let spares = members.iter().filter(|m| m.ends_with("(S)")).count();
    let failed = members.iter().filter(|m| m.ends_with("(F)")).count();
    // An inactive array lists every member as a spare; none of them works.
    let mut total = if inactive { members.len() } else { members.len().saturating_sub(spares) };
    let mut active = if inactive { 0 } else { total.saturating_sub(failed) };
    let mut missing_slot = false;
    let mut rebuild_percent = None;
    let mut rebuilding = false;
    for line in detail {
        // `[2/1] [U_]`: configured and working members, and which slots are missing.
        for token in line.split_whitespace() {
            if let Some(counts) = token.strip_prefix('[').and_then(|t| t.strip_suffix(']'))
                && let Some((want, have)) = counts.split_once('/')
                && let (Ok(want), Ok(have)) = (want.parse::<usize>(), have.parse::<usize>())
            {
                total = want;
                active = have;
            } else if token.starts_with('[') && token.ends_with(']') && token.bytes().all(|b| b"[]U_".contains(&b)) {
                missing_slot |= token.contains('_');
            }
        }
        let trimmed = line.trim_start();
        for operation in ["recovery", "resync", "reshape"] {
            if let Some(rest) = trimmed.strip_prefix(operation).or_else(|| after_progress_bar(trimmed, operation)) {
                let rest = rest.trim_start().trim_start_matches('=').trim_start();
                rebuilding = true;
                rebuild_percent = rest.split('%').next().and_then(|p| p.trim().parse::<f64>().ok());
            }
        }
    }
    let state = if inactive {
        "inactive"
    } else if rebuilding {
        "rebuilding"
    } else if active < total || missing_slot {
        "degraded"
    } else {
        "clean"
    };
    RaidArrayReport {
        name: super::truncate_chars(name, 64),
        level: super::truncate_chars(&level, 32),
        state: state.to_owned(),
        devices_total: i64::try_from(total).unwrap_or(i64::MAX),
        devices_active: i64::try_from(active).unwrap_or(i64::MAX),
        rebuild_percent: rebuild_percent.map(|p: f64| p.clamp(0.0, 100.0)),
    }
}

/// `[==>....]  recovery = 12.6% (…)`: the operation after the progress bar.
fn after_progress_bar<'a>(line: &'a str, operation: &str) -> Option<&'a str> {
    let (bar, rest) = line.split_once(']')?;
    bar.starts_with('[').then_some(())?;
    rest.trim_start().strip_prefix(operation)
}

/// `None` when the kernel has no md driver loaded (no `/proc/mdstat`), which is not a fault.
pub fn read_raid_arrays(root: &SystemRoot) -> Result<Option<Vec<RaidArrayReport>>, CollectError> {
    let path = root.proc.join("mdstat");
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(parse_mdstat(&read_file(&path)?)))
}
