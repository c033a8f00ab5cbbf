//! `features` advertises only what works: every advertised namespace, mount option and
//! capability is used in a real container here and its effect checked (the namespace in
//! /proc/self/ns, the flag in mountinfo, the capability in CapEff), and the hook list is the
//! one tests/hooks.rs exercises.

mod common;

use common::*;
use serde_json::{json, Value};

fn features() -> Value {
    let out = std::process::Command::new(BIN)
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn shape_and_hooks() {
    let f = features();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert_eq!(f["ociVersionMax"], "1.3.0");
    assert_eq!(
        f["hooks"],
        json!([
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ])
    );
    for key in ["seccomp", "apparmor", "selinux", "intelRdt", "netDevices"] {
        assert!(f["linux"][key]["enabled"].is_boolean(), "{key}");
    }
}

#[test]
fn every_advertised_namespace_works() {
    let Some(()) = can_run() else { return };
    let f = features();
    for ns in f["linux"]["namespaces"].as_array().unwrap() {
        let ns = ns.as_str().unwrap();
        let file = match ns {
            "network" => "net",
            "mount" => "mnt",
            n => n,
        };
        let link = format!("/proc/self/ns/{file}");
        let mut b = Bundle::new(&["readlink", &link]);
        let list = b.config["linux"]["namespaces"].as_array_mut().unwrap();
        if !list.iter().any(|n| n["type"] == ns) {
            list.push(json!({"type": ns}));
        }
        if ns == "user" {
            b.config["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            b.config["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        }
        if ns == "time" {
            b.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 86400}});
        }
        b.write_config();
        let id = b.id(&format!("ns-{ns}"));
        let out = b.rt_bundle("run", &id, &[]);
        assert!(
            out.status.success(),
            "namespace {ns}: {}",
            text(&out.stderr)
        );
        // The container's process is in a namespace of its own, not the host's.
        let host = std::fs::read_link(&link).unwrap();
        let inside = text(&out.stdout);
        assert!(
            inside.starts_with(&format!("{file}:[")),
            "namespace {ns}: {inside}"
        );
        assert_ne!(inside.trim(), host.to_str().unwrap(), "namespace {ns}");
    }
}

/// What each advertised mount option must show on its mount in the container's
/// /proc/self/mountinfo (or, for bind and tmpcopyup, in the directory's content).
/// Options that clear a flag show as its absence; `norelatime` and `rnorelatime` alone leave
/// the kernel's default (relatime), as with runc 1.1.5 (tests/mounts.rs rnorelatime_keeps_the_atime_mode).
fn mount_option_effect(o: &str) -> Effect {
    use Effect::*;
    match o {
        "ro" | "rro" => Has("ro"),
        "rw" | "rrw" => Has("rw"),
        "nosuid" | "rnosuid" => Has("nosuid"),
        "suid" | "rsuid" => Lacks("nosuid"),
        "nodev" | "rnodev" => Has("nodev"),
        "dev" | "rdev" => Lacks("nodev"),
        "noexec" | "rnoexec" => Has("noexec"),
        "exec" | "rexec" => Lacks("noexec"),
        "noatime" | "rnoatime" => Has("noatime"),
        "atime" => Lacks("noatime"),
        "relatime" | "rrelatime" | "ratime" | "nostrictatime" | "rnostrictatime" | "norelatime"
        | "rnorelatime" => Has("relatime"),
        "strictatime" | "rstrictatime" => LacksAll(&["relatime", "noatime"]),
        "nodiratime" | "rnodiratime" => Has("nodiratime"),
        "diratime" | "rdiratime" => Lacks("nodiratime"),
        "nosymfollow" | "rnosymfollow" => Has("nosymfollow"),
        "symfollow" | "rsymfollow" => Lacks("nosymfollow"),
        "sync" => SuperHas("sync"),
        "async" => SuperLacks("sync"),
        "dirsync" => SuperHas("dirsync"),
        "mand" => SuperHas("mand"),
        "nomand" => SuperLacks("mand"),
        "shared" | "rshared" => Tag("shared:"),
        // A slave of a mount in no peer group is private.
        "private" | "rprivate" | "slave" | "rslave" => NoTags(&["shared:", "master:"]),
        "unbindable" | "runbindable" => Tag("unbindable"),
        "idmap" | "ridmap" => Has("idmapped"),
        "bind" | "rbind" | "tmpcopyup" => Lists("marker"),
        // MS_SILENT only quiets the kernel log: the mount itself is all there is to see.
        "silent" | "loud" => Mounted,
        o => panic!("no expected effect for the advertised mount option {o:?}: add one"),
    }
}

#[derive(Debug)]
enum Effect {
    Has(&'static str),
    Lacks(&'static str),
    LacksAll(&'static [&'static str]),
    SuperHas(&'static str),
    SuperLacks(&'static str),
    Tag(&'static str),
    NoTags(&'static [&'static str]),
    Lists(&'static str),
    Mounted,
}

#[test]
fn every_advertised_mount_option_works() {
    let Some(()) = can_run() else { return };
    let f = features();
    let opts: Vec<String> = serde_json::from_value(f["mountOptions"].clone()).unwrap();
    assert!(!opts.is_empty());
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/mountinfo; for d in /opt/m*; do echo \"LS $d $(ls $d)\"; done",
    ]);
    let id = b.id("mountopts");
    let bind_src = b.dir.join("bind-src");
    std::fs::create_dir_all(&bind_src).unwrap();
    std::fs::write(bind_src.join("marker"), "").unwrap();
    let mut tested = Vec::new();
    let mut mounts = Vec::new();
    for (i, o) in opts.iter().enumerate() {
        let dest = format!("/opt/m{i}");
        // remount changes an existing mount: there is none at a new destination.
        let m = match o.as_str() {
            "remount" => continue,
            "idmap" | "ridmap" => {
                let src = b.dir.join(format!("idmap-src{i}"));
                std::fs::create_dir_all(&src).unwrap();
                json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", o],
                       "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                       "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]})
            }
            "bind" | "rbind" => {
                json!({"destination": dest, "type": "none", "source": bind_src, "options": [o]})
            }
            _ => {
                if o == "tmpcopyup" {
                    let d = b.rootfs().join(dest.trim_start_matches('/'));
                    std::fs::create_dir_all(&d).unwrap();
                    std::fs::write(d.join("marker"), "").unwrap();
                }
                json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": [o]})
            }
        };
        mounts.push(m);
        tested.push((dest, o.clone()));
    }
    b.config["mounts"].as_array_mut().unwrap().extend(mounts);
    b.write_config();
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let mut wrong = Vec::new();
    for (dest, o) in &tested {
        // The last mount at dest: fields 5 (point), 6 (options), 7.. (tags) " - " fs, source,
        // super options.
        let Some(line) = t
            .lines()
            .rfind(|l| l.split(' ').nth(4) == Some(dest.as_str()))
        else {
            wrong.push(format!("{o}: nothing mounted at {dest}"));
            continue;
        };
        let (pre, post) = line.split_once(" - ").unwrap();
        let fields: Vec<&str> = pre.split(' ').collect();
        let opts: Vec<&str> = fields[5].split(',').collect();
        let tags = &fields[6..];
        let sup: Vec<&str> = post.split(' ').nth(2).unwrap_or("").split(',').collect();
        let listing = t
            .lines()
            .find_map(|l| l.strip_prefix(&format!("LS {dest} ")))
            .unwrap_or("");
        let effect = mount_option_effect(o);
        let ok = match effect {
            Effect::Has(x) => opts.contains(&x),
            Effect::Lacks(x) => !opts.contains(&x),
            Effect::LacksAll(xs) => xs.iter().all(|x| !opts.contains(x)),
            Effect::SuperHas(x) => sup.contains(&x),
            Effect::SuperLacks(x) => !sup.contains(&x),
            Effect::Tag(x) => tags.iter().any(|t| t.starts_with(x)),
            Effect::NoTags(xs) => !tags.iter().any(|t| xs.iter().any(|x| t.starts_with(x))),
            Effect::Lists(x) => listing.split(' ').any(|f| f == x),
            Effect::Mounted => true,
        };
        if !ok {
            wrong.push(format!(
                "{o}: want {effect:?}, {dest} is: {line} (ls: {listing:?})"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_advertised_capability_can_be_granted() {
    let Some(()) = can_run() else { return };
    let f = features();
    // Only what this host lets us hold can be granted (here CAP_SYS_RESOURCE is missing).
    let bounding = caps::read(None, caps::CapSet::Bounding).unwrap();
    let advertised: Vec<String> =
        serde_json::from_value(f["linux"]["capabilities"].clone()).unwrap();
    let held: Vec<&String> = advertised
        .iter()
        .filter(|c| bounding.contains(&c.parse::<caps::Capability>().unwrap()))
        .collect();
    for c in advertised.iter().filter(|c| !held.contains(c)) {
        skip(
            "cap-not-held",
            &format!("{c}: this host does not let carrack hold it"),
        );
    }
    let caps = json!(held);
    let n = held.len();
    let mut b = Bundle::new(&["grep", "CapEff", "/proc/self/status"]);
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        b.config["process"]["capabilities"][set] = caps.clone();
    }
    b.write_config();
    let id = b.id("caps");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let eff =
        u64::from_str_radix(text(&out.stdout).split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(
        eff.count_ones() as usize,
        n,
        "CapEff {eff:x} for {n} advertised caps"
    );
}

#[test]
fn recursive_read_only_reaches_submounts() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "touch /data/sub/f 2>&1; touch /data/f 2>&1; grep ' /data' /proc/self/mountinfo",
    ]);
    let src = b.dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/data", "type": "bind", "source": src, "options": ["rbind", "rro"]}),
    );
    b.write_config();
    // A submount under the source, so rro has something to recurse into.
    let sub = src.join("sub");
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let id = b.id("rro");
    let out = b.rt_bundle("run", &id, &[]);
    nix::mount::umount2(&sub, nix::mount::MntFlags::MNT_DETACH).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert_eq!(t.matches("Read-only file system").count(), 2, "{t}");
    let mountinfo: Vec<&str> = t.lines().filter(|l| l.contains(" - ")).collect();
    assert_eq!(mountinfo.len(), 2, "{t}");
    assert!(mountinfo.iter().all(|l| l.contains(" ro,")), "{t}");
}

/// Without mount mappings, an idmapped bind takes the container's user namespace mappings:
/// a host directory owned by 0 shows as the container's root, not as nobody.
#[test]
fn idmap_uses_the_container_mappings_and_names_bad_input() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "stat -c %u:%g /data/f; touch /data/new && echo wrote",
    ]);
    let src = b.dir.join("idmap-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    // Made here: the container's root (host 300000) may not write the host-owned rootfs.
    std::fs::create_dir_all(b.rootfs().join("data")).unwrap();
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    let mounts: Vec<Value> = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] != "cgroup")
        .cloned()
        .collect();
    b.config["mounts"] = json!(mounts);
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/data", "type": "bind", "source": src, "options": ["rbind", "idmap"]}),
    );
    b.write_config();
    let id = b.id("idmapns");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0:0\nwrote\n");
    // Written through the mount as the container's root: owned by host root on disk.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(src.join("new")).unwrap().uid(), 0);

    // idmap on a tmpfs, and idmap with neither mount mappings nor a user namespace.
    for (m, field) in [
        (
            json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}),
            "idmap needs a bind mount",
        ),
        (
            json!({"destination": "/d", "type": "bind", "source": src, "options": ["rbind", "idmap"]}),
            "uidMappings, gidMappings",
        ),
    ] {
        let mut b = Bundle::new(&["true"]);
        b.config["mounts"].as_array_mut().unwrap().push(m);
        b.write_config();
        let id = b.id("idmapbad");
        let out = b.rt_bundle("run", &id, &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains(field), "{}", text(&out.stderr));
        assert!(!b.root.join(&id).exists());
    }
}
