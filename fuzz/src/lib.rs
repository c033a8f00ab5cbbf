//! The fuzz targets' entries, on the carrack library (its parsers: config::parse,
//! state::parse_state, linux::seccomp::compile, linux::mounts::parse_options).
#![allow(clippy::all)]

use carrack::{config, linux};
// The module; `carrack::state` is also the API function of that name.
use carrack::state as state_file;

/// Private in linux/; the seccomp target picks syscall names from it.
#[path = "../../src/linux/syscall_table.rs"]
pub mod syscall_table;

use std::path::{Path, PathBuf};

/// A bundle with a rootfs dir for `validate`: next to the fuzz binary, in the build dir (so
/// nothing is left in /tmp).
fn bundle() -> &'static Path {
    static B: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    B.get_or_init(|| {
        let exe = std::env::current_exe().expect("the fuzz binary's path");
        let b = exe.with_file_name("carrack-fuzz-bundle");
        std::fs::create_dir_all(b.join("rootfs")).expect("create the fuzz bundle");
        b
    })
}

/// config.json: parse + validate give a spec or a one-line error naming the config.
pub fn config(data: &[u8]) {
    match config::parse(data).and_then(|s| config::validate(&s, bundle()).map(|_| s)) {
        Ok(_) => {}
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
        }
    }
}

/// state.json: a state, or an error naming the file; a state that reads prints as `state`
/// JSON and reads back the same.
pub fn state(data: &[u8]) {
    let file = Path::new("/run/carrack/x/state.json");
    match state_file::parse_state(data, file) {
        Ok(st) => {
            state_file::state_json(&st, state_file::Status::Stopped);
            let text = serde_json::to_vec(&st).expect("a state serializes");
            let again = state_file::parse_state(&text, file).expect("a written state reads back");
            assert_eq!(
                serde_json::to_value(&st).unwrap(),
                serde_json::to_value(&again).unwrap(),
                "the state changed in a round trip"
            );
        }
        Err(e) => assert!(format!("{e:#}").contains("corrupt state"), "{e:#}"),
    }
}

/// The mount-option parser: never an error or a panic; an option is data (passed to the
/// kernel) exactly when it is not one of carrack's own names, in order; a recursive
/// attribute is never both set and cleared (only the atime field is cleared as a whole when
/// one atime mode is set).
pub fn mount_options(opts: &[String]) {
    let o = linux::mounts::parse_options(opts).expect("parse_options is infallible");
    let data: Vec<&String> = opts
        .iter()
        .filter(|x| {
            let one = linux::mounts::parse_options(std::slice::from_ref(*x)).unwrap();
            one.data.len() == 1
        })
        .collect();
    assert_eq!(o.data.iter().collect::<Vec<_>>(), data);
    const ATIME: u64 = 0x70; // MOUNT_ATTR__ATIME
    assert_eq!(
        o.rec_set & o.rec_clr & !ATIME,
        0,
        "set {:#x} and cleared {:#x}",
        o.rec_set,
        o.rec_clr
    );
}

/// The seccomp compiler: a filter or an error naming the field; a filter's program runs to a
/// return on every input (no jump out of it), and returns only what the profile asked for,
/// KILL_PROCESS (an arch it does not list) or ERRNO(ENOSYS) (a syscall newer than it names).
pub fn seccomp(profile: &serde_json::Value, probes: &[(u32, u32, [u64; 6])]) {
    let s: oci_spec::runtime::LinuxSeccomp = match config::from_json_value(profile) {
        Ok(s) => s,
        Err(_) => return,
    };
    let f = match linux::seccomp::compile(&s) {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(msg.starts_with("linux.seccomp"), "{msg:?}");
            return;
        }
    };
    let class = |a: &serde_json::Value| -> u32 {
        match a.as_str().unwrap_or("") {
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => 0,
            "SCMP_ACT_KILL_PROCESS" => 0x8000_0000,
            "SCMP_ACT_TRAP" => 0x0003_0000,
            "SCMP_ACT_ERRNO" => 0x0005_0000,
            "SCMP_ACT_NOTIFY" => 0x7fc0_0000,
            "SCMP_ACT_TRACE" => 0x7ff0_0000,
            "SCMP_ACT_LOG" => 0x7ffc_0000,
            "SCMP_ACT_ALLOW" => 0x7fff_0000,
            other => panic!("an action the parser accepted: {other}"),
        }
    };
    let mut allowed = vec![0x8000_0000, 0x0005_0000 | libc::ENOSYS as u32];
    allowed.push(class(&profile["defaultAction"]));
    for r in profile["syscalls"].as_array().into_iter().flatten() {
        allowed.push(class(&r["action"]));
    }
    for &(nr, arch, args) in probes {
        let ret = f.eval(nr, arch, args);
        let action = ret & 0xffff_0000;
        assert!(
            allowed.contains(&action) || allowed.contains(&ret),
            "nr {nr} arch {arch:#x}: returns {ret:#x}, not an action of the profile"
        );
    }
    // aarch64: never in a filter built on x86_64.
    assert_eq!(f.eval(0, 0xc000_00b7, [0; 6]), 0x8000_0000);
}
