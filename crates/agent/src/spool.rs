//! The spool: heartbeats the hub has not acknowledged yet, kept on disk so that neither a hub
//! outage nor an agent restart leaves a gap in history.
//!
//! Layout: one file per heartbeat in a directory, named `<sequence>-<created ms>.json` with a
//! zero-padded, monotonically increasing sequence, so the directory listing sorted by name is
//! the replay order and the age is known without reading the file. A file is written under a
//! temporary name, fsync'd, renamed and the directory fsync'd, so after a crash an entry is
//! either complete or absent (leftover temporary files are removed on open). An entry is deleted
//! only after the hub acknowledged it; a crash between the two replays it once more, which the
//! hub tolerates because samples are upserted by (series, timestamp).
//!
//! Bounds: total size and age. When a new entry would exceed the size, or entries are older
//! than the age, the oldest are dropped first and reported to the caller, who logs them.

use std::collections::VecDeque;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::state::sync_dir;

/// Where heartbeats the hub kept failing on are set aside, inside the spool directory (which
/// `open` does not replay: only files named like entries are).
pub const DEAD_LETTER_DIR: &str = "dead-letter";

/// How many heartbeats are set aside in the spool at `dir` (for `homelabcmd-agent check`).
pub fn dead_letter_count(dir: &Path) -> usize {
    fs::read_dir(dir.join(DEAD_LETTER_DIR))
        .map(|items| {
            items.filter_map(Result::ok).filter(|i| parse_name(&i.file_name().to_string_lossy()).is_some()).count()
        })
        .unwrap_or(0)
}

/// Bounds of the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolLimits {
    /// Total bytes of all entries.
    pub max_bytes: u64,
    /// Entries older than this are dropped.
    pub max_age: Duration,
}

/// One spooled heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Replay order.
    pub seq: u64,
    /// When it was spooled, ms since the epoch.
    pub created_ms: i64,
    /// Size of the file.
    pub len: u64,
}

/// Why entries were thrown away without being delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The spool would have grown past `max_bytes`.
    Size,
    /// Older than `max_age`.
    Age,
    /// The file could not be read back (damaged or removed by hand).
    Unreadable,
}

/// Entries dropped in one operation, summarised for one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub reason: DropReason,
    pub count: usize,
    /// `created_ms` of the oldest and newest entry dropped.
    pub oldest_ms: i64,
    pub newest_ms: i64,
}

impl Dropped {
    /// Adds one dropped entry (dropped oldest first) to the running summary in `summary`.
    fn record(summary: &mut Option<Dropped>, reason: DropReason, created_ms: i64) {
        let d = summary.get_or_insert(Dropped { reason, count: 0, oldest_ms: created_ms, newest_ms: created_ms });
        d.count += 1;
        d.newest_ms = created_ms;
    }
}

/// A failure of the spool directory itself (full disk, permissions).
#[derive(Debug, thiserror::Error)]
#[error("spool {}: {source}", path.display())]
pub struct SpoolError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

fn spool_error(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError { path: path.to_owned(), source }
}

/// A bounded, crash-safe, first-in first-out queue of heartbeat bodies on disk.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
    entries: VecDeque<Entry>,
    bytes: u64,
    next_seq: u64,
}

/// Milliseconds since the epoch; a clock before 1970 counts as 0.
pub fn epoch_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn file_name(entry: &Entry) -> String {
    format!("{:020}-{}.json", entry.seq, entry.created_ms)
}

fn parse_name(name: &str) -> Option<(u64, i64)> {
    let stem = name.strip_suffix(".json")?;
    let (seq, created) = stem.split_once('-')?;
    Some((seq.parse().ok()?, created.parse().ok()?))
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir` and picks up what a previous run left.
    pub fn open(dir: &Path, limits: SpoolLimits) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(spool_error(dir))?;
        let mut entries = Vec::new();
        for item in fs::read_dir(dir).map_err(spool_error(dir))? {
            let item = item.map_err(spool_error(dir))?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                // Interrupted before its rename: it was never acknowledged as spooled.
                let _ = fs::remove_file(item.path());
                continue;
            }
            let Some((seq, created_ms)) = parse_name(&name) else { continue };
            let len = item.metadata().map_err(spool_error(&item.path()))?.len();
            entries.push(Entry { seq, created_ms, len });
        }
        entries.sort_by_key(|e| e.seq);
        let next_seq = entries.last().map_or(1, |e| e.seq + 1);
        let bytes = entries.iter().map(|e| e.len).sum();
        Ok(Spool { dir: dir.to_owned(), limits, entries: entries.into(), bytes, next_seq })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total size of the entries.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The next entry to replay.
    pub fn front(&self) -> Option<Entry> {
        self.entries.front().copied()
    }

    fn path_of(&self, entry: &Entry) -> PathBuf {
        self.dir.join(file_name(entry))
    }

    /// Appends `body` durably, first dropping the oldest entries that are too old or that would
    /// push the total past the size bound. A body larger than the whole bound is dropped itself.
    pub fn push(&mut self, body: &[u8], now: SystemTime) -> Result<Vec<Dropped>, SpoolError> {
        let mut dropped = self.prune(now);
        let len = body.len() as u64;
        let created_ms = epoch_ms(now);
        if len > self.limits.max_bytes {
            dropped.push(Dropped { reason: DropReason::Size, count: 1, oldest_ms: created_ms, newest_ms: created_ms });
            return Ok(dropped);
        }
        let mut by_size: Option<Dropped> = None;
        while self.bytes + len > self.limits.max_bytes {
            let Some(oldest) = self.remove_front()? else { break };
            Dropped::record(&mut by_size, DropReason::Size, oldest.created_ms);
        }
        dropped.extend(by_size);

        let entry = Entry { seq: self.next_seq, created_ms, len };
        let path = self.path_of(&entry);
        let tmp = self.dir.join(format!(".{}.tmp", entry.seq));
        let mut file =
            OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).map_err(spool_error(&tmp))?;
        if let Err(e) = file.write_all(body).and_then(|()| file.sync_all()) {
            drop(file);
            let _ = fs::remove_file(&tmp);
            return Err(SpoolError { path: tmp, source: e });
        }
        drop(file);
        fs::rename(&tmp, &path).map_err(spool_error(&path))?;
        sync_dir(&self.dir).map_err(spool_error(&self.dir))?;
        self.next_seq += 1;
        self.bytes += len;
        self.entries.push_back(entry);
        Ok(dropped)
    }

    /// Drops entries older than the age bound (oldest first).
    pub fn prune(&mut self, now: SystemTime) -> Vec<Dropped> {
        let max_age_ms = i64::try_from(self.limits.max_age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = epoch_ms(now).saturating_sub(max_age_ms);
        let mut by_age: Option<Dropped> = None;
        while let Some(front) = self.front().filter(|e| e.created_ms < cutoff) {
            // A failed unlink leaves the file for the next open; forget it now either way so a
            // read-only spool cannot stall the agent.
            let _ = fs::remove_file(self.path_of(&front));
            self.forget_front();
            Dropped::record(&mut by_age, DropReason::Age, front.created_ms);
        }
        by_age.into_iter().collect()
    }

    /// Reads an entry's body back.
    pub fn read(&self, entry: &Entry) -> io::Result<Vec<u8>> {
        fs::read(self.path_of(entry))
    }

    /// Removes the oldest entry, after the hub acknowledged it (or it was rejected for good).
    pub fn pop_front(&mut self) -> Result<Option<Entry>, SpoolError> {
        self.remove_front()
    }

    /// Moves the oldest entry into [`DEAD_LETTER_DIR`], out of the replay order, and returns
    /// where it now is: the hub keeps failing on it while it takes others, so it must not hold
    /// back newer heartbeats, yet it is kept for a person to look at (or send again by hand).
    pub fn set_aside_front(&mut self) -> Result<Option<PathBuf>, SpoolError> {
        let Some(front) = self.front() else { return Ok(None) };
        let aside = self.dir.join(DEAD_LETTER_DIR);
        fs::create_dir_all(&aside).map_err(spool_error(&aside))?;
        let target = aside.join(file_name(&front));
        fs::rename(self.path_of(&front), &target).map_err(spool_error(&target))?;
        sync_dir(&self.dir).map_err(spool_error(&self.dir))?;
        self.forget_front();
        Ok(Some(target))
    }

    fn remove_front(&mut self) -> Result<Option<Entry>, SpoolError> {
        let Some(front) = self.front() else { return Ok(None) };
        let path = self.path_of(&front);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(SpoolError { path, source: e }),
        }
        self.forget_front();
        Ok(Some(front))
    }

    fn forget_front(&mut self) {
        if let Some(front) = self.entries.pop_front() {
            self.bytes = self.bytes.saturating_sub(front.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SpoolLimits = SpoolLimits { max_bytes: 1000, max_age: Duration::from_secs(3600) };

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn drain(spool: &mut Spool) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(entry) = spool.front() {
            out.push(String::from_utf8(spool.read(&entry).unwrap()).unwrap());
            spool.pop_front().unwrap();
        }
        out
    }

    #[test]
    fn first_in_first_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), LIMITS).unwrap();
        assert!(spool.is_empty());
        for i in 0..12 {
            assert_eq!(spool.push(format!("hb{i}").as_bytes(), at(i)).unwrap(), vec![]);
        }
        assert_eq!(spool.len(), 12);
        assert_eq!(spool.bytes(), 3 * 10 + 4 * 2);
        assert_eq!(drain(&mut spool), (0..12).map(|i| format!("hb{i}")).collect::<Vec<_>>());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn survives_reopen_in_order_and_keeps_counting() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut spool = Spool::open(dir.path(), LIMITS).unwrap();
            for i in 0..5 {
                spool.push(format!("hb{i}").as_bytes(), at(i)).unwrap();
            }
            spool.pop_front().unwrap();
        }
        // A write interrupted by a crash before its rename.
        fs::write(dir.path().join(".99.tmp"), "torn").unwrap();
        let mut spool = Spool::open(dir.path(), LIMITS).unwrap();
        assert_eq!(spool.len(), 4);
        assert!(!dir.path().join(".99.tmp").exists());
        spool.push(b"hb5", at(5)).unwrap();
        assert_eq!(spool.front().map(|e| e.seq), Some(2));
        assert_eq!(drain(&mut spool), vec!["hb1", "hb2", "hb3", "hb4", "hb5"]);
    }

    #[test]
    fn sequence_order_survives_more_than_nine_entries_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), LIMITS).unwrap();
        for i in 0..25 {
            spool.push(format!("{i}").as_bytes(), at(0)).unwrap();
        }
        drop(spool);
        let mut spool = Spool::open(dir.path(), LIMITS).unwrap();
        assert_eq!(drain(&mut spool), (0..25).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn size_bound_drops_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), SpoolLimits { max_bytes: 30, ..LIMITS }).unwrap();
        for i in 0..3 {
            assert!(spool.push(format!("entry-{i}-xx").as_bytes(), at(i)).unwrap().is_empty());
        }
        assert_eq!(spool.bytes(), 30);
        let dropped = spool.push(b"entry-3-xxxxxxxxxxx", at(3)).unwrap();
        assert_eq!(
            dropped,
            vec![Dropped {
                reason: DropReason::Size,
                count: 2,
                oldest_ms: epoch_ms(at(0)),
                newest_ms: epoch_ms(at(1))
            }]
        );
        assert_eq!(drain(&mut spool), vec!["entry-2-xx", "entry-3-xxxxxxxxxxx"]);
        let dropped = spool.push(&[b'x'; 31], at(4)).unwrap();
        assert_eq!(dropped[0].reason, DropReason::Size);
        assert!(spool.is_empty(), "a body larger than the bound is not kept");
    }

    #[test]
    fn age_bound_drops_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), LIMITS).unwrap();
        spool.push(b"old-1", at(0)).unwrap();
        spool.push(b"old-2", at(10)).unwrap();
        spool.push(b"recent", at(3000)).unwrap();
        let dropped = spool.push(b"new", at(3605)).unwrap();
        assert_eq!(
            dropped,
            vec![Dropped { reason: DropReason::Age, count: 1, oldest_ms: epoch_ms(at(0)), newest_ms: epoch_ms(at(0)) }]
        );
        assert_eq!(spool.prune(at(3700)).len(), 1);
        assert_eq!(drain(&mut spool), vec!["recent", "new"]);
    }

    #[test]
    fn ignores_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("README"), "not an entry").unwrap();
        let mut spool = Spool::open(dir.path(), LIMITS).unwrap();
        assert!(spool.is_empty());
        spool.push(b"a", at(0)).unwrap();
        assert_eq!(Spool::open(dir.path(), LIMITS).unwrap().len(), 1);
    }
}
