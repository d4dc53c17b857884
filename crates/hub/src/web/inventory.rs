//! The server page's containers, sensors, disk-health and GPU panels (issue 15), over
//! `service::inventory`. Both partials fetch themselves again on the SSE `server-{id}` signal,
//! and watching goes through the service, as `PUT /api/v1/servers/{id}/containers/…` does.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use homelab_core::alerts::Thresholds;
use homelab_core::inventory::{ContainerReport, MachineInventory};
use homelab_core::time::Timestamp;
use serde::Deserialize;

use super::session::{CsrfUser, WebUser};
use super::view;
use super::{error_message, error_status, error_toast, render, service_error_toast};
use crate::service::inventory::WatchAllBody;
use crate::service::{self, ServiceError};
use crate::state::AppState;

/// The heading of containers that belong to no compose project.
const NO_PROJECT: &str = "Other";

/// One container as the table shows it.
pub struct ContainerRow {
    pub name: String,
    pub image: String,
    /// As the engine names it; also the CSS class suffix.
    pub state: String,
    /// `ok`, `warn`, `crit` or `idle`: the colour of the state word.
    pub tone: &'static str,
    pub symbol: &'static str,
    pub health: String,
    pub health_tone: &'static str,
    pub cpu: String,
    pub memory: String,
    pub restarts: String,
    pub uptime: String,
    pub watched: bool,
    /// Watched and not running well: the row is marked.
    pub down: bool,
}

/// The containers of one compose project (or of none).
pub struct ContainerGroup {
    pub project: String,
    pub rows: Vec<ContainerRow>,
}

/// The containers table, grouped by compose project, with the watch buttons.
#[derive(Template)]
#[template(path = "partials/containers.html")]
pub struct ContainersPartial {
    pub server_id: String,
    /// Whether the machine ever reported containers (else the empty state).
    pub reported: bool,
    pub groups: Vec<ContainerGroup>,
    pub running: usize,
    pub total: usize,
    /// Watched containers down, missing or unhealthy.
    pub down: Vec<String>,
    /// Watched names the machine does not list (they alert as missing).
    pub missing: Vec<String>,
    pub watch_all: bool,
    pub message: Option<String>,
    pub error: Option<String>,
}

fn state_look(state: &str) -> (&'static str, &'static str) {
    match state {
        "running" => ("ok", "●"),
        "paused" => ("idle", "‖"),
        "restarting" => ("warn", "↻"),
        "created" => ("idle", "○"),
        "exited" | "dead" | "removing" => ("crit", "■"),
        _ => ("idle", "○"),
    }
}

fn health_look(health: Option<&str>) -> (String, &'static str) {
    match health {
        Some("healthy") => ("healthy".into(), "ok"),
        Some("unhealthy") => ("unhealthy".into(), "crit"),
        Some(other) => (other.to_owned(), "warn"),
        None => ("–".into(), "idle"),
    }
}

fn container_row(c: &ContainerReport, watched: bool, now: Timestamp) -> ContainerRow {
    let (tone, symbol) = state_look(&c.state);
    let (health, health_tone) = health_look(c.health.as_deref());
    let memory = match (c.memory_used_bytes, c.memory_limit_bytes) {
        (Some(used), Some(limit)) => format!("{} / {}", view::bytes(used), view::bytes(limit)),
        (Some(used), None) => view::bytes(used),
        _ => "–".into(),
    };
    // Uptime only means something while it runs; `started_at` stays set after it stops.
    let uptime = match (c.state.as_str(), c.started_at.as_deref().and_then(homelab_core::time::parse)) {
        ("running" | "paused", Some(started)) => view::uptime((now - started).num_seconds().max(0)),
        _ => "–".into(),
    };
    let down =
        watched && (!matches!(c.state.as_str(), "running" | "paused") || c.health.as_deref() == Some("unhealthy"));
    ContainerRow {
        name: c.name.clone(),
        image: c.image.clone(),
        state: c.state.clone(),
        tone,
        symbol,
        health,
        health_tone,
        cpu: c.cpu_percent.map_or_else(|| "–".into(), |v| format!("{v:.1} %")),
        memory,
        restarts: c.restart_count.map_or_else(|| "–".into(), |n| n.to_string()),
        uptime,
        watched,
        down,
    }
}

impl ContainersPartial {
    pub fn of(server_id: &str, inventory: &MachineInventory, now: Timestamp) -> Self {
        let containers = inventory.containers.as_deref().unwrap_or_default();
        let watched = |name: &str| inventory.watched_containers.iter().any(|w| w == name);
        // Keyed so that named projects come first (alphabetically), then the loose containers.
        let mut groups: std::collections::BTreeMap<(bool, &str), Vec<ContainerRow>> = Default::default();
        for c in containers {
            let project = c.compose_project.as_deref().filter(|p| !p.is_empty());
            let key = (project.is_none(), project.unwrap_or(NO_PROJECT));
            groups.entry(key).or_default().push(container_row(c, watched(&c.name), now));
        }
        let groups: Vec<ContainerGroup> = groups
            .into_iter()
            .map(|((_, project), mut rows)| {
                rows.sort_by(|a, b| a.name.cmp(&b.name));
                ContainerGroup { project: project.to_owned(), rows }
            })
            .collect();
        let (running, total) = inventory.container_counts().unwrap_or((0, 0));
        ContainersPartial {
            server_id: server_id.to_owned(),
            reported: inventory.containers.is_some(),
            groups,
            running,
            total,
            down: inventory.watched_containers_down().into_iter().map(str::to_owned).collect(),
            missing: inventory
                .watched_containers
                .iter()
                .filter(|name| !containers.iter().any(|c| &c.name == *name))
                .cloned()
                .collect(),
            watch_all: inventory.watch_all_containers,
            message: None,
            error: None,
        }
    }

    fn failed(server_id: &str, error: &ServiceError) -> Self {
        ContainersPartial {
            error: Some(error_message(error)),
            ..ContainersPartial::of(server_id, &MachineInventory::default(), Timestamp::default())
        }
    }
}

/// One temperature sensor with the level it alerts at.
pub struct TemperatureRow {
    pub sensor: String,
    pub kind: String,
    pub value: String,
    /// `ok`, `warn` or `crit` against the kind's levels.
    pub level: &'static str,
    pub alerts_at: String,
}

pub struct DiskRow {
    pub device: String,
    pub model: String,
    /// `PASSED`, `FAILED` or `–` (not assessed).
    pub verdict: &'static str,
    pub verdict_tone: &'static str,
    pub temperature: String,
    /// `ok`, `warn` or `crit` against the drive levels.
    pub level: &'static str,
    pub hours: String,
    /// Reallocated / pending / uncorrectable sectors (ATA).
    pub sectors: String,
    /// NVMe: endurance used and media errors.
    pub nvme: String,
}

pub struct ArrayRow {
    pub name: String,
    pub detail: String,
    pub state: String,
    pub tone: &'static str,
}

pub struct GpuRow {
    pub name: String,
    /// Its id and vendor.
    pub detail: String,
    pub utilisation: String,
    pub memory: String,
    pub temperature: String,
    pub level: &'static str,
    pub power: String,
}

/// Sensors, disk health and GPUs: three panels in one partial, refreshed together.
#[derive(Template)]
#[template(path = "partials/hardware.html")]
pub struct HardwarePartial {
    pub server_id: String,
    pub temperatures: Vec<TemperatureRow>,
    /// `(sensor, rpm)`.
    pub fans: Vec<(String, String)>,
    /// Whether sensors were ever reported (an empty list is "none found").
    pub sensors_reported: bool,
    pub disks: Vec<DiskRow>,
    /// Software RAID arrays and ZFS pools.
    pub arrays: Vec<ArrayRow>,
    pub disks_reported: bool,
    pub gpus: Vec<GpuRow>,
    pub error: Option<String>,
}

fn celsius(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.0} °C"))
}

fn count(value: Option<i64>) -> String {
    value.map_or_else(|| "–".into(), |n| n.to_string())
}

impl HardwarePartial {
    pub fn of(server_id: &str, inventory: &MachineInventory, thresholds: &Thresholds) -> Self {
        let temperatures = inventory
            .temperatures
            .iter()
            .flatten()
            .map(|t| {
                let levels = thresholds.temperature.for_kind(&t.kind);
                TemperatureRow {
                    sensor: t.sensor.clone(),
                    kind: t.kind.clone(),
                    value: format!("{:.1} °C", t.celsius),
                    level: view::level(Some(t.celsius), levels.high_percent, levels.critical_percent),
                    alerts_at: format!("{} °C, critical {} °C", levels.high_percent, levels.critical_percent),
                }
            })
            .collect();
        let fans = inventory.fans.iter().flatten().map(|f| (f.sensor.clone(), format!("{:.0} rpm", f.rpm))).collect();
        let drive = thresholds.temperature.for_kind("drive");
        let disks = inventory
            .disk_health
            .iter()
            .flatten()
            .map(|d| {
                let (verdict, verdict_tone) = match d.passed {
                    Some(true) => ("PASSED", "ok"),
                    Some(false) => ("FAILED", "crit"),
                    None => ("–", "idle"),
                };
                let ata = [d.reallocated_sectors, d.pending_sectors, d.uncorrectable_sectors];
                let nvme = match (d.percentage_used, d.media_errors) {
                    (None, None) => "–".into(),
                    (used, errors) => format!(
                        "{} used, {} media errors",
                        used.map_or_else(|| "–".into(), |u| format!("{u} %")),
                        count(errors)
                    ),
                };
                DiskRow {
                    device: d.device.clone(),
                    model: d.model.clone().unwrap_or_default(),
                    verdict,
                    verdict_tone,
                    temperature: celsius(d.temperature_celsius),
                    level: view::level(d.temperature_celsius, drive.high_percent, drive.critical_percent),
                    hours: d.power_on_hours.map_or_else(|| "–".into(), |h| format!("{h} h")),
                    sectors: if ata.iter().all(Option::is_none) { "–".into() } else { ata.map(count).join(" / ") },
                    nvme,
                }
            })
            .collect();
        let raid = inventory.raid_arrays.iter().flatten().map(|r| ArrayRow {
            name: r.name.clone(),
            detail: format!("{} · {} of {} devices", r.level, r.devices_active, r.devices_total),
            state: match r.rebuild_percent {
                Some(p) => format!("{} {p:.1} %", r.state),
                None => r.state.clone(),
            },
            tone: match r.state.as_str() {
                "clean" => "ok",
                "rebuilding" => "warn",
                _ => "crit",
            },
        });
        let zfs = inventory.zfs_pools.iter().flatten().map(|p| ArrayRow {
            name: p.name.clone(),
            detail: match (p.allocated_bytes, p.size_bytes) {
                (Some(used), Some(size)) => format!("ZFS · {} of {}", view::bytes(used), view::bytes(size)),
                _ => "ZFS".into(),
            },
            state: p.health.clone(),
            tone: if p.health == "ONLINE" { "ok" } else { "crit" },
        });
        let gpu_levels = thresholds.temperature.for_kind("gpu");
        let gpus = inventory
            .gpus
            .iter()
            .flatten()
            .map(|g| GpuRow {
                name: g.name.clone().unwrap_or_else(|| g.id.clone()),
                detail: format!("{} · {}", g.id, g.vendor),
                utilisation: g.utilisation_percent.map_or_else(|| "–".into(), |u| format!("{u:.0} %")),
                memory: match (g.memory_used_bytes, g.memory_total_bytes) {
                    (Some(used), Some(total)) => format!("{} / {}", view::bytes(used), view::bytes(total)),
                    (Some(used), None) => view::bytes(used),
                    _ => "–".into(),
                },
                temperature: celsius(g.temperature_celsius),
                level: view::level(g.temperature_celsius, gpu_levels.high_percent, gpu_levels.critical_percent),
                power: g.power_watts.map_or_else(|| "–".into(), |w| format!("{w:.0} W")),
            })
            .collect();
        HardwarePartial {
            server_id: server_id.to_owned(),
            temperatures,
            fans,
            sensors_reported: inventory.temperatures.is_some() || inventory.fans.is_some(),
            disks,
            arrays: raid.chain(zfs).collect(),
            disks_reported: inventory.disk_health.is_some()
                || inventory.raid_arrays.is_some()
                || inventory.zfs_pools.is_some(),
            gpus,
            error: None,
        }
    }
}

/// Both partials for the server page (an unreadable inventory shows its reason in each).
pub async fn panels(state: &AppState, id: &str) -> (ContainersPartial, HardwarePartial) {
    match (service::inventory::get(state, id).await, view::thresholds(state).await) {
        (Ok(inventory), Ok(thresholds)) => {
            (ContainersPartial::of(id, &inventory, state.clock.now()), HardwarePartial::of(id, &inventory, &thresholds))
        }
        (Err(error), _) | (_, Err(error)) => {
            let hardware = HardwarePartial {
                error: Some(error_message(&error)),
                ..HardwarePartial::of(id, &MachineInventory::default(), &Thresholds::default())
            };
            (ContainersPartial::failed(id, &error), hardware)
        }
    }
}

/// `GET /ui/servers/{id}/containers`: the table again (after a heartbeat).
pub async fn containers(State(state): State<AppState>, _: WebUser, Path(id): Path<String>) -> Response {
    match service::inventory::get(&state, &id).await {
        Ok(inventory) => render(&ContainersPartial::of(&id, &inventory, state.clock.now())),
        Err(error) => render(&ContainersPartial::failed(&id, &error)),
    }
}

/// `GET /ui/servers/{id}/hardware`: sensors, disk health and GPUs again.
pub async fn hardware(State(state): State<AppState>, _: WebUser, Path(id): Path<String>) -> Response {
    render(&panels(&state, &id).await.1)
}

/// The table after an action: with its outcome, a refusal (422 with the message in the panel) or,
/// for an unknown server, a toast.
fn outcome(state: &AppState, id: &str, result: Result<MachineInventory, ServiceError>, done: String) -> Response {
    match result {
        Ok(inventory) => render(&ContainersPartial {
            message: Some(done),
            ..ContainersPartial::of(id, &inventory, state.clock.now())
        }),
        Err(error @ ServiceError::Invalid(_)) => {
            let mut response = render(&ContainersPartial::failed(id, &error));
            *response.status_mut() = error_status(&error);
            response
        }
        Err(error) => service_error_toast(&error),
    }
}

#[derive(Deserialize)]
pub struct WatchForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    watched: String,
}

/// `POST /ui/servers/{id}/containers/watch`: `name` and `watched` (`true` or `false`). The name
/// travels in the form, not the path, so any reported name reaches the service's own check.
pub async fn watch(
    State(state): State<AppState>,
    _: CsrfUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<WatchForm>(&body) else {
        return error_toast(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    let watched = match form.watched.as_str() {
        "true" => true,
        "false" => false,
        other => {
            let message = format!("watched: should be true or false, not “{other}”");
            return error_toast(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
    };
    let name = form.name.trim();
    let result = service::inventory::set_watched(&state, &id, name, watched).await;
    let done = if watched {
        format!("Watching {name}: it alerts when it stops, turns unhealthy or restarts in a loop.")
    } else {
        format!("Stopped watching {name}.")
    };
    outcome(&state, &id, result, done)
}

#[derive(Deserialize)]
pub struct WatchAllForm {
    #[serde(default)]
    enabled: String,
}

/// `POST /ui/servers/{id}/containers/watch-all`: `enabled` `true` or `false`.
pub async fn watch_all(
    State(state): State<AppState>,
    _: CsrfUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let enabled = match serde_urlencoded::from_bytes::<WatchAllForm>(&body).map(|f| f.enabled) {
        Ok(value) if value == "true" => true,
        Ok(value) if value == "false" => false,
        _ => return error_toast(StatusCode::UNPROCESSABLE_ENTITY, "enabled: should be true or false"),
    };
    let result = service::inventory::set_watch_all(&state, &id, WatchAllBody { enabled }).await;
    let done = if enabled {
        "Watching every running container, and each new one once it runs.".to_owned()
    } else {
        "No longer watching new containers; those already watched stay watched.".to_owned()
    };
    outcome(&state, &id, result, done)
}
