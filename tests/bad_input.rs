//! A corpus of bad input: malformed and mistyped configs, bad paths, ids, signals, hooks,
//! namespaces, rootfs and bundles. Every case must exit 1 with a message naming the field and
//! the reason, and leave nothing behind: no state under --root, no stray file next to it, no
//! process, no cgroup, no mount. All cases run; every failure is reported in one panic.

mod common;

use common::*;
use serde_json::{json, Value};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// Makes config.json's bytes from the valid config.
type RawConfig = Box<dyn Fn(&Value) -> Vec<u8>>;

/// What a case does to the bundle before running carrack.
enum Prep {
    /// Nothing: the default bundle.
    None,
    /// Change the config Value (already carrying `linux.cgroupsPath: /<id>`).
    Config(Box<dyn Fn(&mut Value)>),
    /// Write these bytes as config.json; gets the valid config, with its cgroupsPath.
    Raw(RawConfig),
    /// Change the bundle on disk after the valid config is written.
    Disk(Box<dyn Fn(&Bundle)>),
}

/// How carrack is run.
enum Run {
    /// `create --bundle <bundle> <id>`.
    Create,
    /// `create` with extra arguments before the id; `{dir}` stands for the test's temp dir.
    CreateWith(&'static [&'static str]),
    /// `create` with this id; `{u}` stands for a unique marker.
    Id(&'static [u8]),
    /// `<verb> [flags] <id>` with a bad id; `../decoy` must survive.
    Verb(&'static [&'static str], &'static str),
    /// `kill <id> <signal>` on a created container, which must stay as it was.
    Kill(&'static str),
    /// `create` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, as an unreadable bundle is
    /// to root.
    NoDacCaps,
    /// `create --bundle <path>` where the path is the bundle dir joined with this.
    BundleAt(&'static str),
}

struct Case {
    name: &'static str,
    prep: Prep,
    run: Run,
    /// Substrings stderr must contain (ASCII case-insensitive).
    want: &'static [&'static str],
}

fn cfg(
    name: &'static str,
    want: &'static [&'static str],
    f: impl Fn(&mut Value) + 'static,
) -> Case {
    Case {
        name,
        prep: Prep::Config(Box::new(f)),
        run: Run::Create,
        want,
    }
}

fn raw(
    name: &'static str,
    want: &'static [&'static str],
    f: impl Fn(&Value) -> Vec<u8> + 'static,
) -> Case {
    Case {
        name,
        prep: Prep::Raw(Box::new(f)),
        run: Run::Create,
        want,
    }
}

fn disk(name: &'static str, want: &'static [&'static str], f: impl Fn(&Bundle) + 'static) -> Case {
    Case {
        name,
        prep: Prep::Disk(Box::new(f)),
        run: Run::Create,
        want,
    }
}

fn run(name: &'static str, want: &'static [&'static str], run: Run) -> Case {
    Case {
        name,
        prep: Prep::None,
        run,
        want,
    }
}

fn ns_list(c: &mut Value) -> &mut Vec<Value> {
    c["linux"]["namespaces"].as_array_mut().unwrap()
}

fn hook_at(c: &mut Value, kind: &str, hook: Value) {
    c["hooks"] = json!({ kind: [hook] });
}

/// The config with `key` replaced by a raw JSON text (for values serde_json cannot hold).
fn with_raw_field(c: &Value, key: &str, text: &str) -> Vec<u8> {
    let mut c = c.clone();
    c[key] = json!("@@RAW@@");
    serde_json::to_string(&c)
        .unwrap()
        .replace("\"@@RAW@@\"", text)
        .into_bytes()
}

fn cases() -> Vec<Case> {
    vec![
        // --- malformed JSON
        raw("malformed-json", &["config.json", "EOF"], |_| {
            br#"{"ociVersion": "1.2.0", "process": {"#.to_vec()
        }),
        raw("empty-config", &["config.json", "JSON object"], |_| {
            Vec::new()
        }),
        raw("config-is-array", &["config.json", "JSON object"], |_| {
            b"[]".to_vec()
        }),
        raw("config-is-null", &["config.json", "JSON object"], |_| {
            b"null".to_vec()
        }),
        raw("trailing-garbage", &["config.json", "trailing"], |c| {
            let mut v = serde_json::to_vec(c).unwrap();
            v.extend_from_slice(b" }");
            v
        }),
        raw("not-utf8", &["config.json"], |c| {
            let mut v = serde_json::to_vec(c).unwrap();
            let at = v.iter().position(|&b| b == b'r').unwrap(); // inside "ociVersion"
            v[at] = 0xff;
            v
        }),
        raw(
            "duplicate-key",
            &["config.json", "ociVersion", "duplicate"],
            |c| {
                let s = serde_json::to_string(c).unwrap();
                format!("{{\"ociVersion\":\"1.0.0\",{}", &s[1..]).into_bytes()
            },
        ),
        // --- wrong types
        cfg("args-is-string", &["process.args", "invalid type"], |c| {
            c["process"]["args"] = json!("true")
        }),
        cfg(
            "uid-is-string",
            &["process.user.uid", "invalid type"],
            |c| c["process"]["user"]["uid"] = json!("0"),
        ),
        cfg("uid-negative", &["process.user.uid", "-1"], |c| {
            c["process"]["user"]["uid"] = json!(-1)
        }),
        cfg("uid-overflow", &["process.user.uid", "4294967296"], |c| {
            c["process"]["user"]["uid"] = json!(4294967296u64)
        }),
        cfg(
            "terminal-is-string",
            &["process.terminal", "invalid type"],
            |c| c["process"]["terminal"] = json!("yes"),
        ),
        cfg(
            "readonly-is-number",
            &["root.readonly", "invalid type"],
            |c| c["root"]["readonly"] = json!(1),
        ),
        cfg("mounts-is-object", &["mounts", "invalid type"], |c| {
            c["mounts"] = json!({"destination": "/proc"})
        }),
        cfg(
            "namespaces-is-string",
            &["linux.namespaces", "invalid type"],
            |c| c["linux"]["namespaces"] = json!("pid"),
        ),
        cfg(
            "env-entry-is-number",
            &["process.env", "invalid type"],
            |c| c["process"]["env"] = json!(["PATH=/bin", 7]),
        ),
        // oci-spec checks this format with its one regex (regex-lite here: shims/regex).
        cfg(
            "exec-cpu-affinity-bad-format",
            &["process.execCPUAffinity.initial", "0-x"],
            |c| c["process"]["execCPUAffinity"] = json!({"initial": "0-x"}),
        ),
        cfg("hostname-is-number", &["hostname", "invalid type"], |c| {
            c["hostname"] = json!(42)
        }),
        cfg(
            "memory-limit-is-string",
            &["linux.resources.memory.limit", "invalid type"],
            |c| c["linux"]["resources"]["memory"] = json!({"limit": "1G"}),
        ),
        cfg(
            "ociversion-is-number",
            &["ociVersion", "invalid type"],
            |c| c["ociVersion"] = json!(1),
        ),
        // --- ociVersion
        cfg("ociversion-major-2", &["ociVersion", "2.0.0"], |c| {
            c["ociVersion"] = json!("2.0.0")
        }),
        cfg("ociversion-major-0", &["ociVersion", "0.6.0"], |c| {
            c["ociVersion"] = json!("0.6.0")
        }),
        cfg("ociversion-empty", &["ociVersion", "required"], |c| {
            c["ociVersion"] = json!("")
        }),
        cfg("ociversion-missing", &["ociVersion", "required"], |c| {
            c.as_object_mut().unwrap().remove("ociVersion");
        }),
        cfg("ociversion-garbage", &["ociVersion", "banana"], |c| {
            c["ociVersion"] = json!("banana")
        }),
        // --- relative paths
        cfg("cwd-relative", &["process.cwd", "absolute"], |c| {
            c["process"]["cwd"] = json!("tmp")
        }),
        cfg(
            "mount-destination-relative",
            &["mounts[0].destination", "absolute"],
            |c| c["mounts"][0]["destination"] = json!("proc"),
        ),
        cfg(
            "device-path-relative",
            &["linux.devices[0].path", "absolute"],
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "dev/null2", "type": "c", "major": 1, "minor": 3}])
            },
        ),
        cfg(
            "masked-path-relative",
            &["linux.maskedPaths[0]", "absolute"],
            |c| c["linux"]["maskedPaths"] = json!(["proc/kcore"]),
        ),
        cfg(
            "readonly-path-relative",
            &["linux.readonlyPaths[0]", "absolute"],
            |c| c["linux"]["readonlyPaths"] = json!(["proc/sys"]),
        ),
        // "src" exists relative to the test's cwd (the package dir), so only the rule stops it.
        cfg(
            "namespace-path-relative",
            &["linux.namespaces[1].path", "absolute"],
            |c| c["linux"]["namespaces"][1]["path"] = json!("src"),
        ),
        cfg(
            "hook-path-relative",
            &["hooks.createRuntime[0]", "absolute"],
            |c| hook_at(c, "createRuntime", json!({"path": "true"})),
        ),
        // --- NUL bytes inside strings (JSON allows \u0000; the kernel does not)
        cfg("args-with-nul", &["process.args", "nul"], |c| {
            c["process"]["args"] = json!(["true\u{0}x"])
        }),
        cfg("cwd-with-nul", &["process.cwd", "nul"], |c| {
            c["process"]["cwd"] = json!("/tmp\u{0}x")
        }),
        cfg("env-with-nul", &["process.env[0]", "nul"], |c| {
            c["process"]["env"] = json!(["A=b\u{0}c"])
        }),
        cfg("hostname-with-nul", &["hostname", "nul"], |c| {
            c["hostname"] = json!("a\u{0}b")
        }),
        cfg("mount-destination-with-nul", &["mounts[0]", "nul"], |c| {
            c["mounts"][0]["destination"] = json!("/proc\u{0}x")
        }),
        // The kernel refuses it; the message quotes it escaped, on one line.
        cfg("mount-type-with-newline", &["mounts[3]", "a\\nb"], |c| {
            c["mounts"][3]["type"] = json!("a\nb")
        }),
        // --- mounts
        cfg(
            "unknown-mount-option",
            &["mounts[1]", "bogus-option"],
            |c| {
                c["mounts"][1]["options"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("bogus-option"))
            },
        ),
        // Not here: an unknown option on a bind mount is ignored, as runc and the kernel do.
        cfg("unknown-mount-type", &["mounts[7]", "nosuchfs"], |c| {
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/mnt", "type": "nosuchfs", "source": "none"
            }))
        }),
        cfg(
            "bind-source-missing",
            &["mounts[7]", "/nonexistent/carrack-src"],
            |c| {
                c["mounts"].as_array_mut().unwrap().push(json!({
                    "destination": "/mnt", "type": "bind", "source": "/nonexistent/carrack-src",
                    "options": ["rbind"]
                }))
            },
        ),
        // --- invalid signal names (kill on a created container)
        run(
            "signal-unknown-name",
            &["signal", "SIGFOO"],
            Run::Kill("SIGFOO"),
        ),
        run("signal-out-of-range", &["signal", "99"], Run::Kill("99")),
        run("signal-empty", &["signal"], Run::Kill("")),
        run("signal-bare-sig", &["signal", "SIG"], Run::Kill("SIG")),
        // --- ids
        run("id-with-slash", &["container id"], Run::Id(b"{u}/x")),
        run("id-dotdot-prefix", &["container id"], Run::Id(b"../{u}")),
        run("id-dotdot", &["container id"], Run::Id(b"..")),
        run("id-dot", &["container id"], Run::Id(b".")),
        run("id-empty", &["container id"], Run::Id(b"")),
        run("id-with-newline", &["container id"], Run::Id(b"{u}\nx")),
        run("id-with-space", &["container id"], Run::Id(b"{u} x")),
        run("id-not-utf8", &["UTF-8"], Run::Id(b"{u}\xff")),
        // A NUL cannot pass through execve's argv; validate_id's unit test covers "a\0".
        run("id-escaped-nul", &["container id"], Run::Id(b"{u}\\0x")),
        run(
            "state-id-dotdot",
            &["container id"],
            Run::Verb(&["state"], "../decoy"),
        ),
        run(
            "delete-id-dotdot",
            &["container id"],
            Run::Verb(&["delete", "--force"], "../decoy"),
        ),
        run(
            "kill-id-dotdot",
            &["container id"],
            Run::Verb(&["kill"], "../decoy"),
        ),
        run(
            "start-id-dotdot",
            &["container id"],
            Run::Verb(&["start"], ".."),
        ),
        // --- 100 MB config (a huge annotation)
        // --- 100 MB config: a huge annotation, or a small config padded with whitespace
        raw(
            "config-100mb-annotation",
            &["config.json", "larger than"],
            |c| {
                let pad = format!("{{\"pad\":\"{}\"}}", "x".repeat(100 << 20));
                with_raw_field(c, "annotations", &pad)
            },
        ),
        raw(
            "config-100mb-whitespace",
            &["config.json", "larger than"],
            |c| {
                let mut v = serde_json::to_vec(c).unwrap();
                let close = v.pop().unwrap();
                v.resize(v.len() + (100 << 20), b' ');
                v.push(close);
                v
            },
        ),
        // --- process
        cfg("args-empty", &["process.args", "empty"], |c| {
            c["process"]["args"] = json!([])
        }),
        cfg("args-missing", &["process.args", "empty"], |c| {
            c["process"].as_object_mut().unwrap().remove("args");
        }),
        cfg("args-empty-string", &["process.args", "empty"], |c| {
            c["process"]["args"] = json!([""])
        }),
        cfg("process-missing", &["process", "required"], |c| {
            c.as_object_mut().unwrap().remove("process");
        }),
        cfg(
            "env-without-equals",
            &["process.env[1]", "KEY=VALUE"],
            |c| c["process"]["env"] = json!(["PATH=/bin", "NOPE"]),
        ),
        cfg(
            "rlimit-soft-above-hard",
            &["process.rlimits[0]", "soft"],
            |c| {
                c["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])
            },
        ),
        cfg(
            "rlimit-unknown-type",
            &["process.rlimits[0].type", "RLIMIT_BOGUS"],
            |c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
        ),
        cfg("umask-too-big", &["process.user.umask", "7777"], |c| {
            c["process"]["user"]["umask"] = json!(0o17777)
        }),
        cfg(
            "terminal-without-console-socket",
            &["process.terminal", "console socket"],
            |c| c["process"]["terminal"] = json!(true),
        ),
        // --- uid/gid maps
        cfg(
            "userns-without-maps",
            &["linux.uidMappings", "user namespace"],
            |c| ns_list(c).push(json!({"type": "user"})),
        ),
        cfg(
            "maps-without-userns",
            &["linux.uidMappings", "user namespace"],
            |c| {
                c["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                c["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            },
        ),
        cfg("uid-map-without-gid-map", &["linux.gidMappings"], |c| {
            ns_list(c).push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        }),
        cfg(
            "uid-map-size-zero",
            &["linux.uidMappings[0]", "size"],
            |c| {
                ns_list(c).push(json!({"type": "user"}));
                c["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 0}]);
                c["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            },
        ),
        cfg(
            "uid-maps-overlap",
            &["linux.uidMappings[1]", "overlap"],
            |c| {
                ns_list(c).push(json!({"type": "user"}));
                c["linux"]["uidMappings"] = json!([
                    {"containerID": 0, "hostID": 100000, "size": 1000},
                    {"containerID": 500, "hostID": 200000, "size": 1000}
                ]);
                c["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            },
        ),
        // --- hooks
        cfg(
            "hook-binary-missing",
            &["hooks.createRuntime[0]", "No such file"],
            |c| {
                hook_at(
                    c,
                    "createRuntime",
                    json!({"path": "/nonexistent/carrack-hook"}),
                )
            },
        ),
        cfg(
            "prestart-hook-binary-missing",
            &["hooks.prestart[0]", "No such file"],
            |c| hook_at(c, "prestart", json!({"path": "/nonexistent/carrack-hook"})),
        ),
        cfg(
            "hook-not-executable",
            &["hooks.createRuntime[0]", "Permission denied"],
            |c| hook_at(c, "createRuntime", json!({"path": "/etc/passwd"})),
        ),
        cfg(
            "hook-hangs",
            &["hooks.createRuntime[0]", "timed out"],
            |c| {
                hook_at(
                    c,
                    "createRuntime",
                    json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 30"], "timeout": 1}),
                )
            },
        ),
        cfg(
            "hook-timeout-zero",
            &["hooks.createRuntime[0].timeout", "0"],
            |c| {
                hook_at(
                    c,
                    "createRuntime",
                    json!({"path": "/bin/true", "timeout": 0}),
                )
            },
        ),
        // --- sysctl
        cfg(
            "sysctl-not-namespaced",
            &["linux.sysctl", "kernel.panic"],
            |c| c["linux"]["sysctl"] = json!({"kernel.panic": "10"}),
        ),
        cfg(
            "sysctl-net-without-netns",
            &["linux.sysctl", "network"],
            |c| {
                c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
                ns_list(c).retain(|n| n["type"] != "network");
            },
        ),
        cfg(
            "sysctl-path-escape",
            &["linux.sysctl", "not a sysctl name"],
            |c| c["linux"]["sysctl"] = json!({"net/../../kernel/panic": "10"}),
        ),
        // --- namespaces
        cfg(
            "namespace-unknown-type",
            &["linux.namespaces[0].type", "bogus"],
            |c| c["linux"]["namespaces"][0]["type"] = json!("bogus"),
        ),
        cfg(
            "namespace-duplicate",
            &["linux.namespaces[5]", "duplicate"],
            |c| ns_list(c).push(json!({"type": "pid"})),
        ),
        cfg("namespace-no-mount", &["linux.namespaces", "mount"], |c| {
            ns_list(c).retain(|n| n["type"] != "mount")
        }),
        cfg(
            "namespace-path-missing",
            &["linux.namespaces[1].path", "does not exist"],
            |c| c["linux"]["namespaces"][1]["path"] = json!("/nonexistent/ns/net"),
        ),
        cfg(
            "namespace-path-not-a-namespace",
            &[
                "linux.namespaces[1].path",
                "/etc/hostname",
                "not a namespace",
            ],
            |c| c["linux"]["namespaces"][1]["path"] = json!("/etc/hostname"),
        ),
        cfg(
            "namespace-path-wrong-type",
            &["linux.namespaces[1].path", "/proc/self/ns/uts", "network"],
            |c| {
                // [1] is "network"; this is a uts namespace.
                c["linux"]["namespaces"][1]["path"] = json!("/proc/self/ns/uts")
            },
        ),
        cfg("hostname-without-uts", &["hostname", "uts"], |c| {
            c["hostname"] = json!("box");
            ns_list(c).retain(|n| n["type"] != "uts");
        }),
        cfg(
            "time-offsets-without-timens",
            &["linux.timeOffsets", "time namespace"],
            |c| c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 1}}),
        ),
        cfg(
            "net-devices-without-netns",
            &["linux.netDevices", "network namespace"],
            |c| {
                c["linux"]["netDevices"] = json!({"lo": {}});
                ns_list(c).retain(|n| n["type"] != "network");
            },
        ),
        cfg(
            "net-device-name-with-slash",
            &["linux.netDevices", "a/b", "not a valid interface name"],
            |c| c["linux"]["netDevices"] = json!({"lo": {"name": "a/b"}}),
        ),
        cfg(
            "net-device-name-too-long",
            &["linux.netDevices", "not a valid interface name"],
            |c| c["linux"]["netDevices"] = json!({"lo": {"name": "a23456789abcdefg"}}),
        ),
        cfg(
            "net-device-missing",
            &["linux.netDevices", "carrack-nope", "no such interface"],
            |c| c["linux"]["netDevices"] = json!({"carrack-nope": {}}),
        ),
        // --- linux, other
        cfg(
            "rootfs-propagation-bogus",
            &["linux.rootfsPropagation", "sideways"],
            |c| c["linux"]["rootfsPropagation"] = json!("sideways"),
        ),
        cfg(
            "seccomp-bad-action",
            &["linux.seccomp.defaultAction", "SCMP_ACT_BOGUS"],
            |c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"}),
        ),
        cfg(
            "cpuset-garbage",
            &["linux.resources.cpu.cpus", "abc"],
            |c| c["linux"]["resources"]["cpu"] = json!({"cpus": "abc"}),
        ),
        cfg("linux-missing", &["linux", "required"], |c| {
            c.as_object_mut().unwrap().remove("linux");
        }),
        // --- rootfs
        disk("rootfs-missing", &["root.path", "No such file"], |b| {
            std::fs::remove_dir_all(b.rootfs()).unwrap()
        }),
        disk("rootfs-is-a-file", &["root.path", "not a directory"], |b| {
            std::fs::remove_dir_all(b.rootfs()).unwrap();
            std::fs::write(b.rootfs(), "not a dir").unwrap();
        }),
        disk(
            "rootfs-dangling-symlink",
            &["root.path", "No such file"],
            |b| {
                std::fs::remove_dir_all(b.rootfs()).unwrap();
                std::os::unix::fs::symlink("/nonexistent/carrack-rootfs", b.rootfs()).unwrap();
            },
        ),
        cfg("root-missing", &["root", "required"], |c| {
            c.as_object_mut().unwrap().remove("root");
        }),
        cfg(
            "root-path-absolute-missing",
            &["root.path", "No such file"],
            |c| c["root"]["path"] = json!("/nonexistent/carrack-rootfs"),
        ),
        // --- bundle
        disk("config-missing", &["config.json", "No such file"], |b| {
            std::fs::remove_file(b.bundle().join("config.json")).unwrap()
        }),
        disk(
            "config-is-a-directory",
            &["config.json", "directory"],
            |b| {
                std::fs::remove_file(b.bundle().join("config.json")).unwrap();
                std::fs::create_dir(b.bundle().join("config.json")).unwrap();
            },
        ),
        run(
            "bundle-missing",
            &["--bundle", "No such file"],
            Run::BundleAt("nope"),
        ),
        run(
            "bundle-is-a-file",
            &["config.json", "Not a directory"],
            Run::BundleAt("rootfs/bin/busybox"),
        ),
        Case {
            name: "config-unreadable",
            prep: Prep::Disk(Box::new(|b| chmod(&b.bundle().join("config.json"), 0o000))),
            run: Run::NoDacCaps,
            want: &["config.json", "Permission denied"],
        },
        Case {
            name: "bundle-unreadable",
            prep: Prep::Disk(Box::new(|b| chmod(&b.bundle(), 0o000))),
            run: Run::NoDacCaps,
            want: &["config.json", "Permission denied"],
        },
        // --- command line
        run(
            "pid-file-in-missing-dir",
            &["--pid-file", "No such file"],
            Run::CreateWith(&["--pid-file", "{dir}/no/such/dir/pid"]),
        ),
        Case {
            name: "console-socket-missing",
            prep: Prep::Config(Box::new(|c| c["process"]["terminal"] = json!(true))),
            run: Run::CreateWith(&["--console-socket", "{dir}/no-such.sock"]),
            want: &["--console-socket", "No such file"],
        },
        // runc: "cannot use console socket if runc will not detach or allocate tty".
        run(
            "console-socket-without-terminal",
            &["process.terminal", "console socket"],
            Run::CreateWith(&["--console-socket", "{dir}/no-such.sock"]),
        ),
        raw("big-number-for-rlimit", &["process.rlimits[0].hard"], |c| {
            with_raw_field(
                c,
                "process",
                r#"{"cwd":"/","args":["true"],"user":{"uid":0,"gid":0},"rlimits":[{"type":"RLIMIT_NOFILE","soft":1,"hard":1e400}]}"#,
            )
        }),
    ]
}

fn chmod(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Run carrack with `args`; output through files, as `Bundle::rt` (a created init inherits
/// them). `no_dac`: without the capabilities that let root read any file.
fn exec(b: &Bundle, args: &[OsString], no_dac: bool) -> Output {
    let (o, e) = (b.dir.join("case.out"), b.dir.join("case.err"));
    let mut cmd = b.cmd();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    if no_dac {
        // SAFETY: only async-signal-safe prctl calls between fork and exec (the error is an
        // errno, allocation-free).
        unsafe {
            cmd.pre_exec(|| {
                // CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
                for cap in [1 as libc::c_ulong, 2] {
                    if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    // A hung carrack must not hang the corpus: killed after LIMIT, reported by the caller.
    let mut child = cmd.spawn().unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > LIMIT {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = Output {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read(&e).unwrap(),
    };
    let _ = std::fs::remove_file(o);
    let _ = std::fs::remove_file(e);
    out
}

/// Longest a bad input may take to be refused (the hanging hook's timeout is 1 s).
const LIMIT: Duration = Duration::from_secs(5);

fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

/// Run one case: Ok(carrack's stderr), or Err describing everything wrong with its answer.
fn check(case: &Case) -> Result<String, String> {
    let mut b = Bundle::new(&["true"]);
    let id = b.id(&case.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
    b.config["linux"]["cgroupsPath"] = json!(format!("/{id}"));
    b.write_config();
    match &case.prep {
        Prep::None => {}
        Prep::Config(f) => {
            f(&mut b.config);
            b.write_config();
        }
        Prep::Raw(f) => std::fs::write(b.bundle().join("config.json"), f(&b.config)).unwrap(),
        Prep::Disk(f) => f(&b),
    }
    let bundle = b.bundle().into_os_string();
    let create = |extra: Vec<OsString>, id: OsString| -> Vec<OsString> {
        let mut v = vec![os("create"), os("--bundle"), bundle.clone()];
        v.extend(extra);
        v.push(id);
        v
    };
    let decoy = b.dir.join("decoy");
    let mut problems = Vec::new();
    let t = Instant::now();
    let out = match &case.run {
        Run::Create => exec(&b, &create(vec![], os(&id)), false),
        Run::NoDacCaps => exec(&b, &create(vec![], os(&id)), true),
        Run::CreateWith(extra) => {
            let dir = b.dir.to_str().unwrap();
            let extra = extra.iter().map(|a| os(a.replace("{dir}", dir))).collect();
            exec(&b, &create(extra, os(&id)), false)
        }
        Run::BundleAt(rel) => {
            let args = [
                os("create"),
                os("--bundle"),
                b.bundle().join(rel).into_os_string(),
                os(&id),
            ];
            exec(&b, &args, false)
        }
        Run::Id(bytes) => {
            let mut v = Vec::new();
            let mut rest: &[u8] = bytes;
            while let Some(at) = rest.windows(3).position(|w| w == b"{u}") {
                v.extend_from_slice(&rest[..at]);
                v.extend_from_slice(id.as_bytes());
                rest = &rest[at + 3..];
            }
            v.extend_from_slice(rest);
            exec(&b, &create(vec![], OsString::from_vec(v)), false)
        }
        Run::Verb(verb, bad) => {
            std::fs::create_dir_all(&decoy).unwrap();
            std::fs::write(decoy.join("state.json"), "{}").unwrap();
            let mut args: Vec<OsString> = verb.iter().map(os).collect();
            args.push(os(bad));
            if verb[0] == "kill" {
                args.push(os("KILL"));
            }
            let out = exec(&b, &args, false);
            if !decoy.join("state.json").exists() {
                problems.push(format!(
                    "{bad:?} reached outside --root: ../decoy was removed"
                ));
            }
            out
        }
        Run::Kill(sig) => {
            let made = b.rt_bundle("create", &id, &[]);
            if !made.status.success() {
                return Err(format!("setup create failed: {}", text(&made.stderr)));
            }
            let out = exec(&b, &[os("kill"), os(&id), os(sig)], false);
            let st = b.rt(&["state", &id]);
            let status: Value = serde_json::from_slice(&st.stdout).unwrap_or_default();
            if status["status"] != "created" {
                problems.push(format!("container not left as it was: state {status}"));
            }
            let del = b.rt(&["delete", "--force", &id]);
            if !del.status.success() {
                problems.push(format!("delete --force: {}", text(&del.stderr)));
            }
            out
        }
    };
    let took = t.elapsed();
    let err = text(&out.stderr);
    if out.status.code() != Some(1) {
        problems.push(format!("exit status {:?}, want 1", out.status));
    }
    let lower = err.to_ascii_lowercase();
    for w in case.want {
        if !lower.contains(&w.to_ascii_lowercase()) {
            problems.push(format!("stderr lacks {w:?}"));
        }
    }
    if err.contains("panicked") {
        problems.push("carrack panicked".into());
    }
    // Engines and users take the last line: the error is one line (warnings may precede it).
    let lines = err.lines().filter(|l| !l.contains("level=warning")).count();
    if lines != 1 {
        problems.push(format!("the error takes {lines} lines, want 1"));
    }
    if took > LIMIT {
        problems.push(format!("killed after {took:?}"));
    }
    problems.extend(leftovers(&b, &id));
    // Whatever happened, nothing must outlive the case (Bundle's Drop force-deletes `id`).
    if out.status.success() {
        let _ = b.rt(&["delete", "--force", &id]);
    }
    if problems.is_empty() {
        Ok(err.trim_end().replace('\0', "\\0"))
    } else {
        Err(format!(
            "{}\n    exit {:?}, stderr: {}",
            problems.join("; "),
            out.status.code(),
            err.trim_end().replace('\n', "\n    ").replace('\0', "\\0")
        ))
    }
}

/// What the failed command left behind: state under --root, files beside it, processes,
/// cgroups, mounts.
fn leftovers(b: &Bundle, id: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&b.root) {
        let names: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
        if !names.is_empty() {
            found.push(format!("left under --root: {names:?}"));
        }
    }
    if let Ok(rd) = std::fs::read_dir(&b.dir) {
        let extra: Vec<_> = rd
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| {
                !["bundle", "state", "decoy", "case.out", "case.err"]
                    .contains(&n.to_str().unwrap_or(""))
            })
            .collect();
        if !extra.is_empty() {
            found.push(format!("left beside --root: {extra:?}"));
        }
    }
    let mut procs = processes_mentioning(id);
    for _ in 0..100 {
        if procs.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        procs = processes_mentioning(id);
    }
    if !procs.is_empty() {
        found.push(format!("processes left {procs:?}"));
    }
    let dirs = cgroup_dirs_named(id);
    if !dirs.is_empty() {
        found.push(format!("cgroup left in {} hierarchies", dirs.len()));
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    if mounts.contains(id) || mounts.contains(b.dir.to_str().unwrap()) {
        found.push("mount left".into());
    }
    found
}

#[test]
fn bad_input_exits_1_naming_the_field_and_leaves_nothing() {
    let Some(()) = can_run() else { return };
    let cases = cases();
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(names.insert(c.name), "duplicate case name {}", c.name);
    }
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut failed = Vec::new();
    for case in &cases {
        let t = Instant::now();
        match check(case) {
            Ok(err) => println!("ok   {} ({:?}): {err}", case.name, t.elapsed()),
            Err(e) => {
                println!("FAIL {}: {e}", case.name);
                failed.push(format!("{}: {e}", case.name));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} bad-input cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}
