//! A stand-in Docker Engine API on a real unix socket: a thread per connection answering the
//! canned answers in `fixtures/docker-engine/`, chunked as Docker does.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use super::fixture;

/// How the stand-in behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers everything.
    Answer,
    /// Accepts connections and reads requests but never answers any.
    Hang,
    /// Answers the list and inspections; stats requests never get an answer.
    HangOnStats,
}

struct Canned {
    /// (id, name, inspection) in list order.
    containers: Vec<(String, String, String)>,
    list: String,
    stats: String,
}

pub struct StandInEngine {
    pub socket: PathBuf,
    /// Advances the stats' CPU counters: each step adds 0.5 s of container CPU time and 10 s of
    /// machine CPU time (4 CPUs), i.e. 20 % of one core.
    pub generation: Arc<AtomicU64>,
    /// Every request line received, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    _dir: Option<tempfile::TempDir>,
}

impl StandInEngine {
    /// The fixture's five containers, in a fresh temporary directory.
    pub fn start(behaviour: Behaviour) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let mut engine = Self::serve(&socket, behaviour, None);
        engine._dir = Some(dir);
        engine
    }

    /// Serves at `socket`; with `copies`, the list holds that many running copies of the
    /// fixture's first container instead (for footprint runs).
    pub fn serve(socket: &Path, behaviour: Behaviour, copies: Option<usize>) -> Self {
        let canned = Arc::new(load(copies));
        let listener = UnixListener::bind(socket).unwrap();
        let generation = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (generation, requests, stop) = (generation.clone(), requests.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (canned, generation, requests) = (canned.clone(), generation.clone(), requests.clone());
                    thread::spawn(move || handle(stream, behaviour, &canned, &generation, &requests));
                }
            });
        }
        StandInEngine { socket: socket.to_owned(), generation, requests, stop, _dir: None }
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

impl Drop for StandInEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = UnixStream::connect(&self.socket);
    }
}

fn load(copies: Option<usize>) -> Canned {
    let dir = fixture("docker-engine");
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_str(&read("containers.json")).unwrap();
    let list = match copies {
        None => list,
        Some(n) => (0..n)
            .map(|i| {
                let mut c = list[0].clone();
                c["Id"] = format!("{i:064x}").into();
                c["Names"] = serde_json::json!([format!("/app-{i:02}")]);
                c
            })
            .collect(),
    };
    let containers = list
        .iter()
        .map(|c| {
            let id = c["Id"].as_str().unwrap().to_owned();
            let name = c["Names"][0].as_str().unwrap().trim_start_matches('/').to_owned();
            let file = if copies.is_some() { "blog-web-1".to_owned() } else { name.clone() };
            let inspection = read(&format!("inspect/{file}.json"));
            (id, name, inspection)
        })
        .collect();
    Canned { containers, list: serde_json::to_string(&list).unwrap(), stats: read("stats.json") }
}

fn handle(
    stream: UnixStream,
    behaviour: Behaviour,
    canned: &Canned,
    generation: &AtomicU64,
    requests: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    requests.lock().unwrap().push(path.clone());
    let hang = match behaviour {
        Behaviour::Answer => false,
        Behaviour::Hang => true,
        Behaviour::HangOnStats => path.contains("/stats"),
    };
    if hang {
        // Never answers; returns when the client gives up and closes the connection.
        let _ = reader.read_to_end(&mut Vec::new());
        return;
    }
    let (status, body) = route(&path, canned, generation.load(Ordering::SeqCst));
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {status}\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\nDocker-Experimental: false\r\n\
         Ostype: linux\r\nServer: Docker/25.0.3 (linux)\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut out = head.into_bytes();
    for chunk in body.as_bytes().chunks(1000) {
        out.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend(chunk);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    let _ = stream.write_all(&out);
}

fn route(path: &str, canned: &Canned, generation: u64) -> (&'static str, String) {
    if path == "/containers/json?all=true" {
        return ("200 OK", canned.list.clone());
    }
    let not_found = ("404 Not Found", "{\"message\":\"page not found\"}".to_owned());
    let Some(rest) = path.strip_prefix("/containers/") else { return not_found };
    let Some((id, what)) = rest.split_once('/') else { return not_found };
    let Some((_, name, inspection)) = canned.containers.iter().find(|(i, _, _)| i == id) else {
        return ("404 Not Found", format!("{{\"message\":\"No such container: {id}\"}}"));
    };
    match what {
        "json" => ("200 OK", inspection.clone()),
        "stats?stream=false&one-shot=true" => {
            let cpu = 2_000_000_000 + generation * 500_000_000;
            let system = 1_000_000_000_000 + generation * 10_000_000_000;
            let body = canned
                .stats
                .replace("__CPU__", &cpu.to_string())
                .replace("__SYSTEM__", &system.to_string())
                .replace("/blog-web-1", &format!("/{name}"));
            ("200 OK", body)
        }
        _ => not_found,
    }
}
