//! Mounted file systems from `/proc/mounts` and their sizes from `statvfs`.
//!
//! Only file systems that hold data are reported: pseudo and memory-backed file systems and
//! anything mounted under the kernel's own trees are skipped, and a device mounted several
//! times (bind mounts, btrfs subvolumes) is reported once, at its shortest mount point.
//! Sizes go through [`FsStats`] so tests can fake them.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use homelab_core::heartbeat::FilesystemReport;

use super::{read_file, round_to, saturating_i64, truncate_chars};
use crate::error::CollectError;
use crate::root::SystemRoot;

/// File-system types that hold no user data (kernel interfaces, RAM, container layers,
/// read-only images). `cgroup*` is matched by prefix.
pub const PSEUDO_FILESYSTEMS: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "configfs",
    "debugfs",
    "devfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "erofs",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
    "fuse.portal",
    "fuse.snapfuse",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nfsd",
    "nsfs",
    "overlay",
    "proc",
    "pstore",
    "ramfs",
    "rootfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
];

/// Mount points below these belong to the kernel, devices, runtime state or snap images.
pub const HIDDEN_MOUNT_PREFIXES: &[&str] = &["/sys", "/proc", "/dev", "/run", "/snap"];

/// How long one `statvfs` may take. A local disk answers in microseconds; an NFS or SMB share
/// whose server is asleep can block forever, and must not stall the heartbeat.
pub const STATVFS_TIMEOUT: Duration = Duration::from_secs(2);

/// One line of `/proc/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub device: String,
    pub mount_point: String,
    pub fs_type: String,
}

/// Parses `/proc/mounts` (or `/etc/mtab`), decoding the octal escapes the kernel uses for
/// spaces, tabs, newlines and backslashes in paths (`/media/My\040Disk`).
pub fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            Some(MountEntry {
                device: unescape_octal(fields.next()?),
                mount_point: unescape_octal(fields.next()?),
                fs_type: unescape_octal(fields.next()?),
            })
        })
        .collect()
}

fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes.get(i + 1..i + 4).filter(|digits| {
            bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)) && digits[0] <= b'3'
        });
        match escape {
            Some(digits) => {
                out.push(digits.iter().fold(0u8, |acc, d| acc * 8 + (d - b'0')));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a file-system type holds no user data.
pub fn is_pseudo_filesystem(fs_type: &str) -> bool {
    fs_type.starts_with("cgroup") || PSEUDO_FILESYSTEMS.contains(&fs_type)
}

/// Whether a mount point lies in one of the [`HIDDEN_MOUNT_PREFIXES`] trees (the prefix itself
/// included, but `/devices` or `/running` are not inside `/dev` or `/run`).
pub fn is_hidden_mount_point(mount_point: &str) -> bool {
    HIDDEN_MOUNT_PREFIXES
        .iter()
        .any(|prefix| mount_point.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// The mounts worth reporting: real file systems outside the hidden trees, one per device at its
/// shortest mount point (ties go to the alphabetically first), sorted by mount point.
pub fn select_mounts(entries: Vec<MountEntry>) -> Vec<MountEntry> {
    let mut by_device: HashMap<String, MountEntry> = HashMap::new();
    for entry in entries {
        if is_pseudo_filesystem(&entry.fs_type) || is_hidden_mount_point(&entry.mount_point) {
            continue;
        }
        let better = by_device.get(&entry.device).is_none_or(|kept| {
            (entry.mount_point.len(), &entry.mount_point) < (kept.mount_point.len(), &kept.mount_point)
        });
        if better {
            by_device.insert(entry.device.clone(), entry);
        }
    }
    let mut selected: Vec<MountEntry> = by_device.into_values().collect();
    selected.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    selected
}

/// Sizes of one file system in bytes, as `df` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FsUsage {
    pub total_bytes: u64,
    /// Blocks in use (total − free).
    pub used_bytes: u64,
    /// Blocks an unprivileged user may still write; smaller than free by the root reserve.
    pub available_bytes: u64,
}

impl FsUsage {
    /// Used share of the space a user can have, `used / (used + available)`, rounded to 1 dp:
    /// `df`'s and psutil's definition, so a disk is 100 % full when users can write nothing,
    /// even though the root reserve is still free.
    pub fn percent(&self) -> f64 {
        let usable = self.used_bytes.saturating_add(self.available_bytes);
        if usable == 0 {
            return 0.0;
        }
        round_to(self.used_bytes as f64 / usable as f64 * 100.0, 1)
    }
}

/// Measures a mounted file system; a trait so tests need no real mounts.
pub trait FsStats: Send + Sync {
    /// `mount` is the `/proc/mounts` entry; `path` is its mount point resolved below the
    /// [`SystemRoot`] (the same path on a normal host).
    fn usage(&self, mount: &MountEntry, path: &Path) -> io::Result<FsUsage>;
}

/// The real [`FsStats`]: `statvfs(3)` on a helper thread with a [`STATVFS_TIMEOUT`].
///
/// A thread stuck on a dead network mount is left behind rather than killed (that cannot be
/// done), and the mount is skipped until it returns, so a dead share costs one thread, not one
/// per heartbeat.
#[derive(Debug, Clone)]
pub struct Statvfs {
    timeout: Duration,
    hanging: Arc<Mutex<HashSet<PathBuf>>>,
}

impl Statvfs {
    /// Waits at most [`STATVFS_TIMEOUT`] per mount.
    pub fn new() -> Self {
        Self::with_timeout(STATVFS_TIMEOUT)
    }

    /// A different wait per mount, for machines whose shares are known to be slow (or tests).
    pub fn with_timeout(timeout: Duration) -> Self {
        Statvfs { timeout, hanging: Arc::default() }
    }
}

impl Default for Statvfs {
    fn default() -> Self {
        Self::new()
    }
}

impl FsStats for Statvfs {
    fn usage(&self, _mount: &MountEntry, path: &Path) -> io::Result<FsUsage> {
        let path = path.to_path_buf();
        {
            let mut hanging = self.hanging.lock().unwrap_or_else(PoisonError::into_inner);
            if !hanging.insert(path.clone()) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "an earlier size query is still waiting for an answer",
                ));
            }
        }
        let (sender, receiver) = mpsc::channel();
        let hanging = Arc::clone(&self.hanging);
        let query = path.clone();
        let spawned = thread::Builder::new().name("statvfs".into()).spawn(move || {
            let result = statvfs(&query);
            hanging.lock().unwrap_or_else(PoisonError::into_inner).remove(&query);
            let _ = sender.send(result);
        });
        if let Err(e) = spawned {
            self.hanging.lock().unwrap_or_else(PoisonError::into_inner).remove(&path);
            return Err(e);
        }
        receiver.recv_timeout(self.timeout).unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {} s (unreachable network share?)", self.timeout.as_secs_f64()),
            ))
        })
    }
}

// The 64-bit variant on 32-bit glibc (Raspberry Pi OS armhf), where plain `statvfs` fails with
// EOVERFLOW on disks over 16 TiB; elsewhere `statvfs` is already 64-bit.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
use libc::statvfs as raw_statvfs;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
use libc::statvfs64 as raw_statvfs;

/// Calls `statvfs(3)` on `path`.
pub fn statvfs(path: &Path) -> io::Result<FsUsage> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut buf = MaybeUninit::<raw_statvfs>::zeroed();
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call, and `buf` is a
    // writable buffer of exactly the struct type the function fills in.
    let rc = unsafe { raw_statvfs(c_path.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the call succeeded, so the kernel filled the struct (and it was zeroed before).
    let s = unsafe { buf.assume_init() };
    // The field types differ between targets (u32 or u64); widening is lossless everywhere.
    #[allow(clippy::useless_conversion)]
    let (frsize, bsize, blocks, bfree, bavail) = (
        u64::from(s.f_frsize),
        u64::from(s.f_bsize),
        u64::from(s.f_blocks),
        u64::from(s.f_bfree),
        u64::from(s.f_bavail),
    );
    let unit = if frsize > 0 { frsize } else { bsize };
    Ok(FsUsage {
        total_bytes: blocks.saturating_mul(unit),
        used_bytes: blocks.saturating_sub(bfree).saturating_mul(unit),
        available_bytes: bavail.saturating_mul(unit),
    })
}

/// Builds the wire report for one file system, within the hub's length limits.
pub fn filesystem_report(mount: &MountEntry, usage: &FsUsage) -> FilesystemReport {
    FilesystemReport {
        mount_point: truncate_chars(&mount.mount_point, 255),
        device: truncate_chars(&mount.device, 255),
        fs_type: truncate_chars(&mount.fs_type, 50),
        total_bytes: saturating_i64(usage.total_bytes),
        used_bytes: saturating_i64(usage.used_bytes),
        available_bytes: saturating_i64(usage.available_bytes),
        percent: usage.percent(),
    }
}

/// The root disk figures of `Metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RootDisk {
    pub percent: f64,
    /// GiB (2^30 bytes) rounded to 2 dp, though named GB: what v1 sent
    /// (`psutil.disk_usage('/').total / 1024**3`), so history stays comparable.
    pub total_gb: f64,
    pub used_gb: f64,
}

impl From<&FsUsage> for RootDisk {
    fn from(usage: &FsUsage) -> Self {
        const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
        RootDisk {
            percent: usage.percent(),
            total_gb: round_to(usage.total_bytes as f64 / GIB, 2),
            used_gb: round_to(usage.used_bytes as f64 / GIB, 2),
        }
    }
}

/// What [`read_filesystems`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filesystems {
    pub reports: Vec<FilesystemReport>,
    /// The root file system, also when it is not reported (an overlay root inside a container).
    pub root: Option<FsUsage>,
    /// Mounts that could not be measured, with the reason; the rest are still reported.
    pub failures: Vec<String>,
}

/// Reads `/proc/mounts` and measures every selected mount. Mounts with a zero size (pseudo
/// file systems not in our list) are dropped.
pub fn read_filesystems(root: &SystemRoot, stats: &dyn FsStats) -> Result<Filesystems, CollectError> {
    let mounts = select_mounts(parse_mounts(&read_file(&root.proc.join("mounts"))?));
    let mut found = Filesystems::default();
    for mount in &mounts {
        match stats.usage(mount, &root.resolve(&mount.mount_point)) {
            Ok(usage) if usage.total_bytes == 0 => {}
            Ok(usage) => {
                if mount.mount_point == "/" {
                    found.root = Some(usage);
                }
                found.reports.push(filesystem_report(mount, &usage));
            }
            Err(e) => found.failures.push(format!("{} ({}): {e}", mount.mount_point, mount.device)),
        }
    }
    if found.root.is_none() {
        let root_mount = MountEntry { device: String::new(), mount_point: "/".into(), fs_type: String::new() };
        match stats.usage(&root_mount, &root.resolve("/")) {
            Ok(usage) => found.root = Some(usage),
            Err(e) => found.failures.push(format!("/: {e}")),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(device: &str, mount_point: &str, fs_type: &str) -> MountEntry {
        MountEntry { device: device.into(), mount_point: mount_point.into(), fs_type: fs_type.into() }
    }

    #[test]
    fn mounts_are_parsed_and_unescaped() {
        let mounts = parse_mounts(
            "/dev/vda / ext4 rw,relatime 0 0\n\
             /dev/sdb1 /media/pi/My\\040Passport exfat rw 0 0\n\
             //nas/share /mnt/back\\134slash\\011tab cifs rw 0 0\n\
             short line\n",
        );
        assert_eq!(
            mounts,
            [
                mount("/dev/vda", "/", "ext4"),
                mount("/dev/sdb1", "/media/pi/My Passport", "exfat"),
                mount("//nas/share", "/mnt/back\\slash\ttab", "cifs"),
            ]
        );
    }

    #[test]
    fn malformed_escapes_are_kept_verbatim() {
        assert_eq!(unescape_octal("a\\04"), "a\\04");
        assert_eq!(unescape_octal("a\\9999"), "a\\9999");
        assert_eq!(unescape_octal("a\\777b"), "a\\777b");
        assert_eq!(unescape_octal("trailing\\"), "trailing\\");
    }

    #[test]
    fn pseudo_filesystems_and_hidden_trees() {
        for fs in ["tmpfs", "overlay", "cgroup", "cgroup2", "squashfs", "fuse.lxcfs", "nsfs"] {
            assert!(is_pseudo_filesystem(fs), "{fs}");
        }
        for fs in ["ext4", "xfs", "btrfs", "zfs", "vfat", "nfs4", "cifs", "fuse.mergerfs", "fuse.sshfs"] {
            assert!(!is_pseudo_filesystem(fs), "{fs}");
        }
        for mp in ["/sys", "/proc/sys/fs/binfmt_misc", "/dev/shm", "/run", "/run/user/1000", "/snap/core/1"] {
            assert!(is_hidden_mount_point(mp), "{mp}");
        }
        for mp in ["/", "/devices", "/running", "/srv/snapshots", "/mnt/proc"] {
            assert!(!is_hidden_mount_point(mp), "{mp}");
        }
    }

    #[test]
    fn each_device_once_at_its_shortest_mount_point() {
        let selected = select_mounts(vec![
            mount("/dev/sda1", "/srv/nextcloud/data", "ext4"),
            mount("/dev/mmcblk0p2", "/", "ext4"),
            mount("tmpfs", "/var/log", "tmpfs"),
            mount("/dev/sda1", "/mnt/usb", "ext4"),
            mount("/dev/mmcblk0p2", "/srv/www", "ext4"),
            mount("/dev/sdb1", "/mnt/b", "ext4"),
            mount("/dev/sdb1", "/mnt/a", "ext4"),
            mount("proc", "/proc", "proc"),
            mount("/dev/sdc1", "/run/media/usb", "ext4"),
        ]);
        assert_eq!(
            selected,
            [
                mount("/dev/mmcblk0p2", "/", "ext4"),
                mount("/dev/sdb1", "/mnt/a", "ext4"),
                mount("/dev/sda1", "/mnt/usb", "ext4"),
            ]
        );
    }

    #[test]
    fn percent_is_like_df() {
        let usage = FsUsage { total_bytes: 1000, used_bytes: 600, available_bytes: 350 };
        // 600 / (600 + 350) = 63.157…
        assert_eq!(usage.percent(), 63.2);
        assert_eq!(FsUsage::default().percent(), 0.0);
        let full = FsUsage { total_bytes: 1000, used_bytes: 950, available_bytes: 0 };
        assert_eq!(full.percent(), 100.0);
    }

    #[test]
    fn root_disk_in_gib() {
        let disk = RootDisk::from(&FsUsage {
            total_bytes: 31_376_707_584,
            used_bytes: 7_146_692_608,
            available_bytes: 22_611_410_944,
        });
        assert_eq!(disk.total_gb, 29.22);
        assert_eq!(disk.used_gb, 6.66);
        assert_eq!(disk.percent, 24.0);
    }

    #[test]
    fn real_statvfs_on_the_root() {
        let usage = Statvfs::new().usage(&mount("", "/", ""), Path::new("/")).unwrap();
        assert!(usage.total_bytes > 0);
        assert!(usage.used_bytes <= usage.total_bytes);
        assert!(usage.available_bytes <= usage.total_bytes);
        let missing = Statvfs::new().usage(&mount("", "/x", ""), Path::new("/homelabcmd/does/not/exist"));
        assert_eq!(missing.unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
