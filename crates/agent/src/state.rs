//! The agent's persistent identity and crash-safe file writes.
//!
//! v1 generated a fresh GUID on every start when none was configured, so the hub answered 409
//! after the first restart. Here the GUID is generated once, written atomically to the state
//! directory, and read back ever after.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::config::is_guid;

/// The file in the state directory that holds the GUID.
pub const GUID_FILE: &str = "guid";

/// Why the persistent state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} does not hold a lower-case UUID v4; fix or remove it", path.display())]
    BadGuid { path: PathBuf },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_owned(), source }
}

/// The GUID stored in `state_dir`, creating the directory and the GUID on first use.
pub fn load_or_create_guid(state_dir: &Path) -> Result<String, StateError> {
    let path = state_dir.join(GUID_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let guid = text.trim().to_ascii_lowercase();
            if is_guid(&guid) { Ok(guid) } else { Err(StateError::BadGuid { path }) }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(state_dir).map_err(io_error(state_dir))?;
            let guid = new_guid().map_err(io_error(Path::new("/dev/urandom")))?;
            write_atomically(&path, format!("{guid}\n").as_bytes(), 0o644)?;
            Ok(guid)
        }
        Err(e) => Err(StateError::Io { path, source: e }),
    }
}

/// A random lower-case UUID v4 from the kernel's generator (no crate needed for 16 bytes).
pub fn new_guid() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
}

/// Writes `contents` to `path` so that a crash leaves either the old file or the new one, never
/// a torn one: a temporary file in the same directory, fsync'd, renamed over the target, and the
/// directory fsync'd so the rename itself survives a power cut.
pub fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), StateError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    // A leftover from a crash may have other permissions, which `mode` would not change.
    let _ = fs::remove_file(&tmp);
    let mut file =
        OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp).map_err(io_error(&tmp))?;
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(io_error(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_error(path))?;
    sync_dir(dir).map_err(io_error(dir))
}

/// Makes a directory's entries (a new or renamed file) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn guid_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("nested/state");
        let first = load_or_create_guid(&state).unwrap();
        assert!(is_guid(&first), "{first}");
        assert_eq!(load_or_create_guid(&state).unwrap(), first);
        assert_ne!(new_guid().unwrap(), first);
    }

    #[test]
    fn a_damaged_guid_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(GUID_FILE), "garbage").unwrap();
        assert!(matches!(load_or_create_guid(dir.path()), Err(StateError::BadGuid { .. })));
        assert_eq!(fs::read_to_string(dir.path().join(GUID_FILE)).unwrap(), "garbage");
    }

    #[test]
    fn atomic_write_sets_the_mode_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        write_atomically(&path, b"one", 0o600).unwrap();
        write_atomically(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
