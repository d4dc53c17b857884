//! ZFS pool health from `zpool list -H -p -o name,health,size,alloc` (tab-separated, exact
//! byte counts).

use homelab_core::inventory::{ZFS_HEALTH, ZfsPoolReport};

/// The `zpool` invocation, as run.
pub const ZPOOL_ARGS: [&str; 5] = ["list", "-H", "-p", "-o", "name,health,size,alloc"];

/// One pool per line; a size of `-` (an unavailable pool) is absent. A health outside the
/// documented set (`SUSPENDED`) counts as `UNAVAIL`: the pool cannot be used either way.
pub fn parse_zpool_list(text: &str) -> Vec<ZfsPoolReport> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next()?.trim();
            if name.is_empty() {
                return None;
            }
            let health = fields.next()?.trim().to_ascii_uppercase();
            let health = ZFS_HEALTH.iter().find(|h| **h == health).copied().unwrap_or("UNAVAIL");
            let mut number = || fields.next().and_then(|v| v.trim().parse::<i64>().ok()).filter(|v| *v >= 0);
            Some(ZfsPoolReport {
                name: super::truncate_chars(name, 255),
                health: health.to_owned(),
                size_bytes: number(),
                allocated_bytes: number(),
            })
        })
        .collect()
}
