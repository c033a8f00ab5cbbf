//! The container's cgroup: one directory per mounted hierarchy (every v1 hierarchy, the
//! cgroup2 one, or both on a hybrid host), created or joined at create, removed at delete.
//!
//! `Cgroup` is plain data (serialized into state.json) and every operation walks its `dirs`,
//! dispatching on `CgroupDir::kind()` to `v1` or `v2`. Resources (resources.rs routing,
//! planned as `write::Write`s by v1.rs / v2.rs, devices.rs + bpf.rs for device rules),
//! freezer.rs and stats.rs work on the same dirs.

mod bpf;
pub mod dbus;
mod devices;
mod freezer;
mod oom;
mod parse;
mod resources;
mod stats;
pub mod systemd;
mod v1;
mod v2;
mod write;

use crate::error::Opt;
use anyhow::{bail, Context, Result};
pub use freezer::Freezer;
pub use oom::OomWatch;
use parse::{CgroupMount, ProcCgroup};
use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Layout {
    V1,
    Hybrid,
    Unified,
}

/// The host's cgroup layout, read from /proc/self/mountinfo once per process.
pub fn detect_layout() -> Result<Layout> {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    if let Some(l) = LAYOUT.get() {
        return Ok(*l);
    }
    let l = layout_of(&host_mounts()?)?;
    Ok(*LAYOUT.get_or_init(|| l))
}

fn layout_of(mounts: &[CgroupMount]) -> Result<Layout> {
    let v1 = mounts.iter().any(|m| !m.unified);
    let v2 = mounts.iter().any(|m| m.unified);
    Ok(match (v1, v2) {
        (true, true) => Layout::Hybrid,
        (true, false) => Layout::V1,
        (false, true) => Layout::Unified,
        (false, false) => bail!("no cgroup filesystem is mounted"),
    })
}

/// The cgroup mounts of /proc/self/mountinfo, read once per process (layout and paths both
/// need them).
fn host_mounts() -> Result<Vec<CgroupMount>> {
    static MOUNTS: OnceLock<Vec<CgroupMount>> = OnceLock::new();
    if let Some(m) = MOUNTS.get() {
        return Ok(m.clone());
    }
    let text =
        crate::linux::fs::read_text("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    let mounts = parse::select_mounts(parse::parse_mountinfo(&text)?);
    Ok(MOUNTS.get_or_init(|| mounts).clone())
}

fn own_cgroups() -> Result<Vec<ProcCgroup>> {
    let text =
        crate::linux::fs::read_text("/proc/self/cgroup").context("read /proc/self/cgroup")?;
    parse::parse_proc_cgroup(&text)
}

/// One directory on one hierarchy. Serialized into the container's state.json, so a later
/// carrack process (delete --force after a crash) can find and remove it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CgroupDir {
    /// "memory", "cpu,cpuacct", "name=systemd" (v1, as in /proc/self/cgroup) or "unified".
    pub hierarchy: String,
    /// Absolute host path of the dir.
    pub path: PathBuf,
    /// Dirs carrack mkdir'ed, parents first; only these are removed.
    pub created: Vec<PathBuf>,
}

enum Kind<'a> {
    V1 { controllers: &'a str },
    Unified,
}

impl CgroupDir {
    fn kind(&self) -> Kind<'_> {
        if self.hierarchy == v2::HIERARCHY {
            Kind::Unified
        } else {
            Kind::V1 {
                controllers: &self.hierarchy,
            }
        }
    }

    /// mkdir -p, then (`prepare`) ready each new dir for tasks (`prepare_created`).
    fn create(&mut self, prepare: bool) -> Result<()> {
        if let Kind::V1 { controllers } = self.kind() {
            v1::prepare_existing(controllers, &self.path)?;
        }
        for dir in missing_ancestors(&self.path)? {
            match fs::create_dir(&dir) {
                Ok(()) => {}
                // Raced with another creator: it is theirs, not ours (drop it from the intent).
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    self.created.retain(|c| c != &dir);
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("mkdir {}", dir.display())),
            }
            if !self.created.contains(&dir) {
                self.created.push(dir.clone());
            }
            if prepare {
                self.prepare_one(&dir)?;
            }
        }
        Ok(())
    }

    /// A new v1 cpuset dir gets its parent's cpus and mems (empty, it refuses tasks).
    fn prepare_one(&self, dir: &Path) -> Result<()> {
        match self.kind() {
            Kind::V1 { controllers } => v1::init_created(controllers, dir),
            // Nothing to prepare until controllers are enabled (resources issue).
            Kind::Unified => Ok(()),
        }
    }

    fn remove(&self, deadline: Instant) -> Result<()> {
        for dir in self.created.iter().rev() {
            // state.json is input: never rmdir outside this cgroup's own chain.
            if !self.path.starts_with(dir) {
                bail!(
                    "{} is not an ancestor of {}",
                    dir.display(),
                    self.path.display()
                );
            }
            if *dir == self.path {
                remove_tree(dir, deadline)?;
            } else {
                remove_shared_parent(dir)?;
            }
        }
        Ok(())
    }
}

/// `path` and those of its ancestors that do not exist yet, parents first.
fn missing_ancestors(path: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    for p in path.ancestors() {
        match fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => bail!("{} exists and is not a directory", p.display()),
            Err(e) if e.kind() == ErrorKind::NotFound => missing.push(p.to_path_buf()),
            Err(e) => return Err(e).with_context(|| format!("stat {}", p.display())),
        }
    }
    missing.reverse();
    Ok(missing)
}

/// See `Cgroup::entry`.
#[derive(Default)]
pub struct Entry {
    /// The v2 dir, for clone3(CLONE_INTO_CGROUP).
    pub clone_into: Option<OwnedFd>,
    /// Each v1 hierarchy's `tasks` file, opened for writing (the path for errors).
    pub tasks: Vec<(OwnedFd, PathBuf)>,
}

/// In the single-threaded child: move ourselves into every v1 hierarchy of `Entry::tasks`.
/// The fds were opened by the parent, so the kernel checks its credentials, not ours (a
/// child in a new user namespace can still do it).
pub fn enter_self(tasks: &[(OwnedFd, PathBuf)]) -> Result<()> {
    use std::os::fd::AsRawFd;
    for (fd, path) in tasks {
        // SAFETY: the fd is borrowed from an OwnedFd in `tasks`, open for the call; the buffer is a
        // 1-byte literal and the length passed is 1.
        if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("write 0 to {}", path.display()));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Cgroup {
    pub dirs: Vec<CgroupDir>,
    /// --systemd-cgroup: the unit systemd makes (after clone, with init's pid) and owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<systemd::Unit>,
}

impl Cgroup {
    /// Resolve the paths only, touch nothing. As runc's cgroupfs driver: `cgroups_path` None
    /// (or empty) => "<id>" relative; absolute => under each hierarchy's mount point; relative
    /// => under this process's own cgroup on that hierarchy (/proc/self/cgroup), except on a
    /// pure v2 host where it is under the parent of our own cgroup (which, unlike ours, holds
    /// no processes, so controllers can be enabled for the new child).
    /// With --systemd-cgroup the "slice:prefix:name" form is first mapped to its path
    /// (systemd.rs).
    pub fn plan(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup> {
        let unit = match systemd::enabled() {
            true => Some(systemd::unit_for(
                cgroups_path.and_then(|p| p.to_str()),
                id,
            )?),
            false => None,
        };
        let mapped = unit.as_ref().map(systemd::cgroup_path).transpose()?;
        let mut cg = plan_from(
            detect_layout()?,
            &host_mounts()?,
            &own_cgroups()?,
            mapped.as_deref().or(cgroups_path),
            id,
        )?;
        cg.unit = unit;
        Ok(cg)
    }

    /// --systemd-cgroup, after clone: have systemd make the unit with `pid` in it and the
    /// properties of `r` and the annotations, then (as runc) create and join what systemd
    /// did not: a slice's own dir, v1 hierarchies it does not manage. The files are written
    /// by `apply` next.
    pub fn start_unit(
        &mut self,
        pid: i32,
        r: &oci_spec::runtime::LinuxResources,
        annotations: &std::collections::HashMap<String, String>,
    ) -> Result<()> {
        let Some(unit) = &self.unit else {
            return Ok(());
        };
        let unified = detect_layout()? == Layout::Unified;
        let props = systemd::properties(r, annotations, unified, true)?;
        systemd::start(unit, pid, props)?;
        for d in &mut self.dirs {
            d.created = missing_ancestors(&d.path)?;
        }
        self.create()?;
        for d in &self.dirs {
            let procs = d.path.join("cgroup.procs");
            let text =
                fs::read_to_string(&procs).with_context(|| format!("read {}", procs.display()))?;
            if !parse_procs(&text).any(|p| p == pid) {
                write_file(&procs, &pid.to_string())
                    .with_context(|| format!("add pid {pid} to {}", procs.display()))?;
            }
        }
        Ok(())
    }

    /// update with --systemd-cgroup: the properties first (systemd would otherwise restore
    /// its own values on a daemon-reload), then the files (`apply`).
    pub fn update_unit(&self, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
        let Some(unit) = &self.unit else {
            return Ok(());
        };
        let unified = detect_layout()? == Layout::Unified;
        systemd::set_properties(unit, systemd::update_properties(r, unified)?)
    }

    /// Record the directories `create` is about to make before it makes them: state.json is
    /// saved in between, so a runtime killed half-way still names them for `delete --force`.
    /// With a unit too: on a v1 host the runtime makes the hierarchies systemd does not manage
    /// right after StartTransientUnit, before the state is saved again (start_unit then keeps
    /// only those); what systemd made is gone after StopUnit, and removing it is a no-op.
    pub fn intend(&mut self) -> Result<()> {
        for d in &mut self.dirs {
            d.created = missing_ancestors(&d.path)?;
        }
        Ok(())
    }

    /// mkdir -p on every hierarchy, recording what was created (recorded as it goes, so after an
    /// error `remove` still cleans up the part that was made). Idempotent; joining an existing
    /// dir records nothing.
    pub fn create(&mut self) -> Result<()> {
        self.create_dirs(true, |_| true)
    }

    /// `create` of the v2 dir only, unprepared: init is cloned into it (CLONE_INTO_CGROUP).
    /// create makes the v1 dirs after Go (`create_v1_unprepared`), and `prepare_created`
    /// writes their files, while init mounts (sync.rs).
    pub fn create_v2_unprepared(&mut self) -> Result<()> {
        self.create_dirs(false, |d| matches!(d.kind(), Kind::Unified))
    }

    /// The v1 dirs `create_v2_unprepared` left out, unprepared.
    pub fn create_v1_unprepared(&mut self) -> Result<()> {
        self.create_dirs(false, |d| matches!(d.kind(), Kind::V1 { .. }))
    }

    fn create_dirs(&mut self, prepare: bool, which: impl Fn(&CgroupDir) -> bool) -> Result<()> {
        for d in self.dirs.iter_mut().filter(|d| which(d)) {
            d.create(prepare)
                .with_context(|| format!("cgroup {} on {}", d.path.display(), d.hierarchy))?;
        }
        Ok(())
    }

    /// The preparation `create_unprepared` left out, parents first.
    pub fn prepare_created(&self) -> Result<()> {
        for d in &self.dirs {
            for dir in &d.created {
                d.prepare_one(dir)
                    .with_context(|| format!("cgroup {} on {}", d.path.display(), d.hierarchy))?;
            }
        }
        Ok(())
    }

    /// Rootless without linux.cgroupsPath (rootless.rs): as `create`, but a hierarchy that
    /// refuses us (mkdir or joining: EACCES, EPERM, EROFS) is dropped, as runc's rootless
    /// managers do, after removing what was made there. Returns the dropped hierarchies.
    /// Any other error leaves every dir listed, for the caller's cleanup.
    pub fn create_or_drop(&mut self) -> Result<Vec<String>> {
        let mut refused = Vec::new();
        for (i, d) in self.dirs.iter_mut().enumerate() {
            match d.create(true).and_then(|()| joinable(d)) {
                Ok(()) => {}
                Err(e) if is_refusal(&e) => {
                    d.remove(Instant::now())?;
                    refused.push(i);
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cgroup {} on {}", d.path.display(), d.hierarchy))
                }
            }
        }
        let mut i = 0;
        let mut dropped = Vec::new();
        self.dirs.retain(|d| {
            let keep = !refused.contains(&i);
            i += 1;
            if !keep {
                dropped.push(d.hierarchy.clone());
            }
            keep
        });
        Ok(dropped)
    }

    /// exec `--cgroup`: the existing sub-cgroup `path` ("path" for every hierarchy, or
    /// "controller:path" for the v1 hierarchies serving that controller), as runc. Nothing
    /// is created, and nothing is marked for removal.
    pub fn sub(&self, args: &[String]) -> Result<Cgroup> {
        let mut out = self.clone();
        for d in &mut out.dirs {
            d.created.clear();
        }
        for a in args {
            let (ctrl, rel) = match a.split_once(':') {
                Some((c, p)) => (Some(c), p),
                None => (None, a.as_str()),
            };
            let rel = Path::new(rel.trim_start_matches('/'));
            if rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                let msg = format!(" {a:?}: must be a path below the container's cgroup");
                return Err(Opt::ExecCgroup.said(msg).into());
            }
            let mut matched = false;
            for (d, orig) in out.dirs.iter_mut().zip(&self.dirs) {
                let serves = match (ctrl, d.kind()) {
                    (None, _) => true,
                    (Some(c), Kind::V1 { controllers }) => controllers.split(',').any(|x| x == c),
                    (Some(_), Kind::Unified) if self.dirs.len() == 1 => {
                        let msg = format!(" {a:?}: cgroup v2 takes a path, not controller:path");
                        return Err(Opt::ExecCgroup.said(msg).into());
                    }
                    // Hybrid: the unified hierarchy serves no v1 controller.
                    (Some(_), Kind::Unified) => false,
                };
                if serves {
                    matched = true;
                    d.path = orig.path.join(rel);
                    if !d.path.is_dir() {
                        let msg = format!(" {a:?}: {} does not exist", d.path.display());
                        return Err(Opt::ExecCgroup.said(msg).into());
                    }
                }
            }
            if !matched {
                let msg = format!(" {a:?}: no hierarchy serves that controller");
                return Err(Opt::ExecCgroup.said(msg).into());
            }
        }
        Ok(out)
    }

    /// Move `pid` (the whole process) into the cgroup on every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for d in &self.dirs {
            let procs = d.path.join("cgroup.procs");
            write_file(&procs, &pid.to_string())
                .with_context(|| format!("add pid {pid} to {}", procs.display()))?;
        }
        Ok(())
    }

    /// Every process in the container's cgroup or below it, on any hierarchy; sorted.
    /// Dirs that do not exist (already removed) contribute nothing.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut all = BTreeSet::new();
        for d in &self.dirs {
            collect_pids(&d.path, &mut all)?;
        }
        Ok(all.into_iter().collect())
    }

    /// Send `sig` to every process of the cgroup; ESRCH (already gone) is not an error.
    /// For SIGKILL, cgroup.kill is used where the kernel has it, and processes forked while
    /// we were killing are chased for a few rounds.
    pub fn signal_all(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL {
            for d in self
                .dirs
                .iter()
                .filter(|d| matches!(d.kind(), Kind::Unified))
            {
                v2::kill(&d.path)?;
            }
        }
        let rounds = if sig == libc::SIGKILL { 10 } else { 1 };
        let mut signalled = BTreeSet::new();
        for _ in 0..rounds {
            let fresh: Vec<i32> = self
                .pids()?
                .into_iter()
                .filter(|p| signalled.insert(*p))
                .collect();
            if fresh.is_empty() {
                break;
            }
            for pid in fresh {
                send_signal(pid, sig)?;
            }
        }
        // A frozen task does not act on SIGKILL until it is thawed (measured here on a v1
        // freezer): a paused container must still die on kill --all / delete --force.
        if sig == libc::SIGKILL && self.freezer().is_ok_and(|f| f.freeze_requested()) {
            self.thaw()?;
        }
        Ok(())
    }

    /// rmdir what `create` made, deepest first. The container's own dir is removed with any
    /// sub-cgroups its processes made, retrying on EBUSY while just-killed tasks exit; a
    /// created parent that is still busy (another container's cgroup lives there now) is left.
    /// Missing dirs are fine, so this is idempotent. Every hierarchy is tried before failing.
    pub fn remove(&self) -> Result<()> {
        // One budget for all hierarchies: once the tasks are gone every rmdir succeeds.
        let deadline = Instant::now() + REMOVE_BUSY_WAIT;
        if let Some(unit) = &self.unit {
            systemd::stop(unit, || self.dirs.iter().all(|d| !d.path.exists()))?;
        }
        let errors: Vec<String> = self
            .dirs
            .iter()
            .filter_map(|d| {
                d.remove(deadline)
                    .err()
                    .map(|e| format!("{}: {e:#}", d.hierarchy))
            })
            .collect();
        if !errors.is_empty() {
            bail!("remove cgroup: {}", errors.join("; "));
        }
        Ok(())
    }

    /// How a new child joins this cgroup without the parent writing its pid to cgroup.procs.
    /// That write takes the kernel's global threadgroup lock for writing, which waits for an
    /// RCU grace period: 5 to 17 ms measured on this host, most of a container start. So the
    /// v2 dir is entered by clone3(CLONE_INTO_CGROUP), and on each v1 hierarchy the child
    /// writes "0" to a `tasks` file the parent opened (`enter_self`): moving only the calling
    /// thread skips that lock (0.1 ms), and a single-threaded child is the whole process.
    pub fn entry(&self) -> Result<Entry> {
        Ok(Entry {
            tasks: self.v1_tasks()?,
            ..self.entry_v2()?
        })
    }

    /// `entry` without the v1 `tasks` fds (create sends those later: sync.rs, CgroupsMade).
    pub fn entry_v2(&self) -> Result<Entry> {
        let mut e = Entry::default();
        if let Some(d) = self.dirs.iter().find(|d| matches!(d.kind(), Kind::Unified)) {
            e.clone_into = Some(v2::open_dir(&d.path)?);
        }
        Ok(e)
    }

    /// Each v1 hierarchy's `tasks` file, opened for writing (`Entry::tasks`).
    pub fn v1_tasks(&self) -> Result<Vec<(OwnedFd, PathBuf)>> {
        let v1 = self
            .dirs
            .iter()
            .filter(|d| matches!(d.kind(), Kind::V1 { .. }));
        v1.map(|d| {
            let tasks = d.path.join("tasks");
            let f = crate::linux::fs::open_cloexec(&tasks, libc::O_WRONLY)
                .with_context(|| format!("open {}", tasks.display()))?;
            Ok((f, tasks))
        })
        .collect()
    }

    /// Apply linux.resources on every hierarchy that serves each controller: a v1 hierarchy
    /// that has it, else the unified dir (v2 files with runc's conversions: cpu shares →
    /// cpu.weight, blkio weight → io.bfq.weight / io.weight, memory+swap → memory.swap.max).
    /// On v2 the available controllers are first enabled in the ancestors'
    /// cgroup.subtree_control: the whole parent chain on a pure v2 host (as runc), only dirs
    /// carrack created on a hybrid one. Devices are always restricted: deny-all, the config's
    /// rules, then runc's default allow list (v1 devices.allow/deny, skipped when
    /// devices.list already shows that policy; pure v2 a BPF program replacing the previous
    /// one), so call this even when the config has no `linux.resources` (with an empty one).
    /// Errors name the OCI field, its value and the file:
    /// `linux.resources.memory.limit 1024: write /…/memory.limit_in_bytes: Device or resource busy`.
    /// A field no hierarchy here serves is an error naming it; kernel memory only warns (the
    /// kernel dropped it), as do kernelTCP where v1's memory.kmem.tcp file is missing and
    /// v2-less settings (swappiness, leaf weights on v2).
    pub fn apply(&self, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
        resources::apply(self, r)
    }

    pub fn freezer(&self) -> Result<freezer::Freezer<'_>> {
        let v1 = self.dirs.iter().find(|d| match d.kind() {
            Kind::V1 { controllers } => v1::has_controller(controllers, "freezer"),
            Kind::Unified => false,
        });
        let v2 = self.dirs.iter().find(|d| matches!(d.kind(), Kind::Unified));
        match (v1, v2) {
            (Some(d), _) => Ok(freezer::Freezer::V1(&d.path)),
            (None, Some(d)) => Ok(freezer::Freezer::V2(&d.path)),
            (None, None) => bail!("no freezer: no v1 freezer hierarchy and no cgroup v2"),
        }
    }

    /// Freeze every process (v1 freezer.state FROZEN, v2 cgroup.freeze) and wait until the
    /// kernel reports it frozen; after `freezer::FREEZE_TIMEOUT` it thaws again and fails.
    pub fn freeze(&self) -> Result<()> {
        self.freezer()?.freeze(freezer::FREEZE_TIMEOUT)
    }

    pub fn thaw(&self) -> Result<()> {
        self.freezer()?.thaw()
    }

    /// Frozen, or being frozen, by itself or by an ancestor: a process that joins now stops
    /// at once (v1 freezer.state is not THAWED; v2 cgroup.freeze or cgroup.events).
    pub fn is_frozen_or_freezing(&self) -> bool {
        self.freezer()
            .is_ok_and(|f| f.freeze_requested() || f.is_frozen())
    }

    /// Fully frozen (v1 FROZEN, not FREEZING; v2 cgroup.events "frozen 1").
    pub fn is_frozen(&self) -> bool {
        self.freezer().is_ok_and(|f| f.is_frozen())
    }

    /// A Cgroup as serialized, with only the directories `freezer` chooses from (v1 freezer,
    /// unified): `list` reads nothing else, and parsing a dozen v1 directories (and the paths
    /// each created) into strings was most of its time.
    pub fn deserialize_freezer_only<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Cgroup, D::Error> {
        use std::borrow::Cow;
        #[derive(serde::Deserialize)]
        struct Brief<'a> {
            #[serde(borrow)]
            dirs: Vec<DirBrief<'a>>,
        }
        // `created` and any other key are skipped without being copied.
        #[derive(serde::Deserialize)]
        struct DirBrief<'a> {
            #[serde(borrow)]
            hierarchy: Cow<'a, str>,
            #[serde(borrow)]
            path: Cow<'a, str>,
        }
        let brief: Brief = serde::Deserialize::deserialize(d)?;
        let dirs = brief
            .dirs
            .into_iter()
            .filter(|d| d.hierarchy == v2::HIERARCHY || v1::has_controller(&d.hierarchy, "freezer"))
            .map(|d| CgroupDir {
                hierarchy: d.hierarchy.into_owned(),
                path: PathBuf::from(d.path.into_owned()),
                created: Vec::new(),
            })
            .collect();
        Ok(Cgroup { dirs, unit: None })
    }

    /// runc `events --stats` "data" object (cpu, cpuset, memory, pids, blkio, hugetlb,
    /// intel_rdt; network_interfaces is null for the caller to fill from the netns).
    pub fn stats(&self) -> Result<serde_json::Value> {
        stats::collect(self)
    }
}

fn plan_from(
    layout: Layout,
    mounts: &[CgroupMount],
    own: &[ProcCgroup],
    cgroups_path: Option<&Path>,
    id: &str,
) -> Result<Cgroup> {
    let (inner, absolute) = inner_path(cgroups_path, id)?;
    let mut dirs = Vec::new();
    for pc in own {
        let (hierarchy, mount) = if pc.is_unified() {
            (v2::HIERARCHY, parse::find_unified_mount(mounts))
        } else {
            (
                pc.controllers.as_str(),
                parse::find_v1_mount(mounts, &pc.controllers, &pc.path),
            )
        };
        // A hierarchy nobody mounted cannot be managed (e.g. "0::/" on a pure v1 host).
        let Some(mount) = mount else { continue };
        let mut cg = Vec::new();
        if !absolute {
            cg = parse::components(&pc.path);
            if layout == Layout::Unified {
                cg.pop();
            }
        }
        cg.extend(parse::components(inner));
        let path = parse::host_path(mount, &cg, absolute)
            .with_context(|| format!("hierarchy {hierarchy}"))?;
        // Joining the root would make signal_all/pids cover the whole host.
        if path == mount.mount_point {
            bail!("cgroups path {inner:?} resolves to the root cgroup of {hierarchy}");
        }
        dirs.push(CgroupDir {
            hierarchy: hierarchy.to_string(),
            path,
            created: Vec::new(),
        });
    }
    if dirs.is_empty() {
        bail!("no mounted cgroup hierarchy matches /proc/self/cgroup");
    }
    Ok(Cgroup { dirs, unit: None })
}

/// Can we move a process into `d` (the file `entry` opens)?
fn joinable(d: &CgroupDir) -> Result<()> {
    let file = match d.kind() {
        Kind::Unified => "cgroup.procs",
        Kind::V1 { .. } => "tasks",
    };
    let p = d.path.join(file);
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .map(drop)
        .with_context(|| format!("open {}", p.display()))
}

fn is_refusal(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| {
            matches!(
                io.raw_os_error(),
                Some(libc::EACCES | libc::EPERM | libc::EROFS)
            )
        })
}

/// The configured path and whether it is absolute; no path means "<id>", relative (runc).
fn inner_path<'a>(cgroups_path: Option<&'a Path>, id: &'a str) -> Result<(&'a str, bool)> {
    match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => {
            let s = p
                .to_str()
                .with_context(|| format!("cgroups path {p:?} is not UTF-8"))?;
            Ok((s, s.starts_with('/')))
        }
        _ => {
            if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                bail!("container id {id:?} cannot name a cgroup");
            }
            Ok((id, false))
        }
    }
}

/// Write without O_CREAT/O_TRUNC, in one write(2): cgroup files take one value per write.
fn write_file(path: &Path, value: &str) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(value.as_bytes())
}

fn collect_pids(dir: &Path, out: &mut BTreeSet<i32>) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    let text = match fs::read_to_string(&procs) {
        Ok(t) => t,
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("read {}", procs.display())),
    };
    out.extend(parse_procs(&text));
    for sub in subdirs(dir)? {
        collect_pids(&sub, out)?;
    }
    Ok(())
}

/// A cgroup removed meanwhile: its directory is gone, or still listed but dead (v1 answers
/// ENODEV), as when systemd stops an emptied scope while `kill --all` chases its processes.
/// A removed cgroup holds no process.
fn gone(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENODEV)
}

/// cgroup.procs lists 0 for a process outside our pid namespace; kill(0) would hit our own
/// process group, so only positive pids are kept.
fn parse_procs(text: &str) -> impl Iterator<Item = i32> + '_ {
    text.lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter(|p| *p > 0)
}

/// Child cgroups of `dir`; empty if `dir` vanished meanwhile.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match crate::linux::fs::dir_entries(dir) {
        Ok(e) => e,
        Err(e) if gone(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("read dir {}", dir.display())),
    };
    // cgroupfs reports every d_type (no DT_UNKNOWN).
    Ok(entries
        .into_iter()
        .filter(|(_, t)| *t == libc::DT_DIR)
        .map(|(name, _)| dir.join(name))
        .collect())
}

fn send_signal(pid: i32, sig: i32) -> Result<()> {
    // libc::kill rather than nix's Signal so real-time signals pass through too.
    // SAFETY: kill(2) has no memory effects; pid > 0 is guaranteed by parse_procs.
    if unsafe { libc::kill(pid, sig) } == 0 {
        return Ok(());
    }
    match nix::errno::Errno::last() {
        nix::errno::Errno::ESRCH => Ok(()),
        e => Err(e).with_context(|| format!("kill -{sig} {pid}")),
    }
}

/// The container's own dir and any sub-cgroups inside it, deepest first.
fn remove_tree(dir: &Path, deadline: Instant) -> Result<()> {
    if !on_cgroupfs(dir)? {
        return Ok(());
    }
    // Most cgroups have no children: one rmdir, and the walk only when it is refused.
    match fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    for sub in subdirs(dir)? {
        remove_tree(&sub, deadline)?;
    }
    rmdir_retry(dir, deadline)
}

/// Missing is fine; anything but a cgroup filesystem is refused (state.json is input).
fn on_cgroupfs(dir: &Path) -> Result<bool> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};
    match statfs(dir) {
        Ok(s) if [CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC].contains(&s.filesystem_type()) => {
            Ok(true)
        }
        Ok(_) => bail!("{} is not on a cgroup filesystem", dir.display()),
        Err(nix::errno::Errno::ENOENT) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("statfs {}", dir.display())),
    }
}

/// How long `remove` waits for just-killed tasks to leave before reporting EBUSY.
const REMOVE_BUSY_WAIT: Duration = Duration::from_secs(2);

/// Tasks killed a moment ago keep the cgroup busy until they have exited.
fn rmdir_retry(dir: &Path, deadline: Instant) -> Result<()> {
    let mut pause = Duration::from_millis(2);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(e).with_context(|| format!("rmdir {}", dir.display())),
        }
    }
}

/// A parent dir carrack created may since hold other containers' cgroups: then it is shared
/// and stays.
fn remove_shared_parent(dir: &Path) -> Result<()> {
    if !on_cgroupfs(dir)? {
        return Ok(());
    }
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::ENOTEMPTY)) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("rmdir {}", dir.display())),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_props;
#[cfg(test)]
mod tests_resources;
