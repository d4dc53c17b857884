//! Per-interface traffic counters from `/proc/net/dev` and link state from `/sys/class/net`.

use homelab_core::heartbeat::InterfaceReport;

use super::{read_file, saturating_i64};
use crate::error::CollectError;
use crate::root::SystemRoot;

/// The loopback interface carries no network traffic, so v1 left it out and so do we.
pub const LOOPBACK: &str = "lo";

/// `IFF_UP` in `/sys/class/net/<if>/flags`: the interface is administratively up.
const IFF_UP: u64 = 0x1;

/// Cumulative counters of one interface since it appeared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceCounters {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
}

/// Parses `/proc/net/dev`. Header lines and malformed lines are skipped: one odd line must not
/// hide every other interface.
pub fn parse_net_dev(text: &str) -> Vec<InterfaceCounters> {
    text.lines().filter_map(parse_net_dev_line).collect()
}

fn parse_net_dev_line(line: &str) -> Option<InterfaceCounters> {
    // Interface names cannot contain ':', and old kernels print no space after it when the byte
    // count is wide ("eth0:123456"), so split on the first colon rather than on whitespace.
    let (name, counters) = line.split_once(':')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let values = counters.split_ascii_whitespace().map(|v| v.parse::<u64>().ok()).collect::<Option<Vec<_>>>()?;
    // bytes packets errs drop fifo frame compressed multicast | bytes packets …
    Some(InterfaceCounters {
        name: name.to_owned(),
        rx_bytes: *values.first()?,
        rx_packets: *values.get(1)?,
        tx_bytes: *values.get(8)?,
        tx_packets: *values.get(9)?,
    })
}

/// Whether an interface is up, from the contents of its `operstate` and `flags` files (`None`
/// when unreadable).
///
/// v1 treated anything but `up` as down, which showed loopback-like and tunnel interfaces
/// (WireGuard, Tailscale) as down while they carried traffic: their drivers report `unknown`.
/// For `unknown` we therefore use the administrative `IFF_UP` flag. An unreadable state counts
/// as up, as in v1, so a permissions problem does not raise interface alerts.
pub fn interface_is_up(operstate: Option<&str>, flags: Option<&str>) -> bool {
    match operstate.map(str::trim) {
        None => true,
        Some("up") => true,
        Some("unknown") => flags
            .map(str::trim)
            .and_then(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).ok())
            .is_some_and(|f| f & IFF_UP != 0),
        Some(_) => false,
    }
}

/// Reads every interface except loopback, with its link state.
pub fn read_interfaces(root: &SystemRoot) -> Result<Vec<InterfaceReport>, CollectError> {
    let text = read_file(&root.proc.join("net/dev"))?;
    Ok(parse_net_dev(&text)
        .into_iter()
        .filter(|counters| counters.name != LOOPBACK)
        .map(|counters| {
            let dir = root.sys.join("class/net").join(&counters.name);
            let operstate = std::fs::read_to_string(dir.join("operstate")).ok();
            let flags = std::fs::read_to_string(dir.join("flags")).ok();
            InterfaceReport {
                is_up: interface_is_up(operstate.as_deref(), flags.as_deref()),
                name: counters.name,
                rx_bytes: saturating_i64(counters.rx_bytes),
                tx_bytes: saturating_i64(counters.tx_bytes),
                rx_packets: saturating_i64(counters.rx_packets),
                tx_packets: saturating_i64(counters.tx_packets),
            }
        })
        .collect())
}

/// Received and transmitted bytes summed over the interfaces, for `Metrics`.
pub fn totals(interfaces: &[InterfaceReport]) -> (i64, i64) {
    interfaces.iter().fold((0i64, 0i64), |(rx, tx), i| (rx.saturating_add(i.rx_bytes), tx.saturating_add(i.tx_bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 73092517    3170    0    0    0     0          0         0   276849    2109    0    0    0     0       0          0
wlan0:18446744073709551615 1 0 0 0 0 0 0 2 3 0 0 0 0 0 0
broken: 1 2 3
";

    #[test]
    fn net_dev_counters() {
        let interfaces = parse_net_dev(NET_DEV);
        assert_eq!(interfaces.len(), 3);
        assert_eq!(
            interfaces[1],
            InterfaceCounters {
                name: "eth0".into(),
                rx_bytes: 73_092_517,
                rx_packets: 3170,
                tx_bytes: 276_849,
                tx_packets: 2109
            }
        );
        assert_eq!(interfaces[2].name, "wlan0");
        assert_eq!(interfaces[2].rx_bytes, u64::MAX);
        assert_eq!(interfaces[2].tx_packets, 3);
    }

    #[test]
    fn link_state() {
        assert!(interface_is_up(Some("up\n"), None));
        assert!(!interface_is_up(Some("down\n"), Some("0x1003\n")));
        assert!(!interface_is_up(Some("dormant\n"), None));
        assert!(interface_is_up(None, None), "unreadable counts as up, as in v1");
        assert!(interface_is_up(Some("unknown\n"), Some("0x1091\n")), "a tunnel that is up");
        assert!(!interface_is_up(Some("unknown\n"), Some("0x1090\n")));
        assert!(!interface_is_up(Some("unknown\n"), None));
    }

    #[test]
    fn totals_saturate() {
        let report = |rx, tx| InterfaceReport {
            name: "x".into(),
            rx_bytes: rx,
            tx_bytes: tx,
            rx_packets: 0,
            tx_packets: 0,
            is_up: true,
        };
        assert_eq!(totals(&[report(1, 2), report(10, 20)]), (11, 22));
        assert_eq!(totals(&[report(i64::MAX, 0), report(1, 0)]), (i64::MAX, 0));
        assert_eq!(totals(&[]), (0, 0));
    }
}
