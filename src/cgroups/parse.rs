//! Pure parsers and path arithmetic: /proc/self/mountinfo, /proc/self/cgroup, cgroup paths.
//! No I/O here so every rule is unit-tested on text.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// A cgroup (v1) or cgroup2 mount from mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Root of the mount inside its hierarchy (field 4), e.g. "/" or "/docker/abc".
    pub root: String,
    pub mount_point: PathBuf,
    /// True for cgroup2.
    pub unified: bool,
    /// Super options (after the fs type and source), e.g. ["rw", "cpu", "cpuacct"].
    pub super_opts: Vec<String>,
}

/// One line of /proc/<pid>/cgroup: "hierarchy-id:controllers:path".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcCgroup {
    pub id: u32,
    /// Raw controller field: "memory", "cpu,cpuacct", "name=systemd"; empty for cgroup2.
    pub controllers: String,
    pub path: String,
}

impl ProcCgroup {
    pub fn is_unified(&self) -> bool {
        self.id == 0 && self.controllers.is_empty()
    }
}

/// Every cgroup/cgroup2 mount of a mountinfo text, in order.
pub fn parse_mountinfo(text: &str) -> Result<Vec<CgroupMount>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(m) =
            parse_mountinfo_line(line).with_context(|| format!("mountinfo line {}", n + 1))?
        {
            out.push(m);
        }
    }
    Ok(out)
}

fn parse_mountinfo_line(line: &str) -> Result<Option<CgroupMount>> {
    // Optional fields make the field count variable; " - " separates the fixed tail.
    let (head, tail) = line.split_once(" - ").context("no ' - ' separator")?;
    let head: Vec<&str> = head.split(' ').collect();
    let tail: Vec<&str> = tail.split(' ').collect();
    if head.len() < 6 || tail.len() < 3 {
        bail!("too few fields: {line:?}");
    }
    let unified = match tail[0] {
        "cgroup2" => true,
        "cgroup" => false,
        _ => return Ok(None),
    };
    Ok(Some(CgroupMount {
        root: crate::linux::fs::unescape_mountinfo(head[3]),
        mount_point: PathBuf::from(crate::linux::fs::unescape_mountinfo(head[4])),
        unified,
        super_opts: tail[2].split(',').map(str::to_string).collect(),
    }))
}

pub fn parse_proc_cgroup(text: &str) -> Result<Vec<ProcCgroup>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.splitn(3, ':');
        let (id, ctl, path) = match (it.next(), it.next(), it.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => bail!("bad /proc/self/cgroup line {line:?}"),
        };
        out.push(ProcCgroup {
            id: id
                .parse()
                .with_context(|| format!("bad hierarchy id in {line:?}"))?,
            controllers: ctl.to_string(),
            path: path.to_string(),
        });
    }
    Ok(out)
}

/// Lexically clean a cgroup path as if rooted at "/": "." and empty parts dropped, ".." pops
/// but never above the root (runc's CleanPath rule, so a config cannot escape its base).
pub fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p.to_string()),
        }
    }
    out
}

/// Host directory for a cgroup path given as components inside the hierarchy.
///
/// `absolute`: the config path is placed directly under the mount point (the mount's root is
/// ignored, as runc does). Otherwise `cg` is a full path in this process's cgroup namespace
/// and the mount's root must be stripped from it.
pub fn host_path(mount: &CgroupMount, cg: &[String], absolute: bool) -> Result<PathBuf> {
    let rel: &[String] = if absolute {
        cg
    } else {
        let root = components(&mount.root);
        if !cg.starts_with(&root) {
            bail!(
                "cgroup /{} is not visible under {} (mount root {})",
                cg.join("/"),
                mount.mount_point.display(),
                mount.root
            );
        }
        &cg[root.len()..]
    };
    let mut p = mount.mount_point.clone();
    p.extend(rel);
    Ok(p)
}

/// The cgroup mounts to use: those under /sys/fs/cgroup when there are any, so that a stray
/// cgroup mount elsewhere (a test's, a container's) is not taken for the host's.
pub fn select_mounts(all: Vec<CgroupMount>) -> Vec<CgroupMount> {
    let standard = Path::new("/sys/fs/cgroup");
    if all.iter().any(|m| m.mount_point.starts_with(standard)) {
        all.into_iter()
            .filter(|m| m.mount_point.starts_with(standard))
            .collect()
    } else {
        all
    }
}

/// The mount of a v1 hierarchy named by its /proc/self/cgroup controllers field. When the
/// hierarchy is mounted more than once, prefer a mount whose root contains `own`.
pub fn find_v1_mount<'a>(
    mounts: &'a [CgroupMount],
    controllers: &str,
    own: &str,
) -> Option<&'a CgroupMount> {
    let wanted: Vec<&str> = controllers.split(',').collect();
    let mut cands = mounts
        .iter()
        .filter(|m| !m.unified && wanted.iter().all(|w| m.super_opts.iter().any(|o| o == w)));
    let first = cands.clone().next();
    let own = components(own);
    cands
        .find(|m| own.starts_with(&components(&m.root)))
        .or(first)
}

pub fn find_unified_mount(mounts: &[CgroupMount]) -> Option<&CgroupMount> {
    mounts.iter().find(|m| m.unified)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:6 - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn mountinfo_keeps_only_cgroup_mounts() {
        let m = parse_mountinfo(HYBRID).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].mount_point, PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(m[0].super_opts, vec!["rw", "cpu"]);
        assert!(!m[0].unified);
        assert_eq!(m[2].super_opts, vec!["rw", "xattr", "name=systemd"]);
        assert!(m[3].unified);
        assert_eq!(m[3].mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn mountinfo_unescapes_and_reads_root() {
        let line = "50 1 0:40 /docker/a\\040b /mnt/cg\\134x rw shared:1 master:2 - cgroup cg rw,cpu,cpuacct\n";
        let m = parse_mountinfo(line).unwrap();
        assert_eq!(m[0].root, "/docker/a b");
        assert_eq!(m[0].mount_point, PathBuf::from("/mnt/cg\\x"));
        assert_eq!(m[0].super_opts, vec!["rw", "cpu", "cpuacct"]);
    }

    #[test]
    fn mountinfo_rejects_garbage() {
        assert!(parse_mountinfo("1 2 3\n").is_err());
    }

    #[test]
    fn proc_cgroup_parses_v1_and_v2_lines() {
        let p = parse_proc_cgroup("12:cpu,cpuacct:/a/b\n1:name=systemd:/user.slice\n0::/x:y\n")
            .unwrap();
        assert_eq!(
            p[0],
            ProcCgroup {
                id: 12,
                controllers: "cpu,cpuacct".into(),
                path: "/a/b".into()
            }
        );
        assert_eq!(p[1].controllers, "name=systemd");
        assert!(p[2].is_unified());
        assert_eq!(p[2].path, "/x:y", "a colon in the path survives");
        assert!(parse_proc_cgroup("bogus\n").is_err());
        assert!(parse_proc_cgroup("x:cpu:/\n").is_err());
    }

    #[test]
    fn components_never_escape_root() {
        assert_eq!(components("/a/./b//c/"), vec!["a", "b", "c"]);
        assert_eq!(components("../../x/../y"), vec!["y"]);
        assert!(components("/").is_empty());
    }

    #[test]
    fn host_path_strips_mount_root_for_relative_only() {
        let m = CgroupMount {
            root: "/docker/c1".into(),
            mount_point: "/sys/fs/cgroup/memory".into(),
            unified: false,
            super_opts: vec!["rw".into(), "memory".into()],
        };
        let cg = components("/docker/c1/sub");
        assert_eq!(
            host_path(&m, &cg, false).unwrap(),
            PathBuf::from("/sys/fs/cgroup/memory/sub")
        );
        assert_eq!(
            host_path(&m, &cg, true).unwrap(),
            PathBuf::from("/sys/fs/cgroup/memory/docker/c1/sub")
        );
        assert!(host_path(&m, &components("/other"), false).is_err());
    }

    #[test]
    fn v1_mount_lookup_matches_all_controllers() {
        let text = "\
1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
2 0 0:2 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
3 0 0:3 /kube /mnt/other rw - cgroup cgroup rw,memory
4 0 0:3 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
        let m = parse_mountinfo(text).unwrap();
        let cpu = find_v1_mount(&m, "cpu,cpuacct", "/").unwrap();
        assert_eq!(cpu.mount_point, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(
            find_v1_mount(&m, "cpu", "/").is_some(),
            "subset of a co-mounted hierarchy"
        );
        assert!(find_v1_mount(&m, "blkio", "/").is_none());
        let sd = find_v1_mount(&m, "name=systemd", "/").unwrap();
        assert_eq!(sd.mount_point, PathBuf::from("/sys/fs/cgroup/systemd"));
        // Mounted twice: the one whose root holds our cgroup wins, else the first.
        assert_eq!(
            find_v1_mount(&m, "memory", "/kube/x").unwrap().mount_point,
            PathBuf::from("/mnt/other")
        );
        assert_eq!(
            find_v1_mount(&m, "memory", "/y").unwrap().mount_point,
            PathBuf::from("/sys/fs/cgroup/memory")
        );
        assert!(find_unified_mount(&m).is_none());
    }

    #[test]
    fn select_prefers_sys_fs_cgroup() {
        let text = "\
1 0 0:1 / /tmp/mycg rw - cgroup2 cgroup2 rw
2 0 0:2 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
";
        let m = select_mounts(parse_mountinfo(text).unwrap());
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].mount_point, PathBuf::from("/sys/fs/cgroup"));
        let only_odd = select_mounts(
            parse_mountinfo("1 0 0:1 / /tmp/mycg rw - cgroup2 cgroup2 rw\n").unwrap(),
        );
        assert_eq!(only_odd.len(), 1);
    }
}
