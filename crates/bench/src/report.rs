//! Latency percentiles and throughput of a run, as a table and as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

pub struct Outcome {
    pub latency: Duration,
    pub error: Option<String>,
}

#[derive(Serialize)]
pub struct Report {
    pub mode: String,
    pub servers: usize,
    pub duration_seconds: f64,
    pub sent: usize,
    pub ok: usize,
    pub errors: BTreeMap<String, usize>,
    pub throughput_per_second: f64,
    pub latency_ms: Percentiles,
    /// CPU (user + system) the hub spent per acknowledged heartbeat, when this tool started it.
    pub hub_cpu_ms_per_heartbeat: Option<f64>,
    /// The hub's CPU per wall-clock second of the measured window (1 000 = one core busy).
    pub hub_cpu_ms_per_second: Option<f64>,
    /// This tool's own CPU per second (it shares the machine with the hub it measures).
    pub bench_cpu_ms_per_second: Option<f64>,
    /// Live-update streams open during the run (`--dashboards`).
    pub dashboards: usize,
    pub live_updates: Option<LiveUpdates>,
}

/// What the open dashboards received during the measured window.
#[derive(Serialize)]
pub struct LiveUpdates {
    pub bytes_per_dashboard_per_second: f64,
    pub events_per_dashboard_per_second: f64,
    /// The least any one stream received: 0 means a dashboard saw nothing.
    pub fewest_events: u64,
}

impl LiveUpdates {
    /// From each stream's (bytes, events) over `seconds`.
    pub fn new(streams: &[(u64, u64)], seconds: f64) -> Self {
        let per = |total: u64| total as f64 / streams.len().max(1) as f64 / seconds.max(f64::EPSILON);
        LiveUpdates {
            bytes_per_dashboard_per_second: per(streams.iter().map(|(bytes, _)| bytes).sum()),
            events_per_dashboard_per_second: per(streams.iter().map(|(_, events)| events).sum()),
            fewest_events: streams.iter().map(|&(_, events)| events).min().unwrap_or(0),
        }
    }
}

#[derive(Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

impl Report {
    pub fn new(mode: &str, servers: usize, duration: Duration, outcomes: Vec<Outcome>) -> Self {
        let mut errors = BTreeMap::new();
        let mut latencies = Vec::with_capacity(outcomes.len());
        for outcome in &outcomes {
            match &outcome.error {
                Some(error) => *errors.entry(error.clone()).or_insert(0) += 1,
                None => latencies.push(outcome.latency),
            }
        }
        latencies.sort();
        Report {
            mode: mode.into(),
            servers,
            duration_seconds: duration.as_secs_f64(),
            sent: outcomes.len(),
            ok: latencies.len(),
            errors,
            throughput_per_second: latencies.len() as f64 / duration.as_secs_f64(),
            latency_ms: Percentiles {
                p50: percentile(&latencies, 0.50),
                p90: percentile(&latencies, 0.90),
                p99: percentile(&latencies, 0.99),
                p999: percentile(&latencies, 0.999),
                max: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            },
            hub_cpu_ms_per_heartbeat: None,
            hub_cpu_ms_per_second: None,
            bench_cpu_ms_per_second: None,
            dashboards: 0,
            live_updates: None,
        }
    }

    pub fn print(&self) {
        println!("mode           {}", self.mode);
        println!("servers        {}", self.servers);
        println!("duration       {:.0} s", self.duration_seconds);
        println!("sent / ok      {} / {}", self.sent, self.ok);
        println!("throughput     {:.0} heartbeats/s", self.throughput_per_second);
        let l = &self.latency_ms;
        println!(
            "latency (ms)   p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            l.p50, l.p90, l.p99, l.p999, l.max
        );
        if let Some(ms) = self.hub_cpu_ms_per_heartbeat {
            println!("hub CPU        {:.3} ms per heartbeat", ms);
        }
        if let Some(ms) = self.hub_cpu_ms_per_second {
            println!("hub CPU        {ms:.0} ms per second ({} dashboards)", self.dashboards);
        }
        if let Some(ms) = self.bench_cpu_ms_per_second {
            println!("bench CPU      {ms:.0} ms per second (this tool, same machine)");
        }
        if let Some(live) = &self.live_updates {
            println!(
                "live updates   {} dashboards: {:.1} KB/s and {:.1} events/s each (fewest events on one: {})",
                self.dashboards,
                live.bytes_per_dashboard_per_second / 1000.0,
                live.events_per_dashboard_per_second,
                live.fewest_events
            );
        }
        for (error, count) in &self.errors {
            println!("errors         {error}: {count}");
        }
    }
}

/// The closing table: each figure beside its target, so a run reads at a glance.
pub struct Summary {
    database: String,
    rows: Vec<(String, String, String)>,
}

impl Summary {
    pub fn new(database: &str) -> Self {
        Summary { database: database.to_owned(), rows: Vec::new() }
    }

    pub fn row(&mut self, what: &str, result: String, target: &str) {
        self.rows.push((what.to_owned(), result, target.to_owned()));
    }

    /// The rows of one ingest run: throughput (closed loop) or latency (open loop), and memory.
    pub fn ingest(&mut self, report: &Report, open_loop: bool, rss_kib: Option<u64>) {
        let servers = report.servers;
        let l = &report.latency_ms;
        let errors: usize = report.errors.values().sum();
        let errors = if errors == 0 { String::new() } else { format!(", {errors} errors") };
        if open_loop {
            let target = if servers == 1000 { "p99 < 5 ms at 60 s intervals" } else { "" };
            self.row(
                &format!("latency at {:.0}/s, {servers} servers", report.throughput_per_second),
                format!("p50 {:.2} ms, p99 {:.2} ms{errors}", l.p50, l.p99),
                target,
            );
        } else {
            self.row(
                &format!("ingest, {servers} servers, {}", report.mode),
                format!("{:.0}/s (p50 {:.1} ms, p99 {:.1} ms){errors}", report.throughput_per_second, l.p50, l.p99),
                "≥ 10 000/s",
            );
        }
        let dashboards =
            if report.dashboards > 0 { format!(", {} dashboards", report.dashboards) } else { String::new() };
        if let Some(ms) = report.hub_cpu_ms_per_heartbeat {
            self.row(
                &format!("hub CPU per heartbeat, {servers} servers{dashboards}"),
                format!("{ms:.3} ms"),
                "(v1: ~17 ms)",
            );
        }
        if let Some(ms) = report.hub_cpu_ms_per_second {
            self.row(&format!("hub CPU per second, {servers} servers{dashboards}"), format!("{ms:.0} ms/s"), "");
        }
        if let Some(live) = &report.live_updates {
            self.row(
                &format!("live updates per dashboard, {} dashboards", report.dashboards),
                format!(
                    "{:.1} KB/s, {:.1} events/s",
                    live.bytes_per_dashboard_per_second / 1000.0,
                    live.events_per_dashboard_per_second
                ),
                "",
            );
        }
        if let Some(kib) = rss_kib {
            let target = if servers == 1000 { "< 50 MB" } else { "" };
            self.row(&format!("hub RSS, {servers} servers"), format!("{:.1} MB", kib as f64 / 1024.0), target);
        }
    }

    pub fn print(&self) {
        let width = self.rows.iter().map(|(what, ..)| what.chars().count()).max().unwrap_or(0).max(7);
        let result_width = self.rows.iter().map(|(_, result, _)| result.chars().count()).max().unwrap_or(0).max(6);
        println!();
        println!("summary ({})", self.database);
        println!("{:<width$}  {:<result_width$}  target", "measure", "result");
        for (what, result, target) in &self.rows {
            println!("{what:<width$}  {result:<result_width$}  {target}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let outcomes =
            (1..=100).map(|ms| Outcome { latency: Duration::from_millis(ms), error: None }).collect::<Vec<_>>();
        let report = Report::new("max", 1, Duration::from_secs(10), outcomes);
        assert_eq!((report.latency_ms.p50, report.latency_ms.p99, report.latency_ms.max), (50.0, 99.0, 100.0));
        assert_eq!(report.throughput_per_second, 10.0);
    }

    #[test]
    fn the_summary_names_the_target_of_each_ingest_figure() {
        let outcomes = vec![
            Outcome { latency: Duration::from_millis(2), error: None },
            Outcome { latency: Duration::from_millis(4), error: Some("HTTP 500".into()) },
        ];
        let mut summary = Summary::new("SQLite");
        summary.ingest(&Report::new("Rate(17.0)", 1000, Duration::from_secs(1), outcomes), true, Some(40 * 1024));
        assert_eq!(summary.rows[0].0, "latency at 1/s, 1000 servers");
        assert_eq!(summary.rows[0].1, "p50 2.00 ms, p99 2.00 ms, 1 errors");
        assert_eq!(summary.rows[0].2, "p99 < 5 ms at 60 s intervals");
        assert_eq!(summary.rows[1], ("hub RSS, 1000 servers".into(), "40.0 MB".into(), "< 50 MB".into()));
    }

    #[test]
    fn live_updates_are_per_dashboard_per_second() {
        let live = LiveUpdates::new(&[(4000, 20), (2000, 10)], 2.0);
        assert_eq!(live.bytes_per_dashboard_per_second, 1500.0);
        assert_eq!(live.events_per_dashboard_per_second, 7.5);
        assert_eq!(live.fewest_events, 10);
        let mut report = Report::new("Rate(17.0)", 1000, Duration::from_secs(2), Vec::new());
        report.hub_cpu_ms_per_second = Some(123.4);
        report.dashboards = 2;
        report.live_updates = Some(live);
        let mut summary = Summary::new("SQLite");
        summary.ingest(&report, true, None);
        assert_eq!(
            summary.rows[1],
            ("hub CPU per second, 1000 servers, 2 dashboards".into(), "123 ms/s".into(), String::new())
        );
        assert_eq!(summary.rows[2].1, "1.5 KB/s, 7.5 events/s");
    }
}
