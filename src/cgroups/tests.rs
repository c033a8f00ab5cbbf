use super::parse::{parse_mountinfo, parse_proc_cgroup};
use super::*;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

const V1_MOUNTS: &str = "\
24 1 0:22 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
25 24 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
26 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
27 24 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
const V1_PROCS: &str = "\
3:memory:/user.slice
2:cpu,cpuacct:/
1:name=systemd:/user.slice/session-1.scope
0::/
";
const HYBRID_MOUNTS: &str = "\
25 24 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
26 24 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
27 24 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
const HYBRID_PROCS: &str = "\
4:memory:/m
1:name=systemd:/s
0::/u/leaf
";
const UNIFIED_MOUNTS: &str =
    "29 23 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
const UNIFIED_PROCS: &str = "0::/user.slice/user-0.slice/session-3.scope\n";

fn plan_text(mounts: &str, procs: &str, p: Option<&str>, id: &str) -> Result<Cgroup> {
    let m = parse_mountinfo(mounts).unwrap();
    let own = parse_proc_cgroup(procs).unwrap();
    plan_from(layout_of(&m)?, &m, &own, p.map(Path::new), id)
}

/// (hierarchy, path) pairs of a plan, for compact assertions.
fn pairs(cg: &Cgroup) -> Vec<(String, String)> {
    cg.dirs
        .iter()
        .map(|d| (d.hierarchy.clone(), d.path.display().to_string()))
        .collect()
}

fn p(h: &str, path: &str) -> (String, String) {
    (h.to_string(), path.to_string())
}

#[test]
fn layout_from_mounts() {
    let l = |t: &str| layout_of(&parse_mountinfo(t).unwrap());
    assert_eq!(l(V1_MOUNTS).unwrap(), Layout::V1);
    assert_eq!(l(HYBRID_MOUNTS).unwrap(), Layout::Hybrid);
    assert_eq!(l(UNIFIED_MOUNTS).unwrap(), Layout::Unified);
    assert!(l("1 0 0:1 / / rw - ext4 /dev/sda rw\n").is_err());
}

#[test]
fn plan_v1_absolute_relative_and_default() {
    let abs = plan_text(V1_MOUNTS, V1_PROCS, Some("/a/../b/c"), "id").unwrap();
    assert_eq!(
        pairs(&abs),
        vec![
            p("memory", "/sys/fs/cgroup/memory/b/c"),
            p("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/b/c"),
            p("name=systemd", "/sys/fs/cgroup/systemd/b/c"),
        ],
        "the 0:: line has no cgroup2 mount on pure v1 and is skipped"
    );
    assert!(abs.dirs.iter().all(|d| d.created.is_empty()));
    let rel = plan_text(V1_MOUNTS, V1_PROCS, Some("../../x"), "id").unwrap();
    assert_eq!(
        pairs(&rel),
        vec![
            p("memory", "/sys/fs/cgroup/memory/user.slice/x"),
            p("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/x"),
            p(
                "name=systemd",
                "/sys/fs/cgroup/systemd/user.slice/session-1.scope/x"
            ),
        ],
        "'..' cannot climb above our own cgroup"
    );
    let none = plan_text(V1_MOUNTS, V1_PROCS, None, "c1").unwrap();
    assert_eq!(
        none.dirs[0].path,
        PathBuf::from("/sys/fs/cgroup/memory/user.slice/c1")
    );
    let empty = plan_text(V1_MOUNTS, V1_PROCS, Some(""), "c1").unwrap();
    assert_eq!(
        pairs(&empty),
        pairs(&none),
        "empty cgroupsPath is no cgroupsPath"
    );
}

#[test]
fn plan_hybrid_covers_v1_systemd_and_unified() {
    let abs = plan_text(HYBRID_MOUNTS, HYBRID_PROCS, Some("/k/c"), "id").unwrap();
    assert_eq!(
        pairs(&abs),
        vec![
            p("memory", "/sys/fs/cgroup/memory/k/c"),
            p("name=systemd", "/sys/fs/cgroup/systemd/k/c"),
            p("unified", "/sys/fs/cgroup/unified/k/c"),
        ]
    );
    // Relative on hybrid: under our own cgroup on every hierarchy, unified included.
    let rel = plan_text(HYBRID_MOUNTS, HYBRID_PROCS, None, "c1").unwrap();
    assert_eq!(
        pairs(&rel),
        vec![
            p("memory", "/sys/fs/cgroup/memory/m/c1"),
            p("name=systemd", "/sys/fs/cgroup/systemd/s/c1"),
            p("unified", "/sys/fs/cgroup/unified/u/leaf/c1"),
        ]
    );
}

#[test]
fn plan_unified_relative_uses_parent_of_own_cgroup() {
    let rel = plan_text(UNIFIED_MOUNTS, UNIFIED_PROCS, Some("x/y"), "id").unwrap();
    assert_eq!(
        pairs(&rel),
        vec![p("unified", "/sys/fs/cgroup/user.slice/user-0.slice/x/y")]
    );
    let none = plan_text(UNIFIED_MOUNTS, UNIFIED_PROCS, None, "c1").unwrap();
    assert_eq!(
        pairs(&none),
        vec![p("unified", "/sys/fs/cgroup/user.slice/user-0.slice/c1")]
    );
    let abs = plan_text(UNIFIED_MOUNTS, UNIFIED_PROCS, Some("/machine/c1"), "id").unwrap();
    assert_eq!(pairs(&abs), vec![p("unified", "/sys/fs/cgroup/machine/c1")]);
    // In the root cgroup, "relative" is relative to the root.
    let at_root = plan_text(UNIFIED_MOUNTS, "0::/\n", None, "c1").unwrap();
    assert_eq!(pairs(&at_root), vec![p("unified", "/sys/fs/cgroup/c1")]);
}

#[test]
fn plan_inside_a_cgroup_namespace_strips_mount_root() {
    let mounts = "1 0 0:1 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
    let rel = plan_text(mounts, "4:memory:/docker/abc/inner\n", None, "c1").unwrap();
    assert_eq!(
        pairs(&rel),
        vec![p("memory", "/sys/fs/cgroup/memory/inner/c1")]
    );
    assert!(
        plan_text(mounts, "4:memory:/elsewhere\n", None, "c1").is_err(),
        "own cgroup not visible"
    );
}

#[test]
fn plan_refuses_root_bad_ids_and_nothing_mounted() {
    assert!(plan_text(V1_MOUNTS, V1_PROCS, Some("/"), "id").is_err());
    assert!(plan_text(V1_MOUNTS, V1_PROCS, Some("/.."), "id").is_err());
    assert!(plan_text(V1_MOUNTS, "2:cpu,cpuacct:/\n", Some("."), "id").is_err());
    for bad in ["", "a/b", ".", ".."] {
        assert!(
            plan_text(V1_MOUNTS, V1_PROCS, None, bad).is_err(),
            "id {bad:?}"
        );
    }
    assert!(
        plan_text(V1_MOUNTS, "5:blkio:/\n", None, "c1").is_err(),
        "blkio is not mounted"
    );
}

#[test]
fn state_json_round_trip() {
    let cg = plan_text(HYBRID_MOUNTS, HYBRID_PROCS, Some("/k/c"), "id").unwrap();
    let text = serde_json::to_string(&cg).unwrap();
    let back: Cgroup = serde_json::from_str(&text).unwrap();
    assert_eq!(pairs(&back), pairs(&cg));
    assert_eq!(
        serde_json::to_string(&Layout::Hybrid).unwrap(),
        "\"Hybrid\""
    );
}

#[test]
fn procs_parser_drops_invisible_and_junk() {
    let v: Vec<i32> = parse_procs("12\n0\n\nx\n7\n-3\n").collect();
    assert_eq!(v, vec![12, 7]);
}

#[test]
fn entry_clones_into_v2_and_opens_v1_tasks_files() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tasks"), "").unwrap();
    let dir = |h: &str| CgroupDir {
        hierarchy: h.into(),
        path: tmp.path().to_path_buf(),
        created: vec![],
    };
    let v2 = Cgroup {
        dirs: vec![dir("unified")],
        unit: None,
    }
    .entry()
    .unwrap();
    assert!(v2.clone_into.is_some() && v2.tasks.is_empty());
    let hybrid = Cgroup {
        dirs: vec![dir("memory"), dir("name=systemd"), dir("unified")],
        unit: None,
    }
    .entry()
    .unwrap();
    assert!(hybrid.clone_into.is_some());
    let paths: Vec<_> = hybrid.tasks.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(paths, vec![tmp.path().join("tasks"); 2]);
    let none = Cgroup::default().entry().unwrap();
    assert!(none.clone_into.is_none() && none.tasks.is_empty());
}

/// A runtime killed between StartTransientUnit and its next state save (hybrid: the v1 dirs
/// systemd does not manage were made in between) left them: the intent must name them.
#[test]
fn intend_records_the_dirs_also_for_a_systemd_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let leaf = tmp.path().join("carrack-test-s.slice/carrack-test-c.scope");
    let mut cg = Cgroup {
        dirs: vec![CgroupDir {
            hierarchy: "cpuset".into(),
            path: leaf.clone(),
            created: vec![],
        }],
        unit: Some(systemd::unit_for(Some("system.slice:carrack-test:c"), "c").unwrap()),
    };
    cg.intend().unwrap();
    assert_eq!(
        cg.dirs[0].created,
        vec![tmp.path().join("carrack-test-s.slice"), leaf]
    );
}

#[test]
fn empty_cgroup_operations_are_noops() {
    let cg = Cgroup::default();
    assert!(cg.pids().unwrap().is_empty());
    cg.signal_all(libc::SIGKILL).unwrap();
    cg.remove().unwrap();
}

#[test]
fn remove_refuses_tampered_state() {
    let tmp = std::env::temp_dir().join(format!("carrack-test-notcg-{}", std::process::id()));
    fs::create_dir_all(&tmp).unwrap();
    let outside = Cgroup {
        dirs: vec![CgroupDir {
            hierarchy: "memory".into(),
            path: "/sys/fs/cgroup/memory/x".into(),
            created: vec![tmp.clone()],
        }],
        unit: None,
    };
    assert!(
        outside.remove().is_err(),
        "created entry not on the path's chain"
    );
    let not_cgroupfs = Cgroup {
        dirs: vec![CgroupDir {
            hierarchy: "memory".into(),
            path: tmp.clone(),
            created: vec![tmp.clone()],
        }],
        unit: None,
    };
    let err = not_cgroupfs.remove().unwrap_err();
    let still_there = tmp.is_dir();
    fs::remove_dir(&tmp).unwrap();
    assert!(
        format!("{err:#}").contains("not on a cgroup filesystem"),
        "{err:#}"
    );
    assert!(still_there);
}

// ---- root-only tests on this host's real cgroups ----

fn unique_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "carrack-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// (fact, reason) when this host cannot run the root tests.
pub(super) fn skip_reason() -> Option<(&'static str, &'static str)> {
    if !nix::unistd::geteuid().is_root() {
        return Some(("not-root", "not root"));
    }
    if detect_layout().is_err() {
        return Some(("no-cgroups", "no cgroup filesystem mounted"));
    }
    None
}

macro_rules! require_root {
    () => {
        if let Some((fact, r)) = skip_reason() {
            crate::testutil::skip(fact, r);
            return;
        }
    };
}

/// Kills the children we spawned and removes the cgroups we made, even if an assert failed.
#[derive(Default)]
struct Guard {
    cgroups: Vec<Cgroup>,
    children: Vec<Child>,
    extra_dirs: Vec<PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for cg in &self.cgroups {
            let _ = cg.signal_all(libc::SIGKILL);
            if let Err(e) = cg.remove() {
                eprintln!("guard: {e:#}");
            }
        }
        for d in self.extra_dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
}

fn spawn(args: &[&str]) -> Child {
    Command::new(args[0])
        .args(&args[1..])
        .spawn()
        .expect("spawn")
}

/// Planned and created, registered in the guard before anything can fail.
fn make(guard: &mut Guard, path: Option<&str>, id: &str) -> Cgroup {
    let mut cg = Cgroup::plan(path.map(Path::new), id).unwrap();
    guard.cgroups.push(cg.clone());
    let res = cg.create();
    *guard.cgroups.last_mut().unwrap() = cg.clone();
    res.unwrap();
    cg
}

fn procs_of(dir: &Path) -> Vec<i32> {
    let text = fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    parse_procs(&text).collect()
}

/// The kernel's view: the cgroup of `pid` on each hierarchy, from /proc/<pid>/cgroup.
fn kernel_view(pid: u32) -> Vec<ProcCgroup> {
    parse_proc_cgroup(&fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()).unwrap()
}

fn hierarchy_of(pc: &ProcCgroup) -> &str {
    if pc.is_unified() {
        "unified"
    } else {
        &pc.controllers
    }
}

fn wait_killed(child: &mut Child, sig: i32) {
    let st = child.wait().unwrap();
    assert_eq!(st.signal(), Some(sig), "{st:?}");
}

#[test]
fn root_lifecycle_absolute() {
    require_root!();
    let mut g = Guard::default();
    let name = unique_name();
    let abs = format!("/{name}");
    let cg = make(&mut g, Some(&abs), "ignored");

    let mounts = host_mounts().unwrap();
    let own = own_cgroups().unwrap();
    let mounted = own
        .iter()
        .filter(|pc| {
            if pc.is_unified() {
                parse::find_unified_mount(&mounts).is_some()
            } else {
                parse::find_v1_mount(&mounts, &pc.controllers, &pc.path).is_some()
            }
        })
        .count();
    assert_eq!(
        cg.dirs.len(),
        mounted,
        "one dir per mounted hierarchy: {:?}",
        pairs(&cg)
    );
    if detect_layout().unwrap() == Layout::Hybrid {
        assert!(cg.dirs.iter().any(|d| d.hierarchy == "unified"));
        assert!(cg.dirs.iter().any(|d| d.hierarchy == "name=systemd"));
    }
    for d in &cg.dirs {
        assert!(d.path.is_dir(), "{}", d.path.display());
        assert!(d.path.ends_with(&name));
        assert_eq!(d.created, vec![d.path.clone()]);
        if d.hierarchy.split(',').any(|c| c == "cpuset") {
            let cpus = fs::read_to_string(d.path.join("cpuset.cpus")).unwrap();
            assert!(!cpus.trim().is_empty(), "cpuset.cpus copied from parent");
        }
    }

    g.children.push(spawn(&["sleep", "60"]));
    let pid = g.children[0].id();
    cg.add_pid(pid as i32).unwrap();
    for d in &cg.dirs {
        assert_eq!(procs_of(&d.path), vec![pid as i32], "{}", d.path.display());
    }
    for pc in kernel_view(pid) {
        if cg.dirs.iter().any(|d| d.hierarchy == hierarchy_of(&pc)) {
            assert_eq!(
                pc.path,
                abs,
                "kernel places {} on {}",
                pid,
                hierarchy_of(&pc)
            );
        }
    }
    assert_eq!(cg.pids().unwrap(), vec![pid as i32]);

    cg.signal_all(libc::SIGKILL).unwrap();
    // Remove before reaping: a zombie must not keep the cgroup busy.
    cg.remove().unwrap();
    wait_killed(&mut g.children[0], libc::SIGKILL);
    for d in &cg.dirs {
        assert!(!d.path.exists(), "{} left behind", d.path.display());
    }
    cg.remove().unwrap();
    assert!(cg.pids().unwrap().is_empty());
}

#[test]
fn root_default_path_is_relative_to_own_cgroup() {
    require_root!();
    let mut g = Guard::default();
    let id = unique_name();
    let cg = make(&mut g, None, &id);
    g.children.push(spawn(&["sleep", "60"]));
    let pid = g.children[0].id();
    cg.add_pid(pid as i32).unwrap();
    let unified = detect_layout().unwrap() == Layout::Unified;
    let own = own_cgroups().unwrap();
    for pc in kernel_view(pid) {
        let Some(mine) = own.iter().find(|o| o.id == pc.id) else {
            continue;
        };
        if !cg.dirs.iter().any(|d| d.hierarchy == hierarchy_of(&pc)) {
            continue;
        }
        let mut base = parse::components(&mine.path);
        if unified {
            base.pop();
        }
        base.push(id.clone());
        assert_eq!(
            pc.path,
            format!("/{}", base.join("/")),
            "hierarchy {}",
            hierarchy_of(&pc)
        );
    }
    cg.signal_all(libc::SIGTERM).unwrap();
    wait_killed(&mut g.children[0], libc::SIGTERM);
    cg.remove().unwrap();
    assert!(cg.dirs.iter().all(|d| !d.path.exists()));
}

#[test]
fn root_nested_path_and_sub_cgroups_are_removed() {
    require_root!();
    let mut g = Guard::default();
    let top = unique_name();
    let cg = make(&mut g, Some(&format!("/{top}/a/b")), "x");
    for d in &cg.dirs {
        let root = d.path.ancestors().nth(3).unwrap();
        assert_eq!(
            d.created,
            vec![root.join(&top), root.join(&top).join("a"), d.path.clone()]
        );
        // A sub-cgroup made by the container's own processes.
        fs::create_dir(d.path.join("inner")).unwrap();
    }
    // sh forks only once it is in the cgroup (after reading a line).
    let script = "read go; sleep 60 & sleep 60 & wait";
    g.children.push(
        Command::new("sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let sh = g.children[0].id() as i32;
    cg.add_pid(sh).unwrap();
    let mut stdin = g.children[0].stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while cg.pids().unwrap().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "children did not appear: {:?}",
            cg.pids().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(cg.pids().unwrap().contains(&sh));
    cg.signal_all(libc::SIGKILL).unwrap();
    wait_killed(&mut g.children[0], libc::SIGKILL);
    cg.remove().unwrap();
    for d in &cg.dirs {
        assert!(
            !d.created[0].exists(),
            "{} left behind",
            d.created[0].display()
        );
    }
}

#[test]
fn root_join_existing_records_nothing_and_keeps_dirs() {
    require_root!();
    let mut g = Guard::default();
    let abs = format!("/{}", unique_name());
    let owner = make(&mut g, Some(&abs), "x");
    let mut joiner = Cgroup::plan(Some(Path::new(&abs)), "y").unwrap();
    joiner.create().unwrap();
    joiner.create().unwrap();
    assert!(
        joiner.dirs.iter().all(|d| d.created.is_empty()),
        "{joiner:?}"
    );
    g.children.push(spawn(&["sleep", "60"]));
    let pid = g.children[0].id() as i32;
    joiner.add_pid(pid).unwrap();
    joiner.remove().unwrap();
    for d in &owner.dirs {
        assert!(d.path.is_dir(), "joined dir {} must stay", d.path.display());
        assert_eq!(procs_of(&d.path), vec![pid]);
    }
    // Creating again on the owner changes nothing either.
    let mut again = owner.clone();
    again.create().unwrap();
    assert_eq!(pairs(&again), pairs(&owner));
    assert!(again
        .dirs
        .iter()
        .zip(&owner.dirs)
        .all(|(a, b)| a.created == b.created));
}

#[test]
fn root_created_parent_shared_by_another_container_stays() {
    require_root!();
    let mut g = Guard::default();
    let top = unique_name();
    let a = make(&mut g, Some(&format!("/{top}/a")), "a");
    let b = make(&mut g, Some(&format!("/{top}/b")), "b");
    for d in &b.dirs {
        assert_eq!(d.created, vec![d.path.clone()], "b only made its leaf");
        g.extra_dirs.push(d.path.parent().unwrap().to_path_buf());
    }
    a.remove().unwrap();
    for (da, db) in a.dirs.iter().zip(&b.dirs) {
        assert!(!da.path.exists());
        assert!(db.path.is_dir(), "b survives a's removal");
    }
    b.remove().unwrap();
}

#[test]
fn root_remove_reports_busy_cgroup_and_keeps_it() {
    require_root!();
    let mut g = Guard::default();
    let cg = make(&mut g, Some(&format!("/{}", unique_name())), "x");
    g.children.push(spawn(&["sleep", "60"]));
    let pid = g.children[0].id() as i32;
    cg.add_pid(pid).unwrap();
    let t = Instant::now();
    let err = cg.remove().unwrap_err();
    assert!(t.elapsed() >= REMOVE_BUSY_WAIT, "waited {:?}", t.elapsed());
    assert!(
        t.elapsed() < REMOVE_BUSY_WAIT * 2,
        "one budget for all hierarchies"
    );
    assert!(
        format!("{err:#}").contains("Device or resource busy"),
        "{err:#}"
    );
    for d in &cg.dirs {
        assert_eq!(procs_of(&d.path), vec![pid], "{}", d.path.display());
    }
    cg.signal_all(libc::SIGKILL).unwrap();
    cg.remove().unwrap();
    assert!(cg.dirs.iter().all(|d| !d.path.exists()));
}
