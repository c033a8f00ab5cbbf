//! `--systemd-cgroup`, runc's systemd cgroup driver: linux.cgroupsPath is "slice:prefix:name";
//! the container gets the transient unit `prefix-name.scope` in that slice, made over D-Bus
//! by StartTransientUnit with init's pid,
//! Delegate=yes and the resource properties systemd knows (props.rs). The unit's cgroupfs
//! path is the one systemd gives it, so every file-based operation (the resources systemd
//! cannot express, freeze, stats, kill) works on it as with the cgroupfs driver.

mod props;

use super::dbus::{self, Conn, Message, Value};
use crate::error::{Opt, OptContext};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use props::{properties, update_properties};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Called by main for --systemd-cgroup.
pub fn enable() -> Result<()> {
    if !std::path::Path::new("/run/systemd/system").exists() {
        bail!("systemd is not running on this host (no /run/systemd/system); use the default cgroupfs driver");
    }
    ENABLED.store(true, Ordering::Relaxed);
    Ok(())
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The unit of a container, kept in state.json: delete stops it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unit {
    /// "prefix-name.scope".
    pub name: String,
    /// The slice it lives in.
    pub slice: String,
}

const FIELD: &str = "linux.cgroupsPath";

/// "a-b.slice" -> "/a.slice/a-b.slice"; "-.slice" (the root slice) -> "/".
pub fn expand_slice(slice: &str) -> Result<PathBuf> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        bail!("{FIELD}: {slice:?} is not a slice name (*.slice)");
    };
    if stem == "-" {
        return Ok(PathBuf::from("/"));
    }
    if stem.is_empty()
        || stem.contains('/')
        || stem.starts_with('-')
        || stem.ends_with('-')
        || stem.contains("--")
    {
        bail!("{FIELD}: {slice:?} is not a valid slice name");
    }
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

/// The unit for `cgroups_path` ("slice:prefix:name", or empty for runc's default slice
/// (`default_slice`) with prefix "carrack" and the container id as the name), as runc names it.
pub fn unit_for(cgroups_path: Option<&str>, id: &str) -> Result<Unit> {
    let spec = cgroups_path.filter(|p| !p.is_empty());
    let (slice, prefix, name) = match spec {
        None => (default_slice(), "carrack", id),
        Some(p) => {
            let parts: Vec<&str> = p.split(':').collect();
            let [slice, prefix, name] = parts[..] else {
                let opt = Opt::SystemdCgroup;
                return Err(opt
                    .within(
                        format!("{FIELD} {p:?}: with "),
                        " it must be slice:prefix:name",
                    )
                    .into());
            };
            let slice = if slice.is_empty() {
                default_slice()
            } else {
                slice
            };
            (slice, prefix, name)
        }
    };
    expand_slice(slice)?;
    let bad = |s: &str| s.contains('/') || s.chars().any(|c| c.is_control() || c == ' ');
    if name.is_empty() || bad(name) || bad(prefix) {
        bail!(
            "{FIELD} {:?}: the prefix and name must be non-empty unit name parts without '/'",
            cgroups_path.unwrap_or("")
        );
    }
    // runc makes a slice unit of a "*.slice" name, with the container's pid in PIDs, which
    // systemd refuses for a slice ("Cannot set property PIDs"), so runc 1.1.5 fails such a
    // create (scripts/vm-systemd slice). Said here, before anything is made.
    if name.ends_with(".slice") {
        bail!(
            "{FIELD} {:?}: a slice as the name cannot hold a container (systemd puts processes only in scopes, and refuses PIDs for a slice): name a scope, slice:prefix:name",
            cgroups_path.unwrap_or("")
        );
    }
    Ok(Unit {
        // runc: "-name.scope" with an empty prefix.
        name: format!("{prefix}-{name}.scope"),
        slice: slice.to_string(),
    })
}

/// The cgroupfs path systemd gives the unit, relative to the hierarchy's root.
pub fn path_of(unit: &Unit) -> Result<PathBuf> {
    let mut path = expand_slice(&unit.slice)?;
    path.push(&unit.name);
    Ok(path)
}

const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const SYSTEMD: &str = "org.freedesktop.systemd1";
const SYSTEMD_PATH: &str = "/org/freedesktop/systemd1";
/// As runc: how long systemd may take for a job.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

fn manager_call(member: &str, body: Vec<Value>) -> Message {
    Message::call(Some(SYSTEMD), SYSTEMD_PATH, MANAGER, member).with_body(body)
}

/// A connection with JobRemoved routed to us.
fn connect() -> Result<Conn> {
    let mut c = bus()?;
    c.add_match(&format!(
        "type='signal',sender='{SYSTEMD}',path='{SYSTEMD_PATH}',interface='{MANAGER}',member='JobRemoved'"
    ))?;
    Ok(c)
}

/// The systemd that owns our units: the system's, or with rootless cgroups (runc's rule)
/// the user's own instance on the session bus.
fn bus() -> Result<Conn> {
    match crate::rootless::cgroups() {
        true => Conn::session(),
        false => Conn::system(),
    }
    .opt_context(Opt::SystemdCgroup.said(""))
}

/// The cgroupfs path of `unit` relative to the hierarchy's root: `path_of`, under the user
/// manager's own cgroup (its ControlGroup, e.g. /user.slice/user-1000.slice/user@1000.service)
/// when the unit is the user instance's, as runc.
pub fn cgroup_path(unit: &Unit) -> Result<PathBuf> {
    let path = path_of(unit)?;
    if !crate::rootless::cgroups() {
        return Ok(path);
    }
    let mut c = bus()?;
    let reply = c
        .call(
            Message::call(
                Some(SYSTEMD),
                SYSTEMD_PATH,
                "org.freedesktop.DBus.Properties",
                "Get",
            )
            .with_body(vec![Value::str(MANAGER), Value::str("ControlGroup")]),
        )
        .opt_context(Opt::SystemdCgroup.said(": the user manager's ControlGroup"))?;
    let root = match reply.first() {
        Some(Value::Variant(v)) => v.as_str().map(PathBuf::from),
        _ => None,
    }
    .filter(|r| r.is_absolute())
    .opt_context(Opt::SystemdCgroup.said(": the user manager has no ControlGroup"))?;
    Ok(root.join(path.strip_prefix("/").unwrap_or(&path)))
}

/// runc's default slice: the user's "user.slice" with rootless cgroups, else "system.slice".
fn default_slice() -> &'static str {
    match crate::rootless::cgroups() {
        true => "user.slice",
        false => "system.slice",
    }
}

/// Run a job-returning Manager call and wait for its JobRemoved; returns the job's result
/// ("done", "failed", …).
fn run_job(c: &mut Conn, member: &str, body: Vec<Value>) -> Result<String> {
    let reply = c.call(manager_call(member, body))?;
    let Some(Value::Path(job)) = reply.first() else {
        bail!("{member}: systemd returned no job");
    };
    let job = job.clone();
    let sig = c
        .wait_signal(JOB_TIMEOUT, |m| {
            m.member.as_deref() == Some("JobRemoved")
                && m.body.get(1).and_then(|v| v.as_str()) == Some(&job)
        })
        .with_context(|| format!("{member}: waiting for systemd's job {job}"))?;
    Ok(sig
        .body
        .get(3)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string())
}

fn is_error(e: &anyhow::Error, name: &str) -> bool {
    e.to_string().contains(name)
}

/// StartTransientUnit(mode "replace") with `pid` and `props`, waiting for the job as runc
/// does. A leftover failed unit of that name is reset and the start retried once.
pub fn start(unit: &Unit, pid: i32, mut props: Vec<Value>) -> Result<()> {
    let mut base = vec![dbus::prop(
        "Description",
        Value::Str(format!("carrack container {}", unit.name)),
    )];
    base.push(dbus::prop("Slice", Value::str(&unit.slice)));
    base.push(dbus::prop("Delegate", Value::Bool(true)));
    base.push(dbus::prop(
        "PIDs",
        Value::Array("u".into(), vec![Value::U32(pid as u32)]),
    ));
    base.push(dbus::prop("DefaultDependencies", Value::Bool(false)));
    base.append(&mut props);
    let mut c = connect()?;
    let body = || {
        vec![
            Value::str(&unit.name),
            Value::str("replace"),
            Value::Array("(sv)".into(), base.clone()),
            Value::Array("(sa(sv))".into(), vec![]),
        ]
    };
    let what = || Opt::SystemdCgroup.said(format!(": systemd: start unit {}", unit.name));
    let result = match run_job(&mut c, "StartTransientUnit", body()) {
        Err(e) if is_error(&e, "org.freedesktop.systemd1.UnitExists") => {
            let _ = c.call(manager_call(
                "ResetFailedUnit",
                vec![Value::str(&unit.name)],
            ));
            run_job(&mut c, "StartTransientUnit", body()).with_opt_context(what)?
        }
        r => r.with_opt_context(what)?,
    };
    if result != "done" {
        return Err(what().on(anyhow::anyhow!("job result {result:?}")));
    }
    Ok(())
}

/// SetUnitProperties(runtime): update's properties.
pub fn set_properties(unit: &Unit, props: Vec<Value>) -> Result<()> {
    if props.is_empty() {
        return Ok(());
    }
    let mut c = bus()?;
    c.call(manager_call(
        "SetUnitProperties",
        vec![
            Value::str(&unit.name),
            Value::Bool(true),
            Value::Array("(sv)".into(), props),
        ],
    ))
    .with_opt_context(|| {
        Opt::SystemdCgroup.said(format!(": systemd: set properties of {}", unit.name))
    })?;
    Ok(())
}

/// StopUnit, then ResetFailedUnit (a failed unit would stay loaded), as runc. A unit that
/// is already gone is fine. Without a bus, a unit whose cgroup `gone` says is gone too (a
/// create that failed before systemd was reached) needs nothing.
pub fn stop(unit: &Unit, gone: impl Fn() -> bool) -> Result<()> {
    let mut c = match connect() {
        Ok(c) => c,
        Err(_) if gone() => return Ok(()),
        Err(e) => return Err(e),
    };
    match run_job(
        &mut c,
        "StopUnit",
        vec![Value::str(&unit.name), Value::str("replace")],
    ) {
        Ok(_) => {}
        Err(e) if is_error(&e, "org.freedesktop.systemd1.NoSuchUnit") => {}
        Err(e) => {
            return Err(e).with_opt_context(|| {
                Opt::SystemdCgroup.said(format!(": systemd: stop {}", unit.name))
            })
        }
    }
    let _ = c.call(manager_call(
        "ResetFailedUnit",
        vec![Value::str(&unit.name)],
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_mapping() {
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            PathBuf::from("/system.slice")
        );
        assert_eq!(
            expand_slice("machine-foo-bar.slice").unwrap(),
            PathBuf::from("/machine.slice/machine-foo.slice/machine-foo-bar.slice")
        );
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::from("/"));
        assert!(expand_slice("a--b.slice").is_err() && expand_slice("x.scope").is_err());
        let path = |p, id| path_of(&unit_for(p, id).unwrap()).unwrap();
        assert_eq!(
            path(Some("machine.slice:libpod:abc"), "x"),
            PathBuf::from("/machine.slice/libpod-abc.scope")
        );
        assert_eq!(
            path(None, "c1"),
            PathBuf::from("/system.slice/carrack-c1.scope")
        );
        assert_eq!(
            path(Some(":pre:n"), "x"),
            PathBuf::from("/system.slice/pre-n.scope")
        );
        // runc: the empty prefix still joins with '-'.
        assert_eq!(unit_for(Some("a.slice::n"), "x").unwrap().name, "-n.scope");
        for bad in [
            // A slice as the name: refused (systemd takes no PIDs for a slice).
            "system.slice:carrack:test.slice",
            "/plain/path",
            "a:b",
            "x.scope:p:n",
            "a.slice:p:",
            "a.slice:p:n/m",
            "a.slice:p:x--.slice",
        ] {
            let e = unit_for(Some(bad), "x").unwrap_err().to_string();
            assert!(e.starts_with("linux.cgroupsPath"), "{bad}: {e}");
        }
        let e = unit_for(Some("/plain/path"), "x").unwrap_err();
        assert!(e.to_string().contains("slice:prefix:name"), "{e}");
    }
}
