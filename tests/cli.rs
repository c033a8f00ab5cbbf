//! The command line's edges that engines rely on: kill's signal forms, update's -1, ps of a
//! stopped container, --debug, warnings on stderr, the key order of state/list/events.

mod common;

use common::*;
use std::time::Duration;

/// A running container whose init records each real-time signal it receives in /tmp/got.
fn signal_recorder(b: &Bundle) -> String {
    let id = b.id("sig");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    id
}

/// Poll for up to 3 s.
fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    (0..300).any(|_| {
        cond() || {
            std::thread::sleep(Duration::from_millis(10));
            false
        }
    })
}

fn has_line(path: &std::path::Path, want: &str) -> bool {
    let got = std::fs::read_to_string(path).unwrap_or_default();
    got.lines().any(|l| l == want)
}

/// `kill ID 0` probes (runc accepts it); real-time signals by number and by the names
/// engines use (SIGRTMIN+3 stops systemd) reach init as the numbers glibc and Go give them.
#[test]
fn kill_signal_zero_and_realtime_signals() {
    let Some(()) = can_run() else { return };
    let script = "for s in 34 37 62 64; do trap \"echo $s >> /tmp/got\" $s; done; \
                  touch /tmp/ready; while :; do sleep 0.05; done";
    let b = Bundle::new(&["sh", "-c", script]);
    let id = signal_recorder(&b);
    let got = b.rootfs().join("tmp/got");
    assert!(
        wait_for(|| b.rootfs().join("tmp/ready").exists()),
        "never ready"
    );
    let out = b.rt(&["kill", &id, "0"]);
    assert!(out.status.success(), "kill 0: {}", text(&out.stderr));
    assert_eq!(b.state(&id)["status"], "running", "signal 0 must not kill");
    for (spec, want) in [
        ("37", "37"),
        ("RTMIN+3", "37"),
        ("SIGRTMIN+3", "37"),
        ("rtmin", "34"),
        ("SIGRTMAX-2", "62"),
        ("RTMAX", "64"),
    ] {
        let _ = std::fs::remove_file(&got);
        let out = b.rt(&["kill", &id, spec]);
        assert!(out.status.success(), "kill {spec}: {}", text(&out.stderr));
        assert!(
            wait_for(|| has_line(&got, want)),
            "kill {spec}: init did not get signal {want}: {:?}",
            std::fs::read_to_string(&got)
        );
    }
    for bad in ["65", "RTMIN+31", "RTMAX-31", "SIGRTMIN-1", "SIGFOO"] {
        let out = b.rt(&["kill", &id, bad]);
        assert_eq!(out.status.code(), Some(1), "kill {bad} accepted");
        assert!(
            text(&out.stderr).contains("signal"),
            "{}",
            text(&out.stderr)
        );
    }
    assert!(b.rt(&["kill", &id, "KILL"]).status.success());
    assert!(b.wait_status(&id, "stopped"));
    let out = b.rt(&["kill", &id, "0"]);
    assert_eq!(out.status.code(), Some(1), "kill 0 of a stopped container");
}

/// The container's cgroup file `file` on the v1 hierarchy `ctrl`, None where there is none.
fn v1_file(pid: i64, ctrl: &str, file: &str) -> Option<String> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = cg.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, c, p) = (f.next()?, f.next()?, f.next()?);
        c.split(',').any(|x| x == ctrl).then(|| p.to_string())
    })?;
    std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}{rel}/{file}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// `update` takes -1 (unlimited) wherever runc does, as the next word after the flag:
/// --memory, --memory-swap, --memory-reservation, --kernel-memory(-tcp), --pids-limit,
/// --cpu-quota; and `--memory -1` alone lifts the swap limit too, as with runc.
#[test]
fn update_takes_minus_one_as_unlimited() {
    let Some(()) = can_run() else { return };
    let memsw = "memory.memsw.limit_in_bytes";
    if !std::path::Path::new("/sys/fs/cgroup/memory")
        .join(memsw)
        .exists()
    {
        skip(
            "no-swap-accounting",
            "no v1 memory hierarchy with swap accounting (v2 is in scripts/vm-test)",
        );
        return;
    }
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["linux"]["resources"] = serde_json::json!({
        "memory": {"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20},
        "pids": {"limit": 50},
        "cpu": {"quota": 50000, "period": 100000},
    });
    b.write_config();
    let id = b.id("upd");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    // What the kernel shows for "unlimited": LONG_MAX rounded down to a page.
    // SAFETY: sysconf reads a constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64;
    let unlimited = (i64::MAX / page * page).to_string();
    let file = |ctrl: &str, f: &str| v1_file(pid, ctrl, f).unwrap_or_else(|| panic!("no {f}"));
    let update = |args: &[&str]| {
        let mut all = vec!["update"];
        all.extend_from_slice(args);
        all.push(&id);
        let out = b.rt(&all);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    update(&["--memory", "-1"]);
    assert_eq!(file("memory", "memory.limit_in_bytes"), unlimited);
    assert_eq!(file("memory", memsw), unlimited, "--memory -1 lifts swap");
    update(&["--memory", "100m", "--memory-swap", "200m"]);
    assert_eq!(file("memory", memsw), (200u64 << 20).to_string());
    update(&["--memory-swap", "-1"]);
    assert_eq!(file("memory", memsw), unlimited);
    assert_eq!(
        file("memory", "memory.limit_in_bytes"),
        (100u64 << 20).to_string()
    );
    update(&["--memory-reservation", "-1"]);
    assert_eq!(file("memory", "memory.soft_limit_in_bytes"), unlimited);
    update(&["--pids-limit", "-1"]);
    assert_eq!(file("pids", "pids.max"), "max");
    update(&["--cpu-quota", "-1"]);
    assert_eq!(file("cpu", "cpu.cfs_quota_us"), "-1");
    // Kernel memory limits are gone from Linux: accepted and ignored, as runc does.
    update(&["--kernel-memory", "-1", "--kernel-memory-tcp", "-1"]);
    // A flag that cannot be negative names itself, and changes nothing.
    for flag in ["--cpu-period", "--cpu-share", "--blkio-weight"] {
        let out = b.rt(&["update", flag, "-1", &id]);
        assert_eq!(out.status.code(), Some(1), "{flag} -1 accepted");
        assert!(text(&out.stderr).contains(flag), "{}", text(&out.stderr));
    }
    assert_eq!(file("cpu", "cpu.cfs_period_us"), "100000");
}

/// `spec` names the container's host after the runtime, as crun writes "crun" (runc "runc").
#[test]
fn spec_hostname_is_carrack() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["hostname"]);
    let id = b.id("spec");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "carrack\n");
}

/// The scripts find builds where cargo puts them: CARGO_TARGET_DIR (or .cargo/config) moves
/// them out of ./target for many Rust developers, and a hard-coded target/release then fails.
#[test]
fn scripts_honour_cargo_target_dir() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("carrack-test-target-{}", std::process::id()));
    let out = std::process::Command::new("bash")
        .args(["-c", ". scripts/lib.sh && cargo_target_dir"])
        .current_dir(repo)
        .env("CARGO_TARGET_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), dir.to_str().unwrap());
    // Every build path comes from that (`$(cargo_target_dir)/…`, `$target/…`).
    for script in [
        "scripts/quickstart",
        "scripts/test",
        "scripts/build-static",
        "oci-tests/run",
    ] {
        let body = std::fs::read_to_string(repo.join(script)).unwrap();
        for (at, _) in body.match_indices("target/") {
            let line = body[..at].lines().count();
            assert!(
                body[..at].ends_with('$'),
                "{script}:{line}: a hard-coded target directory"
            );
        }
    }
}

/// The error containerd reports: the msg of the last `"level":"error"` line, each line decoded
/// as go-runc's getLastRuntimeError does (a line that is not JSON fails the whole read).
fn containerd_last_error(log: &str) -> Result<String, String> {
    let mut last = None;
    for l in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(l).map_err(|e| format!("not JSON ({e}): {l:?}"))?;
        for k in ["level", "msg", "time"] {
            v[k].as_str().ok_or(format!("no {k}: {l:?}"))?;
        }
        if v["level"] == "error" {
            last = Some(v["msg"].as_str().unwrap().to_string());
        }
    }
    last.ok_or("no error line".into())
}

/// `--debug` writes debug lines: to `--log` in its format (each a whole JSON line, the error
/// still the last error line containerd finds), or runc-style to stderr without `--log`.
#[test]
fn debug_lines_go_to_the_log_or_stderr() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sh", "-c", "echo out; echo err >&2"]);
    // A failing create, with --debug and a JSON log.
    b.config["process"]["cwd"] = "relative".into();
    b.write_config();
    let log = b.dir.join("debug.json");
    let bundle = b.bundle();
    let id = b.id("debug");
    let out = b.rt(&[
        "--debug",
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let debug_lines = logged.lines().filter(|l| l.contains(r#""level":"debug""#));
    assert!(
        debug_lines.count() >= 1,
        "no debug line in the log: {logged}"
    );
    let err = containerd_last_error(&logged).unwrap_or_else(|e| panic!("{e}: {logged}"));
    assert!(err.contains("process.cwd"), "{err}");
    assert_eq!(
        logged.lines().last().unwrap_or(""),
        logged.lines().rfind(|l| l.contains("error")).unwrap()
    );
    assert!(
        !text(&out.stderr).contains("level=debug"),
        "debug lines on stderr with --log"
    );
    // A good run: --debug without --log writes runc-style text lines to stderr, around the
    // container's own output; without --debug, stderr is the container's alone.
    b.config["process"]["cwd"] = "/".into();
    b.write_config();
    let id = b.id("debug");
    let out = b.rt(&["--debug", "run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    let stderr = text(&out.stderr);
    assert!(stderr.lines().any(|l| l == "err"), "{stderr}");
    let debug: Vec<&str> = stderr.lines().filter(|l| l != &"err").collect();
    assert!(!debug.is_empty(), "no debug line on stderr");
    for l in debug {
        assert!(
            l.starts_with("time=\"") && l.contains(" level=debug msg=\""),
            "not a runc-style debug line: {l:?}"
        );
    }
    let id = b.id("debug");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "err\n");
}

/// A capability unknown to carrack or the kernel is skipped with a warning: in the log when
/// there is one, else on stderr (as runc's logrus); never both, since with --log (engines)
/// stderr is the container's own output. The container still runs.
#[test]
fn unknown_capability_warning_goes_to_the_log_or_stderr() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sh", "-c", "echo out"]);
    b.config["process"]["capabilities"]["bounding"]
        .as_array_mut()
        .unwrap()
        .push("CAP_CARRACK_NOPE".into());
    b.write_config();
    let log = b.dir.join("warn.log");
    let bundle = b.bundle();
    let warned = |t: &str| {
        t.lines()
            .any(|l| l.contains("level=warning") && l.contains("CAP_CARRACK_NOPE"))
    };
    let id = b.id("warn");
    let out = b.rt(&[
        "--log",
        log.to_str().unwrap(),
        "run",
        "--bundle",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(
        text(&out.stderr),
        "",
        "the container's stderr got carrack's lines"
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(warned(&logged), "log: {logged}");
    let id = b.id("warn");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(warned(&text(&out.stderr)), "stderr: {}", text(&out.stderr));
}

/// init's own lines (here the debug line about the default spec's ambient capabilities,
/// written when init sets capabilities, after pivot_root) reach the host's --log file, not a
/// path inside the container's rootfs.
#[test]
fn init_writes_to_the_host_log_after_pivot_root() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["true"]);
    // The same directory exists inside the rootfs: a write by path would land there.
    let logdir = b.dir.join("logs");
    std::fs::create_dir_all(&logdir).unwrap();
    let inside = b.rootfs().join(logdir.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    let log = logdir.join("debug.log");
    let bundle = b.bundle();
    let id = b.id("initlog");
    let out = b.rt(&[
        "--debug",
        "--log",
        log.to_str().unwrap(),
        "run",
        "--bundle",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !inside.join("debug.log").exists(),
        "init wrote into the container's rootfs"
    );
    assert!(
        logged.contains("process.capabilities.ambient"),
        "init's line is not in the host log: {logged}"
    );
}

/// `carrack list | head -n1`: when stdout's reader is gone, carrack ends quietly with the
/// status of a process killed by SIGPIPE, as runc (Go) does; it used to panic ("failed
/// printing to stdout") or print "Broken pipe".
#[test]
fn a_closed_stdout_ends_quietly_as_runc() {
    use std::os::fd::{FromRawFd, OwnedFd};
    for args in [
        &["--version"][..],
        &["features"],
        &["spec", "--help"],
        &["list"],
    ] {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into the array; each is owned once below.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh fds from pipe, owned here.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let root = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(BIN)
            .arg("--root")
            .arg(root.path())
            .args(args)
            .stdout(write)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "carrack {args:?}: {stderr}");
        // clap's --help ignores the write error and exits 0; quiet either way.
        let want: &[i32] = if args.contains(&"--help") {
            &[0, 141]
        } else {
            &[141]
        };
        let code = out.status.code().unwrap_or(-1);
        assert!(want.contains(&code), "carrack {args:?}: exit {code}");
    }
}
