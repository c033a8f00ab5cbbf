//! Side by side with runc (Debian's package): the same bundle through both runtimes gives the
//! same outputs, exit codes and state fields.

mod common;

use common::*;
use serde_json::Value;

fn runc() -> Option<String> {
    let found = ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string());
    if found.is_none() {
        skip("no-runc", "runc is not installed (apt-get install runc)");
    }
    found
}

/// (exit code, stdout, stderr) of `run` through `runtime`.
fn run_with(
    runtime: &str,
    args: &[&str],
    tweak: impl Fn(&mut Value),
) -> (Option<i32>, String, String) {
    let mut b = Bundle::with_runtime(runtime, args);
    tweak(&mut b.config);
    // runc 1.1 refuses configs newer than it knows only in places we do not use here.
    b.write_config();
    let id = b.id("compat");
    let out = b.rt_bundle("run", &id, &[]);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn same_output_and_exit_codes_as_runc() {
    let Some(()) = can_run() else { return };
    let Some(runc) = runc() else { return };
    let cases: &[&[&str]] = &[
        &["sh", "-c", "echo hi; exit 3"],
        &[
            "sh",
            "-c",
            "echo $$; hostname; id; pwd; cat /proc/self/status | grep -E '^Cap|NoNewPrivs'",
        ],
        &[
            "sh",
            "-c",
            "ls /dev | sort; test -w /proc/sys/kernel/hostname || echo ro-sys",
        ],
        &["sh", "-c", "ulimit -n; cat /proc/self/oom_score_adj; umask"],
        &["/bin/nope"],
    ];
    for args in cases {
        let tweak = |c: &mut Value| {
            c["hostname"] = "compat".into();
        };
        let ours = run_with(BIN, args, tweak);
        let theirs = run_with(&runc, args, tweak);
        assert_eq!(
            ours.0, theirs.0,
            "exit code for {args:?}: ours {ours:?} runc {theirs:?}"
        );
        if ours.0 == Some(0) || args[0] != "/bin/nope" {
            assert_eq!(ours.1, theirs.1, "stdout for {args:?}");
        }
    }
}

#[test]
fn same_state_fields_as_runc() {
    let Some(()) = can_run() else { return };
    let Some(runc) = runc() else { return };
    let mut states = Vec::new();
    for rt in [BIN, runc.as_str()] {
        let b = Bundle::with_runtime(rt, &["sleep", "30"]);
        let id = b.id("state");
        let out = b.rt_bundle("create", &id, &[]);
        assert!(out.status.success(), "{rt} create: {}", text(&out.stderr));
        let created = b.state(&id);
        assert!(b.rt(&["start", &id]).status.success());
        let running = b.state(&id);
        assert!(b.rt(&["kill", &id, "KILL"]).status.success());
        assert!(b.wait_status(&id, "stopped"), "{rt}: never stopped");
        let stopped = b.state(&id);
        let list: Value =
            serde_json::from_slice(&b.rt(&["list", "--format", "json"]).stdout).unwrap();
        assert!(b.rt(&["delete", &id]).status.success());
        let gone = b.rt(&["state", &id]);
        states.push((
            created,
            running,
            stopped,
            list,
            gone.status.code(),
            b.bundle(),
        ));
    }
    let (ours, theirs) = (&states[0], &states[1]);
    for (o, t) in [
        (&ours.0, &theirs.0),
        (&ours.1, &theirs.1),
        (&ours.2, &theirs.2),
    ] {
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(o), keys(t), "state keys");
        assert_eq!(o["status"], t["status"]);
        assert_eq!(
            o["pid"].as_i64().unwrap() > 0,
            t["pid"].as_i64().unwrap() > 0
        );
        assert_eq!(o["owner"], t["owner"]);
    }
    assert_eq!(ours.2["pid"], theirs.2["pid"], "pid of a stopped container");
    assert_eq!(ours.3[0]["status"], theirs.3[0]["status"], "list status");
    assert_eq!(ours.3[0]["owner"], theirs.3[0]["owner"], "list owner");
    assert_eq!(ours.4, theirs.4, "state exit code after delete");
    assert_eq!(ours.0["bundle"], ours.5.to_str().unwrap());
}

/// `ps` of a stopped container is no error: the table's header alone and `null` as JSON
/// (Go's empty list), the same through both runtimes.
#[test]
fn ps_of_a_stopped_container_as_runc() {
    let Some(()) = can_run() else { return };
    let Some(runc) = runc() else { return };
    let mut seen = Vec::new();
    for rt in [BIN, runc.as_str()] {
        let b = Bundle::with_runtime(rt, &["sleep", "30"]);
        let id = b.id("ps");
        let out = b.rt_bundle("run", &id, &["--detach"]);
        assert!(out.status.success(), "{rt} run: {}", text(&out.stderr));
        assert!(b.rt(&["kill", &id, "KILL"]).status.success());
        assert!(b.wait_status(&id, "stopped"), "{rt}: never stopped");
        let json = b.rt(&["ps", "--format", "json", &id]);
        let table = b.rt(&["ps", &id]);
        let header = text(&table.stdout).lines().next().unwrap_or("").to_string();
        seen.push((
            json.status.code(),
            text(&json.stdout),
            table.status.code(),
            text(&table.stdout).lines().count(),
            header.contains("PID"),
            text(&json.stderr) + &text(&table.stderr),
        ));
    }
    assert_eq!(seen[0], seen[1], "ours, then runc's");
    assert_eq!(seen[0].0, Some(0), "{:?}", seen[0]);
}

/// For each object in a JSON text (by path; array elements share one), its keys in the order
/// the text has them: read from the text itself, whatever order serde_json's map keeps.
fn key_orders(text: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut stack: Vec<(String, bool)> = Vec::new(); // (path, is an object)
    let mut key: Option<String> = None;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    s.push(b[i]);
                    i += 1;
                }
                let rest = text[i + 1..].trim_start();
                if let (true, Some((path, true))) = (rest.starts_with(':'), stack.last()) {
                    let k = String::from_utf8_lossy(&s).into_owned();
                    let keys = out.entry(path.clone()).or_default();
                    if !keys.contains(&k) {
                        keys.push(k.clone());
                    }
                    key = Some(k);
                }
            }
            c @ (b'{' | b'[') => {
                let path = match (stack.last(), key.take()) {
                    (Some((p, true)), Some(k)) => format!("{p}/{k}"),
                    (Some((p, _)), _) => format!("{p}[]"),
                    (None, _) => String::new(),
                };
                stack.push((path, c == b'{'));
            }
            b'}' | b']' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `state`, `list --format json` and `events --stats` print their keys in runc's order, at
/// every level (callers match text). Keys only one runtime prints are left out.
#[test]
fn same_key_order_as_runc() {
    let Some(()) = can_run() else { return };
    let Some(runc) = runc() else { return };
    let mut texts = Vec::new();
    for rt in [BIN, runc.as_str()] {
        let mut b = Bundle::with_runtime(rt, &["sleep", "30"]);
        b.config["annotations"] = serde_json::json!({"org.example.key": "value"});
        b.config["linux"]["resources"] = serde_json::json!({"pids": {"limit": 100}});
        b.write_config();
        let id = b.id("order");
        let out = b.rt_bundle("run", &id, &["--detach"]);
        assert!(out.status.success(), "{rt} run: {}", text(&out.stderr));
        let mut got = Vec::new();
        for args in [
            &["state", id.as_str()][..],
            &["list", "--format", "json"],
            &["events", "--stats", id.as_str()],
        ] {
            let out = b.rt(args);
            assert!(out.status.success(), "{rt} {args:?}: {}", text(&out.stderr));
            got.push((args[0].to_string(), key_orders(&text(&out.stdout))));
        }
        texts.push(got);
    }
    for ((verb, ours), (_, theirs)) in texts[0].iter().zip(&texts[1]) {
        assert!(
            !theirs.is_empty(),
            "{verb}: no keys read from runc's output"
        );
        for (path, their_keys) in theirs {
            let Some(our_keys) = ours.get(path) else {
                continue;
            };
            let common = |a: &Vec<String>, b: &Vec<String>| -> Vec<String> {
                a.iter().filter(|k| b.contains(k)).cloned().collect()
            };
            assert_eq!(
                common(our_keys, their_keys),
                common(their_keys, our_keys),
                "{verb}: key order of {path:?}, ours then runc's"
            );
        }
    }
}

/// Every signal runc 1.1's `kill` takes, carrack takes (numbers 0-64, its names with and
/// without SIG in any case); carrack takes more only in the RTMIN+n/RTMAX-n names.
#[test]
fn kill_takes_every_signal_runc_takes() {
    let Some(()) = can_run() else { return };
    let Some(runc) = runc() else { return };
    let names = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "USR1", "SEGV", "USR2", "PIPE",
        "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS", "IOT", "CLD", "POLL", "NOPE", "RTMIN",
        "RTMIN+3", "RTMAX-2", "RTMAX",
    ];
    let mut specs: Vec<String> = (0..=66).map(|n| n.to_string()).collect();
    specs.retain(|s| s != "9" && s != "19"); // KILL and STOP would end the test's container
    for n in names {
        specs.extend([
            n.to_string(),
            format!("SIG{n}"),
            format!("sig{}", n.to_lowercase()),
        ]);
    }
    let mut accepted = Vec::new();
    for rt in [BIN, runc.as_str()] {
        let b = Bundle::with_runtime(rt, &["sleep", "30"]);
        let id = b.id("killall");
        let out = b.rt_bundle("run", &id, &["--detach"]);
        assert!(out.status.success(), "{rt} run: {}", text(&out.stderr));
        let ok: Vec<&String> = specs
            .iter()
            .filter(|s| b.rt(&["kill", &id, s]).status.success())
            .collect();
        assert_eq!(
            b.state(&id)["status"],
            "running",
            "{rt}: a signal ended init"
        );
        accepted.push(ok);
    }
    let (ours, theirs) = (&accepted[0], &accepted[1]);
    let missing: Vec<_> = theirs.iter().filter(|s| !ours.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "runc takes, carrack refuses: {missing:?}"
    );
    let extra: Vec<_> = ours.iter().filter(|s| !theirs.contains(s)).collect();
    assert!(
        extra.iter().all(|s| s.to_uppercase().contains("RTM")),
        "carrack takes, runc refuses: {extra:?}"
    );
    assert!(theirs.len() > 90, "runc took only {theirs:?}");
}
