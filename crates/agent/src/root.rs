//! Where the collectors look for the machine's kernel interfaces and configuration.

use std::path::{Path, PathBuf};

/// The directories the collectors read, injected so that tests can point them at fixture trees
/// and so that a containerised hub can read the host's `/proc` and `/sys` mounted elsewhere
/// (for example `SystemRoot::under("/host")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRoot {
    /// The file-system root: container markers (`/.dockerenv`), `/usr/lib/os-release`, and the
    /// prefix put before every mount point when measuring its size.
    pub root: PathBuf,
    /// Usually `/proc`.
    pub proc: PathBuf,
    /// Usually `/sys`.
    pub sys: PathBuf,
    /// Usually `/etc`.
    pub etc: PathBuf,
    /// Usually `/var/run` (a link to `/run` on current distributions): `reboot-required`,
    /// `systemd/system` and `.containerenv` live there.
    pub run: PathBuf,
}

impl SystemRoot {
    /// The running machine's own directories.
    pub fn host() -> Self {
        Self::under("/")
    }

    /// A whole tree below `base`, laid out like a real root (`base/proc`, `base/sys`, `base/etc`,
    /// `base/var/run`); fixture trees and host bind mounts both look like this.
    pub fn under(base: impl AsRef<Path>) -> Self {
        let base = base.as_ref();
        SystemRoot {
            root: base.to_path_buf(),
            proc: base.join("proc"),
            sys: base.join("sys"),
            etc: base.join("etc"),
            run: base.join("var/run"),
        }
    }

    /// Maps an absolute path as the machine sees it (a mount point, say) into this tree.
    pub fn resolve(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }
}

impl Default for SystemRoot {
    fn default() -> Self {
        Self::host()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_are_the_usual_ones() {
        let root = SystemRoot::host();
        assert_eq!(root.proc, Path::new("/proc"));
        assert_eq!(root.sys, Path::new("/sys"));
        assert_eq!(root.etc, Path::new("/etc"));
        assert_eq!(root.run, Path::new("/var/run"));
        assert_eq!(root.resolve("/"), Path::new("/"));
        assert_eq!(root.resolve("/mnt/data"), Path::new("/mnt/data"));
    }

    #[test]
    fn a_tree_below_a_base_keeps_the_layout() {
        let root = SystemRoot::under("/host");
        assert_eq!(root.proc, Path::new("/host/proc"));
        assert_eq!(root.run, Path::new("/host/var/run"));
        assert_eq!(root.resolve("/"), Path::new("/host/"));
        assert_eq!(root.resolve("/srv/media"), Path::new("/host/srv/media"));
    }
}
