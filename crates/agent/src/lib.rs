//! Collectors for Linux machines, shared by the `homelabcmd-agent` binary and by the hub, which
//! monitors its own machine with exactly the same code so both report identical numbers.
//!
//! Layout (after procfs-core and Beszel): every collector has a pure parser over `&str` that the
//! unit tests feed with fixture files, plus a thin function that reads the file below an injected
//! [`SystemRoot`]. Rate maths (CPU %, per-service CPU %) lives in small samplers that keep the
//! previous counters; the [`Collector`] wires everything into one v1 [`HeartbeatRequest`].
//!
//! Nothing here panics on odd input or failing I/O: a collector that fails leaves its field
//! `None` and adds a [`Warning`], because one unreadable file must never cost the whole heartbeat.
//!
//! The rest is the standalone agent: configuration ([`config`]), the persistent GUID
//! ([`state`]), the HTTP client ([`client`]), the on-disk spool ([`spool`]), delivery with
//! replay ([`sender`]), the loop ([`runner`]) and registration ([`register`]). They are in the
//! library so that the hub's end-to-end tests can run the real loop in-process. Everything that
//! talks HTTP (and so ureq) is behind the default feature `client`; the hub, which uses only the
//! collectors, turns it off.
//!
//! [`HeartbeatRequest`]: homelab_core::heartbeat::HeartbeatRequest

#[cfg(feature = "client")]
#[macro_use]
pub mod log;

pub mod background;
#[cfg(feature = "client")]
pub mod client;
pub mod collector;
pub mod collectors;
pub mod command;
pub mod config;
pub mod error;
#[cfg(feature = "client")]
pub mod register;
pub mod root;
#[cfg(feature = "client")]
pub mod runner;
#[cfg(feature = "client")]
pub mod sender;
pub mod spool;
pub mod state;

pub use collector::{AgentIdentity, Collection, Collector, CollectorConfig, Warning};
pub use error::CollectError;
pub use root::SystemRoot;

/// Sent as `agent_version`, so the hub can tell which build produced a heartbeat.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// This agent only observes; it never runs commands on the hub's behalf.
pub const AGENT_MODE: &str = "readonly";
