//! carrack as a library: create, start, exec in, stop and delete OCI containers from Rust,
//! with typed options and errors. The `carrack` binary is this library plus runc's command
//! line (src/main.rs, src/cli.rs, src/commands/).
//!
//! Layers (scripts/check-layers checks that imports only point down):
//!
//! | layer | modules |
//! |---|---|
//! | lifecycle | `container`, `state` |
//! | process | `launcher`, `init`, `selfexe` |
//! | subsystems | `linux`, `cgroups`, `config` |
//! | base | `sync`, `logging`, `fault`, `rootless`, `error`, `insecure` |
//!
//! The modules are public for the binary; their contents are not a stable API (hidden from
//! the docs). The API is the functions and types at the top of this crate:
//!
//! ```no_run
//! # fn main() -> Result<(), carrack::Error> {
//! let root = std::path::Path::new("/run/my-engine");
//! let opts = carrack::CreateOptions { bundle: "/srv/bundle".into(), ..Default::default() };
//! carrack::create(root, "web", &opts)?;
//! carrack::start(root, "web")?;
//! println!("{:?}", carrack::state(root, "web")?.status);
//! carrack::delete(root, "web", true)?;
//! # Ok(()) }
//! ```
//!
//! create, run and exec clone the calling process (init and exec's child are clones of it,
//! not new programs): call them from a single-threaded process (they refuse otherwise), and
//! call [`protect_executable`] first thing in `main` (see there, CVE-2019-5736).

// The insecure-controls feature (src/insecure.rs) lets a test switch a security defence off
// for the reproducers' positive controls: never in a release build.
#[cfg(all(not(debug_assertions), feature = "insecure-controls"))]
compile_error!("insecure-controls is for tests only");

#[doc(hidden)]
pub mod cgroups;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod container;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod fault;
#[doc(hidden)]
pub mod init;
#[doc(hidden)]
pub mod insecure;
#[doc(hidden)]
pub mod launcher;
#[doc(hidden)]
pub mod linux;
#[doc(hidden)]
pub mod logging;
#[cfg(test)]
mod mutate;
#[doc(hidden)]
pub mod rootless;
#[doc(hidden)]
pub mod selfexe;
#[doc(hidden)]
pub mod state;
#[doc(hidden)]
pub mod sync;
#[cfg(test)]
mod testutil;

use std::path::{Path, PathBuf};

pub use container::{CreateOptions, ExecProcess, ExecRequest};
pub use logging::{LogFormat, Settings as LogSettings};
pub use state::Status;

/// The library's errors: the kind, and the whole context chain in the message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container {id:?} does not exist")]
    NotFound { id: String },
    #[error("container {id:?} already exists")]
    Exists { id: String },
    #[error("{0:#}")]
    InvalidId(anyhow::Error),
    /// config.json (or a process or resources given) is refused: `field` is its JSON path.
    #[error("{field}: {reason}")]
    BadConfig { field: String, reason: String },
    /// The kernel refused `op` (the context chain) with `errno`.
    #[error("{op}: {errno}")]
    Kernel {
        op: String,
        errno: nix::errno::Errno,
    },
    #[error("{0:#}")]
    Other(anyhow::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The kind of an internal error, found in its chain; the chain is kept (as the message,
    /// or whole in `Other`).
    fn classify(id: &str, e: anyhow::Error) -> Error {
        if let Some(k) = e.chain().find_map(|c| c.downcast_ref::<error::Kind>()) {
            return match k {
                error::Kind::NotFound => Error::NotFound { id: id.into() },
                error::Kind::Exists(_) => Error::Exists { id: id.into() },
            };
        }
        let errno = e.chain().find_map(|c| {
            c.downcast_ref::<std::io::Error>()
                .and_then(|io| io.raw_os_error())
                .or_else(|| c.downcast_ref::<nix::errno::Errno>().map(|n| *n as i32))
        });
        if let Some(errno) = errno {
            let op: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            let op = op[..op.len().saturating_sub(1)].join(": ");
            return Error::Kernel {
                op,
                errno: nix::errno::Errno::from_raw(errno),
            };
        }
        Error::Other(e)
    }

    /// Errors of config.json: config/ names the field's JSON path first ("process.cwd
    /// \"x\": must be an absolute path", "linux.seccomp.syscalls[0]: ...").
    fn bad_config(e: anyhow::Error) -> Error {
        let text = format!("{e:#}");
        let end = text.find([' ', ':']).unwrap_or(0);
        let (field, rest) = text.split_at(end);
        if field.is_empty() || !field.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Error::Other(e);
        }
        Error::BadConfig {
            field: field.into(),
            reason: rest.trim_start_matches(':').trim_start().into(),
        }
    }
}

fn valid_id(id: &str) -> Result<()> {
    config::validate_id(id).map_err(Error::InvalidId)
}

/// Re-executes the calling program once through a read-only mount of its own file (or a
/// sealed copy) unless it already runs from one, so no container process can ever open it
/// for writing (CVE-2019-5736: init and exec's child are clones of this process). Call it
/// first thing in `main`, before any other thread exists: it restarts `main` with the same
/// arguments and environment, and returns in the restarted program.
pub fn protect_executable() -> Result<()> {
    selfexe::protect().map_err(Error::Other)
}

/// Logging of warnings and debug lines (the binary's --log, --log-format, --debug); without
/// a call, nothing is logged.
pub fn init_logging(settings: LogSettings) {
    logging::init(settings)
}

/// Create the container `id` from `opts.bundle` under the state directory `root` and leave
/// it created (init waits for [`start`]); returns init's pid. Init is our child: whoever
/// outlives it reaps it (see examples/lifecycle.rs).
pub fn create(root: &Path, id: &str, opts: &CreateOptions) -> Result<i32> {
    valid_id(id)?;
    let bundle = std::fs::canonicalize(&opts.bundle)
        .map_err(|e| Error::classify(id, anyhow::Error::new(e).context("bundle")))?;
    let spec = config::load(&bundle).map_err(Error::bad_config)?;
    config::validate(&spec, &bundle).map_err(Error::bad_config)?;
    container::create(root, id, opts, None).map_err(|e| Error::classify(id, e))
}

/// Let a created container run its process.
pub fn start(root: &Path, id: &str) -> Result<()> {
    valid_id(id)?;
    container::start(root, id).map_err(|e| Error::classify(id, e))
}

/// What `state` reports of a container.
#[derive(Debug, Clone)]
pub struct ContainerState {
    pub id: String,
    pub status: Status,
    /// Init's pid (0 once stopped, as runc reports it).
    pub pid: i32,
    pub bundle: PathBuf,
    /// RFC 3339.
    pub created: String,
    pub annotations: std::collections::BTreeMap<String, String>,
}

fn container_state(s: &state::State, status: Status) -> ContainerState {
    let v = state::state_json(s, status);
    ContainerState {
        id: s.id.clone(),
        status,
        pid: v["pid"].as_i64().unwrap_or(0) as i32,
        bundle: s.bundle.clone(),
        created: s.created.clone(),
        annotations: s.annotations.clone().into_iter().collect(),
    }
}

/// The container's state.
pub fn state(root: &Path, id: &str) -> Result<ContainerState> {
    valid_id(id)?;
    let (s, status) = state::Store::new(root)
        .and_then(|st| st.load(id))
        .map_err(|e| Error::classify(id, e))?;
    Ok(container_state(&s, status))
}

/// Every container under `root` that reads (a damaged one is logged and left out).
pub fn list(root: &Path) -> Result<Vec<ContainerState>> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let store = state::Store::new(root).map_err(Error::Other)?;
    let mut out = Vec::new();
    for entry in store.list().map_err(Error::Other)? {
        match entry {
            Ok((s, status)) => out.push(container_state(&s, status)),
            Err((id, e)) => logging::warn(&format!("list: {id}: {e:#}")),
        }
    }
    Ok(out)
}

/// Send `signal` to init, or with `all` to every process of the container.
pub fn kill(root: &Path, id: &str, signal: nix::sys::signal::Signal, all: bool) -> Result<()> {
    valid_id(id)?;
    container::kill(root, id, signal as i32, all).map_err(|e| Error::classify(id, e))
}

/// Remove a stopped container (with `force`, a running one is killed first).
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    valid_id(id)?;
    container::delete(root, id, force).map_err(|e| Error::classify(id, e))
}

/// Run a new process in the container; returns its exit code (0 with `req.detach`).
pub fn exec(root: &Path, id: &str, req: ExecRequest) -> Result<i32> {
    valid_id(id)?;
    container::exec(root, id, req).map_err(|e| Error::classify(id, e))
}

/// Freeze every process of the container.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    valid_id(id)?;
    container::pause(root, id).map_err(|e| Error::classify(id, e))
}

/// Thaw a paused container.
pub fn resume(root: &Path, id: &str) -> Result<()> {
    valid_id(id)?;
    container::resume(root, id).map_err(|e| Error::classify(id, e))
}

/// Change the container's resources: the fields set in `resources` replace its own.
pub fn update(root: &Path, id: &str, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
    valid_id(id)?;
    let changes = serde_json::to_value(resources).map_err(|e| Error::Other(e.into()))?;
    container::update(root, id, changes).map_err(|e| Error::classify(id, e))
}

/// One `events --stats` sample: the container's cgroup statistics, in runc's shape.
pub fn events(root: &Path, id: &str) -> Result<serde_json::Value> {
    valid_id(id)?;
    let (s, _) = state::Store::new(root)
        .and_then(|st| st.load(id))
        .map_err(|e| Error::classify(id, e))?;
    s.cgroup.stats().map_err(|e| Error::classify(id, e))
}
