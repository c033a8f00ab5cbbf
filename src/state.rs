//! The state store: `<root>/<id>/state.json` plus `exec.fifo`.
//!
//! - A container directory appears atomically: it is built as a hidden temp dir holding state.json
//!   and renamed into place with RENAME_NOREPLACE, so two creates of one id give exactly one winner
//!   and no reader ever sees a directory without state.
//! - Commands on one id are serialized by an exclusive flock on the container directory itself;
//!   different ids never block each other. `create` holds that lock until init is ready, so a
//!   state whose phase is `Creating` and whose lock is free belongs to a create that died.
//! - state.json is rewritten atomically (temp file, rename; see `write_atomic` on fsync).
//! - The status is never stored: it is derived from the init process (alive, same start time,
//!   not a zombie) and the presence of exec.fifo.

use crate::cgroups::{Cgroup, Freezer};
use crate::error::{Opt, OptContext};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
pub const CONFIG_FILE: &str = "config.json";

/// How far `create` got. Written before each step that leaves something on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Creating,
    Created,
}

/// A container's state.json. Generic in its cgroup only for `list`, which reads
/// `StateOf<FreezerOnly>`: of the cgroup's directories (a dozen on v1) it keeps only the one
/// `status_of` reads, which made the parse four times cheaper.
pub type State = StateOf<Cgroup>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateOf<C> {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The container's init pid in the host pid namespace; 0 until it exists.
    pub pid: i32,
    /// Start time of `pid` (clock ticks, /proc/<pid>/stat field 22) to detect pid reuse.
    pub pid_start: u64,
    pub created: String,
    pub owner: String,
    pub phase: Phase,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub cgroup: C,
    /// `create --no-new-keyring`: exec then keeps the caller's session keyring too (runc).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_new_keyring: bool,
}

impl StateOf<FreezerOnly> {
    fn into_state(self) -> State {
        State {
            id: self.id,
            bundle: self.bundle,
            rootfs: self.rootfs,
            pid: self.pid,
            pid_start: self.pid_start,
            created: self.created,
            owner: self.owner,
            phase: self.phase,
            annotations: self.annotations,
            cgroup: self.cgroup.0,
            no_new_keyring: self.no_new_keyring,
        }
    }
}

/// A cgroup as `list` reads it from state.json: only its freezer's directory.
#[derive(Default, Deserialize)]
pub struct FreezerOnly(#[serde(deserialize_with = "Cgroup::deserialize_freezer_only")] Cgroup);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation found: the container's status forbids it (a kind of error: lib.rs adds
/// the operation, the binary prints runc's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongStatus(pub Status);

impl std::fmt::Display for WrongStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the container is {}", self.0)
    }
}

impl std::error::Error for WrongStatus {}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// One entry of `list`: the state, or the id and why it could not be read.
pub type Listed = Result<Loaded, (String, anyhow::Error)>;

/// A container as `load_owned` reads it: its state, status, and the uid owning its directory.
pub type Loaded = (State, Status, u32);

/// The state object runc prints and hooks read on stdin (runtime-spec state plus runc's
/// rootfs, created, owner), its keys in runc's order (serde_json keeps insertion order).
pub fn state_json(s: &State, status: Status) -> serde_json::Value {
    Summary {
        id: &s.id,
        pid: if status == Status::Stopped { 0 } else { s.pid },
        status,
        bundle: &s.bundle,
        rootfs: &s.rootfs,
        created: &s.created,
        annotations: &s.annotations,
        owner: &s.owner,
    }
    .to_json()
}

/// The fields of that state object, borrowed (from a State, or from the library's
/// ContainerState): one builder for hooks, `state` and `list`.
pub struct Summary<'a> {
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub annotations: &'a BTreeMap<String, String>,
    pub owner: &'a str,
}

impl Summary<'_> {
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": crate::config::OCI_VERSION,
            "id": self.id,
            "pid": self.pid,
            "status": self.status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v["owner"] = self.owner.into();
        v
    }
}

#[derive(Clone)]
pub struct Store {
    root: PathBuf,
}

/// A container directory held under its exclusive lock. The lock goes with the fd.
pub struct Locked {
    dir: File,
    pub path: PathBuf,
    pub state: State,
}

impl Store {
    pub fn new(root: &Path) -> Result<Store> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_opt_context(|| Opt::Root.said(format!(" {}: cannot create", root.display())))?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Create `<root>/<id>` with its first state.json, locked. Fails if the id is taken.
    pub fn create(&self, state: State) -> Result<Locked> {
        let tmp = self
            .root
            .join(format!(".{}.creating-{}", state.id, std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::DirBuilder::new()
            .mode(0o711)
            .create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let built = (|| -> Result<Locked> {
            let dir = File::open(&tmp)?;
            flock(&dir, libc::LOCK_EX)?;
            write_atomic(&tmp, &state)?;
            let path = self.dir(&state.id);
            rename_noreplace(&tmp, &path).map_err(|e| {
                if e.raw_os_error() == Some(libc::EEXIST)
                    || e.raw_os_error() == Some(libc::ENOTEMPTY)
                {
                    crate::error::Kind::Exists(state.id.clone()).into()
                } else {
                    anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
                }
            })?;
            Ok(Locked { dir, path, state })
        })();
        if built.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        built
    }

    /// Remove the temp dirs of creates of `id` that died before their rename (their lock is free).
    /// Nothing else exists yet at that stage of create.
    pub fn sweep_dead_creates(&self, id: &str) {
        let prefix = format!(".{id}.creating-");
        let Ok(rd) = fs::read_dir(&self.root) else {
            return;
        };
        for e in rd.flatten() {
            if !e.file_name().to_string_lossy().starts_with(&prefix) {
                continue;
            }
            let Ok(dir) = File::open(e.path()) else {
                continue;
            };
            // SAFETY: flock takes integers only; the fd is dir's, open here.
            let free = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
            if free {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }

    /// Open and exclusively lock an existing container.
    pub fn lock(&self, id: &str) -> Result<Locked> {
        let path = self.dir(id);
        let (dir, _) = open_existing_dir(&path)?;
        flock(&dir, libc::LOCK_EX)?;
        // The directory may have been deleted while we waited for the lock.
        if nix::sys::stat::fstat(&dir)?.st_nlink == 0 {
            return Err(crate::error::Kind::NotFound.into());
        }
        let state = read_state(&path)?;
        Ok(Locked { dir, path, state })
    }

    /// Read without taking the lock: state.json is only ever replaced atomically.
    pub fn load(&self, id: &str) -> Result<(State, Status)> {
        self.load_owned(id)
            .map(|(state, status, _)| (state, status))
    }

    /// `load`, and the uid owning the container's directory (`list` shows its name).
    pub fn load_owned(&self, id: &str) -> Result<Loaded> {
        let path = self.dir(id);
        let (dir, owner) = open_existing_dir(&path)?;
        let state = read_state(&path)?;
        let status = status_of(&state, Where::path(&path), Some(&dir));
        Ok((state, status, owner))
    }

    /// Every container under the root, sorted by id; unreadable entries are reported, not hidden.
    /// Each state is read when the iterator reaches it: `list` of 1,000 containers holds one.
    pub fn list(&self) -> Result<impl Iterator<Item = Listed>> {
        let me = nix::unistd::geteuid().as_raw();
        let mut ids: Vec<String> = fs::read_dir(&self.root)
            .with_opt_context(|| Opt::Root.said(format!(" {}: cannot list", self.root.display())))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            // A rootless user does not see other users' containers in a shared --root.
            .filter(|e| {
                use std::os::unix::fs::MetadataExt;
                me == 0 || e.metadata().is_ok_and(|m| m.uid() == me)
            })
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        ids.sort();
        let store = self.clone();
        let fds = ListFds::open(&self.root)?;
        Ok(ids
            .into_iter()
            .map(move |id| store.load_listed(&fds, &id, me).map_err(|e| (id, e))))
    }

    /// `load_owned` for `list`, in fewer syscalls: the directory is one fstatat (its owner,
    /// and that it is a directory, not followed if a link) instead of an open, fstat and
    /// close; its files are found from the root's fd; only a state still `Creating` needs a
    /// real fd, to probe the lock. The cgroup read is only its freezer, and freezer.state only
    /// when init may be frozen (`status_of`). A created or running container: 8 syscalls.
    fn load_listed(&self, fds: &ListFds, id: &str, me: u32) -> Result<Loaded> {
        use crate::linux::fs::{lstat_at, read_replaced_file_at};
        let path = self.dir(id);
        let root = fds.root.as_raw_fd();
        let st = match lstat_at(root, Path::new(id)) {
            Ok(st) => st,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(crate::error::Kind::NotFound.into())
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("cannot stat {}", path.display())))
            }
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            bail!("{}: not a directory", path.display());
        }
        let owner = st.st_uid;
        check_owner(&path, owner, me)?;
        let at = Where {
            at: root,
            dir: Path::new(id),
            proc_: fds.proc_(),
            cgroup_parent: Some(&fds.cgroup_parent),
        };
        let text = read_replaced_file_at(root, &at.dir.join(STATE_FILE))
            .with_context(|| format!("cannot read {}", path.join(STATE_FILE).display()))?;
        let state = parse_as::<FreezerOnly>(&text, &path.join(STATE_FILE))?.into_state();
        let dir = match state.phase {
            Phase::Creating => Some(open_existing_dir(&path)?.0),
            Phase::Created => None,
        };
        let status = status_of(&state, at, dir.as_ref());
        Ok((state, status, owner))
    }
}

impl Locked {
    pub fn save(&self) -> Result<()> {
        write_atomic(&self.path, &self.state)
    }

    pub fn status(&self) -> Status {
        // We hold the lock, so a Creating phase here means that create died (or is us).
        status_of(&self.state, Where::path(&self.path), None)
    }

    /// The fd that carries the lock: a cloned init must close it, or the lock lives on in it.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self.dir.as_raw_fd()
    }

    /// The config the container was created with, kept for exec, start and delete (hooks):
    /// the bundle may change or go away after create.
    pub fn save_config(&self, spec: &oci_spec::runtime::Spec) -> Result<()> {
        self.save_config_as(Arc::new(spec.clone()), &serde_json::to_vec(spec)?)
    }

    /// `save_config` with `text`, bytes that parse to `spec` as they are (the bundle's
    /// config.json, config::load_with_text): serializing the Spec again cost `run` thousands
    /// of small writes before clone3.
    pub fn save_config_as(&self, spec: Arc<oci_spec::runtime::Spec>, text: &[u8]) -> Result<()> {
        let p = self.path.join(CONFIG_FILE);
        fs::write(&p, text).with_context(|| format!("write {}", p.display()))?;
        *CONFIG_MEMO.lock().unwrap_or_else(|e| e.into_inner()) = Some((p, spec));
        Ok(())
    }

    /// Shared with the memo: `run` reads its own config back twice (start, delete).
    pub fn config(&self) -> Result<Arc<oci_spec::runtime::Spec>> {
        let p = self.path.join(CONFIG_FILE);
        if let Some((memo, spec)) = &*CONFIG_MEMO.lock().unwrap_or_else(|e| e.into_inner()) {
            if *memo == p {
                return Ok(spec.clone());
            }
        }
        let text = fs::read(&p).with_context(|| format!("read {}", p.display()))?;
        crate::config::from_json(&text)
            .map(Arc::new)
            .map_err(|e| anyhow::anyhow!("{}: corrupt: {}: {}", p.display(), e.path(), e.inner()))
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Remove the container directory; the lock is released when `self` drops.
    pub fn destroy(self) -> Result<()> {
        fs::remove_dir_all(&self.path)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .with_context(|| format!("cannot remove {}", self.path.display()))?;
        drop(self.dir);
        Ok(())
    }
}

/// The directory, and the uid owning it.
fn open_existing_dir(path: &Path) -> Result<(File, u32)> {
    let dir = crate::linux::fs::open_cloexec(path, libc::O_RDONLY | libc::O_DIRECTORY)
        .map(File::from)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                crate::error::Kind::NotFound.into()
            } else {
                anyhow::Error::new(e).context(format!("cannot open {}", path.display()))
            }
        })?;
    let owner = nix::sys::stat::fstat(&dir)?.st_uid;
    check_owner(path, owner, nix::unistd::geteuid().as_raw())?;
    Ok((dir, owner))
}

/// A rootless user acts on their own containers only, whatever a shared --root lets them
/// open (the permissions of the state directory are the first line).
fn check_owner(path: &Path, owner: u32, me: u32) -> Result<()> {
    if me != 0 && owner != me {
        bail!(
            "{}: the container belongs to uid {owner}, not to you (uid {me})",
            path.display()
        );
    }
    Ok(())
}

/// The config this process saved, by path: `run` creates, starts and deletes in one process
/// and would otherwise parse its own copy back twice (60 KiB with Docker's seccomp profile).
static CONFIG_MEMO: std::sync::Mutex<Option<(PathBuf, Arc<oci_spec::runtime::Spec>)>> =
    std::sync::Mutex::new(None);

fn read_state(dir: &Path) -> Result<State> {
    let file = dir.join(STATE_FILE);
    let text = crate::linux::fs::read_bytes(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    parse_state(&text, &file)
}

/// state.json's bytes to a State; an error names `file` (fuzz/ fuzzes this).
pub fn parse_state(text: &[u8], file: &Path) -> Result<State> {
    parse_as(text, file)
}

/// The UTF-8 check is done once for the file, not once per string (as serde_json's
/// from_slice does).
fn parse_as<C: serde::de::DeserializeOwned + Default>(
    text: &[u8],
    file: &Path,
) -> Result<StateOf<C>> {
    let corrupt = || {
        Opt::ForceDelete.within(
            format!("{}: corrupt state, remove it with ", file.display()),
            "",
        )
    };
    let text = std::str::from_utf8(text).with_opt_context(corrupt)?;
    serde_json::from_str(text).with_opt_context(corrupt)
}

fn write_atomic(dir: &Path, state: &State) -> Result<()> {
    let tmp = dir.join(".state.json.tmp");
    let final_path = dir.join(STATE_FILE);
    let mut f = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    // No fsync: the rename is what makes the update atomic against carrack being killed. Only a
    // host crash could leave a torn file, and that also ends every container; such a file reads
    // as "corrupt state", which `list` reports and `delete --force` removes. fsync cost ~0.8 ms
    // per save on this disk, a fifth of create.
    f.write_all(&serde_json::to_vec(state)?)?;
    fs::rename(&tmp, &final_path).with_context(|| format!("cannot write {}", final_path.display()))
}

fn flock(f: &File, op: i32) -> Result<()> {
    loop {
        // SAFETY: flock takes integers only; the fd is f's, open for the call.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err).context("cannot lock the container directory");
        }
    }
}

fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let f = CString::new(from.as_os_str().as_bytes())?;
    let t = CString::new(to.as_os_str().as_bytes())?;
    // The raw syscall: musl has no renameat2 wrapper.
    // SAFETY: `f` and `t` are NUL-terminated CStrings alive for the call; the other arguments are
    // integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The fds `list` opens once: its root, /proc (by path if it cannot be opened), and the
/// parent of the containers' freezer cgroups.
struct ListFds {
    root: std::os::fd::OwnedFd,
    proc_fd: Option<std::os::fd::OwnedFd>,
    cgroup_parent: CgroupParent,
}

/// The directory above the last container's freezer cgroup, open: the containers of one root
/// mostly share it (`/sys/fs/cgroup/freezer/<id>`, `…/docker/<id>`), and from it the walk to
/// freezer.state is two components instead of six.
#[derive(Default)]
struct CgroupParent(std::cell::RefCell<Option<(PathBuf, std::os::fd::OwnedFd)>>);

impl CgroupParent {
    fn is_frozen(&self, f: &Freezer) -> bool {
        let Some(parent) = f.dir().parent() else {
            return f.is_frozen();
        };
        let mut cached = self.0.borrow_mut();
        if cached.as_ref().is_none_or(|(p, _)| p != parent) {
            let dir = libc::O_PATH | libc::O_DIRECTORY;
            match crate::linux::fs::open_cloexec(parent, dir) {
                Ok(fd) => *cached = Some((parent.to_owned(), fd)),
                // No parent: no cgroup, nothing frozen.
                Err(_) => return false,
            }
        }
        cached
            .as_ref()
            .is_some_and(|(_, fd)| f.is_frozen_in(fd.as_raw_fd()))
    }
}

impl ListFds {
    fn open(root: &Path) -> Result<ListFds> {
        use crate::linux::fs::open_cloexec;
        let dir = libc::O_PATH | libc::O_DIRECTORY;
        let root = open_cloexec(root, dir)
            .with_opt_context(|| Opt::Root.said(format!(" {}: cannot open", root.display())))?;
        let proc_fd = open_cloexec(Path::new("/proc"), dir).ok();
        Ok(ListFds {
            root,
            proc_fd,
            cgroup_parent: CgroupParent::default(),
        })
    }

    fn proc_(&self) -> Proc {
        self.proc_fd
            .as_ref()
            .map_or(Proc::Path, |f| Proc::Fd(f.as_raw_fd()))
    }
}

/// Where `status_of` looks: the container's directory `dir`, relative to the directory fd
/// `at` (AT_FDCWD for a path), and /proc.
#[derive(Clone, Copy)]
struct Where<'a> {
    at: std::os::fd::RawFd,
    dir: &'a Path,
    proc_: Proc,
    cgroup_parent: Option<&'a CgroupParent>,
}

impl<'a> Where<'a> {
    fn path(dir: &'a Path) -> Where<'a> {
        Where {
            at: libc::AT_FDCWD,
            dir,
            proc_: Proc::Path,
            cgroup_parent: None,
        }
    }
}

/// The truthful status. `dir` (unlocked readers) lets a Creating phase be told apart from a dead
/// create: a live create holds the lock.
fn status_of(state: &State, w: Where<'_>, dir: Option<&File>) -> Status {
    if state.phase == Phase::Creating {
        let create_alive = dir.is_some_and(|d| {
            // SAFETY: flock takes integers only; the fd is d's, open here.
            let r = unsafe { libc::flock(d.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
            r != 0
        });
        if let Some(d) = dir {
            // SAFETY: flock takes integers only; the fd is d's, open here.
            unsafe { libc::flock(d.as_raw_fd(), libc::LOCK_UN) };
        }
        return if create_alive {
            Status::Creating
        } else {
            Status::Stopped
        };
    }
    let Some(init_state) = live_state_in(w.proc_, state.pid, state.pid_start) else {
        return Status::Stopped;
    };
    // As runc: paused when the freezer says FROZEN. Init is in the cgroup, so its state letter
    // can rule that out before the cgroupfs read (on v1: a third of `list`'s kernel time).
    let frozen = state.cgroup.freezer().is_ok_and(|f| {
        f.may_be_frozen_with(init_state)
            && match w.cgroup_parent {
                Some(p) => p.is_frozen(&f),
                None => f.is_frozen(),
            }
    });
    if frozen {
        return Status::Paused;
    }
    if crate::linux::fs::stat_at(w.at, &w.dir.join(EXEC_FIFO)).is_ok() {
        Status::Created
    } else {
        Status::Running
    }
}

// In linux/process.rs (linux/pidfd.rs needs them, and linux/ is below state.rs).
use crate::linux::process::{live_state_in, Proc};
pub use crate::linux::process::{proc_stat, process_alive};

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str) -> State {
        State {
            id: id.into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            pid: 0,
            pid_start: 0,
            created: "2026-01-01T00:00:00Z".into(),
            owner: String::new(),
            phase: Phase::Created,
            annotations: BTreeMap::new(),
            cgroup: Cgroup::default(),
            no_new_keyring: false,
        }
    }

    /// Property: a damaged or mutated state.json is an error naming the file, never a panic;
    /// one that reads prints as `state` JSON.
    #[test]
    fn damaged_state_files_are_errors_not_panics() {
        use crate::mutate::{check, damaged_bytes};
        let dir = tempfile::tempdir().unwrap();
        let mut good = sample("x");
        good.pid = 4242;
        good.annotations
            .insert("org.example/key".into(), "v".into());
        let good = serde_json::to_value(good).unwrap();
        check(file!(), 3000, damaged_bytes(good), |bytes| {
            std::fs::write(dir.path().join(STATE_FILE), &bytes.0).unwrap();
            match read_state(dir.path()) {
                Err(e) => {
                    proptest::prop_assert!(format!("{e:#}").contains("corrupt state"), "{e:#}")
                }
                Ok(st) => {
                    state_json(&st, Status::Stopped);
                }
            }
            Ok(())
        });
    }

    #[test]
    fn create_is_exclusive_and_atomic() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path()).unwrap();
        let first = store.create(sample("a")).unwrap();
        let err = store.create(sample("a")).err().unwrap();
        assert_eq!(
            err.downcast_ref::<crate::error::Kind>(),
            Some(&crate::error::Kind::Exists("a".into())),
            "{err}"
        );
        drop(first);
        // no temp dirs left behind by the failed create
        let names: Vec<_> = fs::read_dir(root.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn dead_pid_reads_stopped_and_destroy_removes() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path()).unwrap();
        let mut st = sample("b");
        st.pid = i32::MAX - 1; // no such process
        st.pid_start = 1;
        store.create(st).unwrap();
        let (_, status) = store.load("b").unwrap();
        assert_eq!(status, Status::Stopped);
        let locked = store.lock("b").unwrap();
        locked.destroy().unwrap();
        assert!(store.load("b").is_err());
        let err = store.lock("b").err().unwrap();
        assert_eq!(
            err.downcast_ref::<crate::error::Kind>(),
            Some(&crate::error::Kind::NotFound),
            "{err}"
        );
    }

    #[test]
    fn live_process_with_fifo_is_created_and_reuse_is_stopped() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path()).unwrap();
        let me = std::process::id() as i32;
        let (_, start) = proc_stat(me).unwrap();
        let mut st = sample("c");
        st.pid = me;
        st.pid_start = start;
        let locked = store.create(st).unwrap();
        File::create(locked.fifo()).unwrap();
        drop(locked);
        assert_eq!(store.load("c").unwrap().1, Status::Created);
        fs::remove_file(store.dir("c").join(EXEC_FIFO)).unwrap();
        assert_eq!(store.load("c").unwrap().1, Status::Running);
        let mut locked = store.lock("c").unwrap();
        locked.state.pid_start = start + 1; // as if the pid had been reused
        locked.save().unwrap();
        drop(locked);
        assert_eq!(store.load("c").unwrap().1, Status::Stopped);
    }

    #[test]
    fn creating_phase_with_free_lock_is_a_dead_create() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path()).unwrap();
        let mut st = sample("d");
        st.phase = Phase::Creating;
        let held = store.create(st).unwrap();
        // A separate open file description sees the lock held by `held`.
        assert_eq!(store.load("d").unwrap().1, Status::Creating);
        drop(held);
        assert_eq!(store.load("d").unwrap().1, Status::Stopped);
    }

    #[test]
    fn corrupt_state_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path()).unwrap();
        fs::create_dir(root.path().join("e")).unwrap();
        fs::write(root.path().join("e").join(STATE_FILE), b"{\"id\":").unwrap();
        let err = store.load("e").unwrap_err();
        assert!(format!("{err:#}").contains("corrupt state"), "{err:#}");
    }
}
