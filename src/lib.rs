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
//! Errors are [`Error`]: the kind (a missing or existing container, a status that forbids
//! the operation, a refused config, a kernel error), with carrack's context chain. The texts
//! are the library's own; the binary prints runc's words for the kinds
//! (src/commands/errors.rs).
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
use std::time::Duration;

pub use config::OCI_VERSION;
pub use container::{
    CheckpointOptions, CreateOptions, CriuOptions, Event, ExecProcess, ExecRequest, RestoreOptions,
    RunOptions,
};
pub use error::{Opt, OptError};
pub use logging::{LogFormat, Settings as LogSettings};
pub use state::Status;

/// The library's errors: the kind, and the whole context chain in the message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container {id:?} does not exist")]
    NotFound { id: String },
    #[error("container {id:?} already exists")]
    Exists { id: String },
    /// The container's status does not allow `op`: starting a stopped container, pausing a
    /// paused one, deleting a running one without force, ...
    #[error("cannot {op} container {id:?}: it is {status}")]
    WrongStatus {
        id: String,
        op: Operation,
        status: Status,
    },
    #[error("{0:#}")]
    InvalidId(anyhow::Error),
    /// config.json (or a process or resources given) is refused: `field` is its JSON path;
    /// `cause` is the whole error, its context chain as carrack prints it.
    #[error("{field}: {reason}")]
    BadConfig {
        field: String,
        reason: String,
        cause: anyhow::Error,
    },
    /// The kernel refused `op` (the context chain) with `errno`; `cause` is the whole error.
    #[error("{op}: {errno}")]
    Kernel {
        op: String,
        errno: nix::errno::Errno,
        cause: anyhow::Error,
    },
    #[error("{0:#}")]
    Other(anyhow::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// What was asked of a container: the functions of this API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Start,
    Run,
    State,
    Kill,
    Delete,
    Exec,
    Pause,
    Resume,
    Update,
    Events,
    Processes,
    Checkpoint,
    Restore,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::Create => "create",
            Operation::Start => "start",
            Operation::Run => "run",
            Operation::State => "read the state of",
            Operation::Kill => "signal",
            Operation::Delete => "delete",
            Operation::Exec => "exec in",
            Operation::Pause => "pause",
            Operation::Resume => "resume",
            Operation::Update => "update",
            Operation::Events => "read the statistics of",
            Operation::Processes => "list the processes of",
            Operation::Checkpoint => "checkpoint",
            Operation::Restore => "restore",
        })
    }
}

impl Error {
    /// The kind of an internal error of `op` on `id`, found in its chain; the chain is kept
    /// (as the message, as `cause`, or whole in `Other`).
    fn classify(id: &str, op: Operation, e: anyhow::Error) -> Error {
        enum Found {
            Missing,
            Exists,
            Status(Status),
            Config,
        }
        let found = e.chain().find_map(|c| {
            if let Some(k) = c.downcast_ref::<error::Kind>() {
                return Some(match k {
                    error::Kind::NotFound => Found::Missing,
                    error::Kind::Exists(_) => Found::Exists,
                    error::Kind::NotRunning => Found::Status(Status::Stopped),
                });
            }
            if let Some(w) = c.downcast_ref::<state::WrongStatus>() {
                return Some(Found::Status(w.0));
            }
            c.is::<error::BadConfig>().then_some(Found::Config)
        });
        let id = id.to_string();
        match found {
            Some(Found::Missing) => return Error::NotFound { id },
            Some(Found::Exists) => return Error::Exists { id },
            Some(Found::Status(status)) => return Error::WrongStatus { id, op, status },
            Some(Found::Config) => return Error::bad_config(e),
            None => {}
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
                cause: e,
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
            cause: e,
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

/// How the texts the library writes itself (warnings, a container's init's last words) name
/// the options an error is about ([`Opt`], found in a chain as [`OptError`]): the carrack
/// binary names them by its flags. Plain words unless called; the first call decides.
pub fn name_options(names: fn(Opt) -> &'static str) {
    error::name_options(names)
}

/// Cgroups through systemd (a transient unit per container, over D-Bus) instead of cgroupfs,
/// for the containers this process creates: refused when systemd does not run.
pub fn use_systemd_cgroups() -> Result<()> {
    cgroups::systemd::enable().map_err(Error::Other)
}

/// Rootless cgroups (runc's --rootless): a cgroup the container cannot get is done without,
/// where no linux.cgroupsPath asks for one. None: on for a non-root caller or one in a user
/// namespace (runc's auto, the default).
pub fn set_rootless_cgroups(on: Option<bool>) {
    rootless::set_cgroups(on)
}

/// runc's default state directory for this caller: /run/carrack, or
/// $XDG_RUNTIME_DIR/carrack for a rootless one.
pub fn default_root() -> PathBuf {
    rootless::default_root()
}

/// A config.json for a bundle whose rootfs is `rootfs/`, running `sh` (runc's `spec`);
/// `rootless`: for a non-root caller (a user namespace mapping it to root).
pub fn default_spec(rootless: bool) -> serde_json::Value {
    config::default_spec(rootless)
}

/// Create the container `id` from `opts.bundle` under the state directory `root` and leave
/// it created (init waits for [`start`]); returns init's pid. Init is our child: whoever
/// outlives it reaps it (see examples/lifecycle.rs).
pub fn create(root: &Path, id: &str, opts: &CreateOptions) -> Result<i32> {
    valid_id(id)?;
    container::create(root, id, opts, None).map_err(|e| Error::classify(id, Operation::Create, e))
}

/// Let a created container run its process.
pub fn start(root: &Path, id: &str) -> Result<()> {
    valid_id(id)?;
    container::start(root, id).map_err(|e| Error::classify(id, Operation::Start, e))
}

/// Create and start the container `id`; unless `opts.detach`, wait for it, delete it (unless
/// `opts.keep`) and return its exit code (128+N when signal N killed it). A terminal
/// container's pty is relayed to our stdio when no console socket is given.
pub fn run(root: &Path, id: &str, opts: &RunOptions) -> Result<i32> {
    valid_id(id)?;
    container::run(root, id, opts).map_err(|e| Error::classify(id, Operation::Run, e))
}

/// What `state` reports of a container.
#[derive(Debug, Clone)]
pub struct ContainerState {
    pub id: String,
    pub status: Status,
    /// Init's pid (0 once stopped, as runc reports it).
    pub pid: i32,
    pub bundle: PathBuf,
    /// The root filesystem, resolved.
    pub rootfs: PathBuf,
    /// RFC 3339.
    pub created: String,
    pub annotations: std::collections::BTreeMap<String, String>,
    /// The owner recorded in the state (runc's `state` field; empty for root).
    pub owner: String,
    /// The user owning the container (its state directory).
    pub owner_uid: u32,
}

impl ContainerState {
    /// The state object runc's `state` prints and hooks read on stdin (runtime-spec's state
    /// plus runc's rootfs, created and owner), keys in runc's order.
    pub fn to_json(&self) -> serde_json::Value {
        state::Summary {
            id: &self.id,
            pid: self.pid,
            status: self.status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: &self.annotations,
            owner: &self.owner,
        }
        .to_json()
    }
}

fn container_state((s, status, owner_uid): state::Loaded) -> ContainerState {
    ContainerState {
        pid: if status == Status::Stopped { 0 } else { s.pid },
        id: s.id,
        status,
        bundle: s.bundle,
        rootfs: s.rootfs,
        created: s.created,
        annotations: s.annotations,
        owner: s.owner,
        owner_uid,
    }
}

/// The container's state.
pub fn state(root: &Path, id: &str) -> Result<ContainerState> {
    valid_id(id)?;
    let classify = |e| Error::classify(id, Operation::State, e);
    let loaded = state::Store::new(root)
        .and_then(|st| st.load_owned(id))
        .map_err(classify)?;
    Ok(container_state(loaded))
}

/// Every container under `root` that reads, by id; each is read when the iterator reaches
/// it (a damaged one is logged and left out). None when `root` does not exist.
pub fn list(root: &Path) -> Result<impl Iterator<Item = ContainerState>> {
    let entries = match root.exists() {
        true => Some(
            state::Store::new(root)
                .and_then(|st| st.list())
                .map_err(Error::Other)?,
        ),
        false => None,
    };
    Ok(entries
        .into_iter()
        .flatten()
        .filter_map(|entry| match entry {
            Ok(loaded) => Some(container_state(loaded)),
            Err((id, e)) => {
                logging::warn(&format!("list: {id}: {e:#}"));
                None
            }
        }))
}

/// Send signal number `signal` to init, or with `all` to every process of the container.
/// A number, not a `nix` Signal: 0 probes, and real-time signals have no `nix` Signal.
pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    valid_id(id)?;
    container::kill(root, id, signal, all).map_err(|e| Error::classify(id, Operation::Kill, e))
}

/// Remove a stopped container (with `force`, a running one is killed first, and a damaged
/// or half-created one is removed).
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    valid_id(id)?;
    container::delete(root, id, force).map_err(|e| Error::classify(id, Operation::Delete, e))
}

/// Run a new process in the container; returns its exit code (0 with `req.detach`).
pub fn exec(root: &Path, id: &str, req: ExecRequest) -> Result<i32> {
    valid_id(id)?;
    container::exec(root, id, req).map_err(|e| Error::classify(id, Operation::Exec, e))
}

/// Freeze every process of the container.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    valid_id(id)?;
    container::pause(root, id).map_err(|e| Error::classify(id, Operation::Pause, e))
}

/// Thaw a paused container.
pub fn resume(root: &Path, id: &str) -> Result<()> {
    valid_id(id)?;
    container::resume(root, id).map_err(|e| Error::classify(id, Operation::Resume, e))
}

/// Change the container's resources: the fields set in `resources` replace its own.
pub fn update(root: &Path, id: &str, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
    valid_id(id)?;
    let changes = serde_json::to_value(resources).map_err(|e| Error::Other(e.into()))?;
    container::update(root, id, changes).map_err(|e| Error::classify(id, Operation::Update, e))
}

/// One sample of the container's statistics (its cgroup's, and the network interfaces of
/// its netns), in the shape of runc's `events --stats`; a stopped container has none.
pub fn events(root: &Path, id: &str) -> Result<serde_json::Value> {
    valid_id(id)?;
    container::stats_sample(root, id).map_err(|e| Error::classify(id, Operation::Events, e))
}

/// A sample of the statistics now and every `interval`, and each OOM kill as it happens,
/// until the container stops (runc's `events`).
pub fn watch_events(root: &Path, id: &str, interval: Duration) -> Result<Events> {
    valid_id(id)?;
    let inner = container::watch_events(root, id, interval)
        .map_err(|e| Error::classify(id, Operation::Events, e))?;
    Ok(Events {
        inner,
        id: id.to_string(),
    })
}

/// What [`watch_events`] returns: it reads the state once per interval, when it is iterated.
pub struct Events {
    inner: container::Events,
    id: String,
}

impl Iterator for Events {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        let id = &self.id;
        self.inner
            .next()
            .map(|r| r.map_err(|e| Error::classify(id, Operation::Events, e)))
    }
}

/// The container's processes (host pids, sorted); none once it has stopped.
pub fn processes(root: &Path, id: &str) -> Result<Vec<i32>> {
    valid_id(id)?;
    container::processes_of(root, id).map_err(|e| Error::classify(id, Operation::Processes, e))
}

/// Checkpoint the container `opts.id` through CRIU (the program `criu`) into
/// `opts.criu.image_path`; unless `opts.leave_running` (or a pre-dump), it is then deleted.
pub fn checkpoint(root: &Path, criu: &Path, opts: &CheckpointOptions) -> Result<()> {
    let id = &opts.id;
    valid_id(id)?;
    container::checkpoint::checkpoint(root, criu, opts)
        .map_err(|e| Error::classify(id, Operation::Checkpoint, e))
}

/// Restore a checkpoint as the new container `opts.id` of `opts.bundle`; returns its exit
/// code in the foreground, 0 with `opts.detach`.
pub fn restore(root: &Path, criu: &Path, opts: &RestoreOptions) -> Result<i32> {
    let id = &opts.id;
    valid_id(id)?;
    container::checkpoint::restore(root, criu, opts)
        .map_err(|e| Error::classify(id, Operation::Restore, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_kind_is_found_in_the_chain() {
        let c = |e: anyhow::Error, op| Error::classify("c1", op, e);
        let e = c(error::Kind::NotFound.into(), Operation::Kill);
        assert!(
            matches!(e, Error::NotFound { ref id } if id == "c1"),
            "{e:?}"
        );
        let e = c(error::Kind::Exists("c1".into()).into(), Operation::Create);
        assert!(matches!(e, Error::Exists { ref id } if id == "c1"), "{e:?}");
        let e = c(state::WrongStatus(Status::Paused).into(), Operation::Pause);
        assert!(
            matches!(
                e,
                Error::WrongStatus {
                    op: Operation::Pause,
                    status: Status::Paused,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "cannot pause container \"c1\": it is paused");
        // Init gone under us: the container is stopped.
        let e = c(error::Kind::NotRunning.into(), Operation::Exec);
        assert!(
            matches!(
                e,
                Error::WrongStatus {
                    status: Status::Stopped,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn config_and_kernel_errors_keep_the_whole_error() {
        let cfg = error::BadConfig::mark(anyhow::anyhow!(
            "process.cwd \"x\": must be an absolute path"
        ));
        match Error::classify("c1", Operation::Create, cfg) {
            Error::BadConfig {
                field,
                reason,
                cause,
            } => {
                assert_eq!(field, "process.cwd");
                assert_eq!(reason, "\"x\": must be an absolute path");
                assert_eq!(
                    format!("{cause:#}"),
                    "process.cwd \"x\": must be an absolute path"
                );
            }
            other => panic!("{other:?}"),
        }
        let io = Err::<(), _>(std::io::Error::from_raw_os_error(libc::EACCES))
            .context("open /x")
            .unwrap_err();
        match Error::classify("c1", Operation::Create, io) {
            Error::Kernel { op, errno, cause } => {
                assert_eq!(op, "open /x");
                assert_eq!(errno, nix::errno::Errno::EACCES);
                assert_eq!(
                    format!("{cause:#}"),
                    "open /x: Permission denied (os error 13)"
                );
            }
            other => panic!("{other:?}"),
        }
        let e = Error::classify("c1", Operation::Start, anyhow::anyhow!("hook failed"));
        assert!(matches!(e, Error::Other(_)), "{e:?}");
    }
}
