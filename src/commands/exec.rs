//! exec: runc's exec flags turned into the library's ExecRequest, with runc's rules for
//! merging them into the container's process.

use crate::cli::ExecArgs;
use anyhow::{bail, Context, Result};
use carrack::{ExecProcess, ExecRequest};
use oci_spec::runtime::Process;
use serde_json::{json, Value};
use std::path::Path;

/// Returns the exit code: the process's in the foreground, 0 with --detach.
pub fn run(root: &Path, a: ExecArgs) -> Result<i32> {
    let id = a.id.clone();
    let req = ExecRequest {
        console_socket: a.console_socket.clone(),
        pidfd_socket: a.pidfd_socket.clone(),
        pid_file: a.pid_file.clone(),
        detach: a.detach,
        preserve_fds: a.preserve_fds,
        cgroup: a.cgroup.clone(),
        ignore_paused: a.ignore_paused,
        process: ExecProcess::Derived(Box::new(move |base| build_process(base, &a))),
    };
    Ok(carrack::exec(root, &id, req)?)
}

/// The container's process as the template; `--process` replaces it whole, the other flags
/// amend it.
pub fn build_process(base: Option<&Process>, a: &ExecArgs) -> Result<Process> {
    if let Some(p) = &a.process {
        let text = std::fs::read(p).with_context(|| format!("--process {}", p.display()))?;
        let mut v: Value =
            serde_json::from_slice(&text).with_context(|| format!("--process {}", p.display()))?;
        carrack::linux::scheduling::respell_flags(&mut v);
        // runc reads the file into Go's zero values: no `user` means uid 0, gid 0.
        if let Some(o) = v.as_object_mut() {
            o.entry("user")
                .or_insert_with(|| json!({"uid": 0, "gid": 0}));
        }
        let proc_: Process = carrack::config::from_json_value(&v)
            .map_err(|e| anyhow::anyhow!("--process {}: {e:#}", p.display()))?;
        return Ok(proc_);
    }
    if a.command.is_empty() {
        bail!("exec: no command given (arguments or --process)");
    }
    let mut v = serde_json::to_value(base.context("process: missing in the container's config")?)?;
    v["args"] = json!(a.command);
    v["terminal"] = json!(a.tty);
    if let Some(cwd) = &a.cwd {
        v["cwd"] = json!(cwd);
    }
    let mut env: Vec<String> = serde_json::from_value(v["env"].take()).unwrap_or_default();
    for e in &a.env {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    v["env"] = json!(env);
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| anyhow::anyhow!("--user {u:?}: must be uid[:gid] (numbers)"))
        };
        v["user"]["uid"] = json!(num(uid)?);
        v["user"]["gid"] = json!(num(gid)?);
    }
    if !a.additional_gids.is_empty() {
        v["user"]["additionalGids"] = json!(a.additional_gids);
    }
    for cap in &a.cap {
        let name = if cap.to_ascii_uppercase().starts_with("CAP_") {
            cap.to_ascii_uppercase()
        } else {
            format!("CAP_{}", cap.to_ascii_uppercase())
        };
        // Not inheritable or ambient: those stay as process.capabilities says, or an
        // unprivileged program run inside could keep the capability across execve
        // (CVE-2022-29162, closed in runc 1.1.2).
        for set in ["bounding", "effective", "permitted"] {
            let list = &mut v["capabilities"][set];
            if !list.is_array() {
                *list = json!([]);
            }
            let arr = list.as_array_mut().expect("made an array above");
            if !arr.contains(&Value::String(name.clone())) {
                arr.push(Value::String(name.clone()));
            }
        }
    }
    if a.no_new_privs {
        v["noNewPrivileges"] = json!(true);
    }
    if let Some(profile) = &a.apparmor {
        v["apparmorProfile"] = json!(profile);
    }
    if let Some(label) = &a.process_label {
        v["selinuxLabel"] = json!(label);
    }
    carrack::config::from_json_value(&v).context("exec: building the process")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The ExecArgs of `carrack exec <args>`.
    fn args(a: &[&str]) -> ExecArgs {
        let cli = crate::cli::Cli::try_parse_from(["carrack", "exec"].iter().chain(a)).unwrap();
        match cli.command {
            Some(crate::cli::Command::Exec(e)) => *e,
            other => panic!("{other:?}"),
        }
    }

    fn base() -> Process {
        serde_json::from_value(json!({
            "cwd": "/", "args": ["sh"], "env": ["PATH=/bin", "A=1"],
            "user": {"uid": 5, "gid": 6},
            "capabilities": {"bounding": ["CAP_KILL"], "inheritable": ["CAP_KILL"]}
        }))
        .unwrap()
    }

    #[test]
    fn flags_amend_the_containers_process() {
        let a = args(&[
            "--env",
            "A=2",
            "-e",
            "B=3",
            "--user",
            "7:8",
            "--cap",
            "net_admin",
            "--cwd",
            "/tmp",
            "-t",
            "id",
            "echo",
            "x",
        ]);
        let p = build_process(Some(&base()), &a).unwrap();
        assert_eq!(p.args().as_deref().unwrap(), ["echo", "x"]);
        // A replaced in place of the old one (at the end), B added, PATH kept.
        assert_eq!(p.env().as_deref().unwrap(), ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!((p.user().uid(), p.user().gid()), (7, 8));
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!(p.terminal(), Some(true));
        let caps = p.capabilities().as_ref().unwrap();
        let has = |set: &Option<oci_spec::runtime::Capabilities>| {
            set.as_ref()
                .is_some_and(|s| s.contains(&oci_spec::runtime::Capability::NetAdmin))
        };
        assert!(has(caps.bounding()) && has(caps.effective()) && has(caps.permitted()));
        // Never inheritable or ambient (CVE-2022-29162).
        assert!(!has(caps.inheritable()) && !has(caps.ambient()));
    }

    #[test]
    fn bad_flags_are_errors_naming_them() {
        let e = build_process(Some(&base()), &args(&["--user", "root", "id", "true"]));
        assert!(format!("{:#}", e.unwrap_err()).contains("--user \"root\""));
        let e = build_process(Some(&base()), &args(&["id"]));
        assert!(format!("{:#}", e.unwrap_err()).contains("no command given"));
        let e = build_process(None, &args(&["id", "true"]));
        assert!(format!("{:#}", e.unwrap_err()).contains("process: missing"));
    }

    #[test]
    fn a_process_file_replaces_the_process_with_go_zero_values() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, r#"{"cwd": "/", "args": ["true"]}"#).unwrap();
        let p = build_process(
            Some(&base()),
            &args(&["--process", f.to_str().unwrap(), "id"]),
        )
        .unwrap();
        assert_eq!(p.args().as_deref().unwrap(), ["true"]);
        assert_eq!((p.user().uid(), p.user().gid()), (0, 0)); // not the container's 5:6
        assert!(p.env().is_none());
    }
}
