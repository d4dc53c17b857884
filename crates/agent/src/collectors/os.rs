//! Distribution, kernel, architecture and host name.

use std::collections::HashMap;

use homelab_core::heartbeat::OsInfo;

use super::{read_file, truncate_chars};
use crate::error::CollectError;
use crate::root::SystemRoot;

/// Parses `os-release(5)`: `KEY=value` lines whose values may be bare, single-quoted, or
/// double-quoted with backslash escapes. Comments and malformed lines are ignored.
pub fn parse_os_release(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            (!key.is_empty()).then(|| (key.to_owned(), unquote(value.trim())))
        })
        .collect()
}

fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_owned();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('"' | '\\' | '$' | '`'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Distribution and version from parsed os-release: `NAME` and `VERSION_ID` as v1 sent them,
/// falling back to `PRETTY_NAME` and `ID` (rolling distributions such as Arch have no version).
pub fn distribution_and_version(release: &HashMap<String, String>) -> (Option<String>, Option<String>) {
    let get = |key: &str| release.get(key).filter(|v| !v.is_empty()).cloned();
    let distribution = get("NAME").or_else(|| get("PRETTY_NAME")).or_else(|| get("ID"));
    (distribution, get("VERSION_ID"))
}

/// `uname -m` style name for the architecture this binary was built for, used when the kernel
/// does not say (`/proc/sys/kernel/arch` is recent). 32-bit ARM is assumed to be ARMv7, the
/// only 32-bit ARM we build for.
pub fn uname_architecture(rust_arch: &str) -> &str {
    match rust_arch {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loongarch64",
        other => other,
    }
}

/// Reads the OS description. Each part is independent: a missing os-release still leaves the
/// kernel and architecture.
pub fn read_os_info(root: &SystemRoot) -> Result<OsInfo, CollectError> {
    let kernel = read_trimmed(root, "sys/kernel/osrelease");
    let architecture =
        read_trimmed(root, "sys/kernel/arch").unwrap_or_else(|| uname_architecture(std::env::consts::ARCH).to_owned());
    // os-release(5): /etc/os-release, falling back to /usr/lib/os-release.
    let release = read_file(&root.etc.join("os-release")).or_else(|_| read_file(&root.root.join("usr/lib/os-release")));
    let (distribution, version) = match release {
        Ok(text) => distribution_and_version(&parse_os_release(&text)),
        // Nothing readable at all: report the failure rather than an almost empty description.
        Err(e) if kernel.is_none() => return Err(e),
        Err(_) => (None, None),
    };
    Ok(OsInfo {
        distribution: distribution.map(|d| truncate_chars(&d, 100)),
        version: version.map(|v| truncate_chars(&v, 100)),
        kernel: kernel.map(|k| truncate_chars(&k, 100)),
        architecture: Some(truncate_chars(&architecture, 20)),
    })
}

/// The machine's host name (`/proc/sys/kernel/hostname`, what `hostname` prints), for identity.
pub fn read_hostname(root: &SystemRoot) -> Result<String, CollectError> {
    let path = root.proc.join("sys/kernel/hostname");
    let name = read_file(&path)?.trim().to_owned();
    if name.is_empty() {
        return Err(CollectError::parse(path.display().to_string(), "empty host name"));
    }
    Ok(name)
}

/// A suggested `server_id` for a host name: the first label, lower-cased, with anything outside
/// `[a-z0-9-]` replaced by `-`. v1 sent the raw host name, which the hub rejected with 422 when
/// it contained upper case or dots.
pub fn server_id_from_hostname(hostname: &str) -> String {
    let label = hostname.split('.').next().unwrap_or(hostname);
    let slug: String = label
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-') => c,
            _ => '-',
        })
        .take(100)
        .collect();
    if slug.is_empty() { "server".to_owned() } else { slug }
}

fn read_trimmed(root: &SystemRoot, relative: &str) -> Option<String> {
    let text = read_file(&root.proc.join(relative)).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_quoting() {
        let release = parse_os_release(
            "# comment\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
             VERSION_ID=\"12\"\nID=debian\nSINGLE='it''s'\nESCAPED=\"say \\\"hi\\\" \\\\ \\$HOME\"\nnonsense\n",
        );
        assert_eq!(release["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(release["NAME"], "Debian GNU/Linux");
        assert_eq!(release["VERSION_ID"], "12");
        assert_eq!(release["ID"], "debian");
        assert_eq!(release["SINGLE"], "it''s");
        assert_eq!(release["ESCAPED"], "say \"hi\" \\ $HOME");
        assert_eq!(release.len(), 6);
    }

    #[test]
    fn distribution_fallbacks() {
        let release = parse_os_release("NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n");
        assert_eq!(distribution_and_version(&release), (Some("Debian GNU/Linux".into()), Some("12".into())));
        let arch = parse_os_release("PRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n");
        assert_eq!(distribution_and_version(&arch), (Some("Arch Linux".into()), None));
        let bare = parse_os_release("ID=alpine\nVERSION_ID=3.20.1\n");
        assert_eq!(distribution_and_version(&bare), (Some("alpine".into()), Some("3.20.1".into())));
        assert_eq!(distribution_and_version(&HashMap::new()), (None, None));
    }

    #[test]
    fn architectures_in_uname_style() {
        assert_eq!(uname_architecture("x86_64"), "x86_64");
        assert_eq!(uname_architecture("aarch64"), "aarch64");
        assert_eq!(uname_architecture("arm"), "armv7l");
        assert_eq!(uname_architecture("x86"), "i686");
        assert_eq!(uname_architecture("riscv64"), "riscv64");
    }

    #[test]
    fn server_ids_from_host_names() {
        assert_eq!(server_id_from_hostname("MediaServer.home.lan"), "mediaserver");
        assert_eq!(server_id_from_hostname("pi_hole-2"), "pi-hole-2");
        assert_eq!(server_id_from_hostname(""), "server");
    }
}
