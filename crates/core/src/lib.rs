//! The pure domain of Homelab Command: wire types, validation rules and history maths.
//!
//! Nothing here performs I/O, spawns tasks or reads the clock: callers pass `now` in. That keeps
//! every rule testable exactly and lets the agent, the store and the hub share one definition.

pub mod alerts;
pub mod heartbeat;
pub mod history;
pub mod inventory;
pub mod notify;
pub mod power;
pub mod preferences;
pub mod server;
pub mod snapshot;
pub mod status;
pub mod time;
pub mod validate;
