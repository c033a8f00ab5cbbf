//! config.md `root` and `mounts`, config-linux.md rootfs propagation, masked and read-only
//! paths: checked in /proc/self/mountinfo and by what the container can read and write.

use crate::bundle::Bundle;
use crate::harness::{ensure, eq, fail, i, s, Case, Ctx, Res};
use serde_json::{json, Value};

pub const CASES: &[Case] = &[
    Case {
        name: "root_readonly",
        covers: &["root.readonly"],
        run: root_readonly,
    },
    Case {
        name: "root_writable",
        covers: &["root.readonly"],
        run: root_writable,
    },
    Case {
        name: "root_path_relative",
        covers: &["root.path"],
        run: root_relative,
    },
    Case {
        name: "root_path_missing",
        covers: &["root.path", "errors leave nothing"],
        run: root_missing,
    },
    Case {
        name: "mounts_tmpfs_options",
        covers: &[
            "mounts.destination",
            "mounts.type",
            "mounts.source",
            "mounts.options",
        ],
        run: tmpfs_options,
    },
    Case {
        name: "mounts_flags",
        covers: &["mounts.options"],
        run: flags,
    },
    Case {
        name: "mounts_bind_dir_ro",
        covers: &["mounts.options", "mounts.source"],
        run: bind_dir_ro,
    },
    Case {
        name: "mounts_bind_file",
        covers: &["mounts.source", "mounts.destination"],
        run: bind_file,
    },
    Case {
        name: "mounts_bind_recursive_ro",
        covers: &["mounts.options recursive (rro, rnosuid, …)"],
        run: rro,
    },
    Case {
        name: "mounts_propagation_shared",
        covers: &["mounts.options propagation"],
        run: propagation_shared,
    },
    Case {
        name: "mounts_nosymfollow",
        covers: &["mounts.options nosymfollow"],
        run: nosymfollow,
    },
    Case {
        name: "mounts_tmpcopyup",
        covers: &["mounts.options tmpcopyup"],
        run: tmpcopyup,
    },
    Case {
        name: "mounts_idmap",
        covers: &[
            "mounts.options idmap",
            "mounts.uidMappings",
            "mounts.gidMappings",
        ],
        run: idmap,
    },
    Case {
        name: "mounts_bind_userns_private_source",
        covers: &["mounts.source", "linux.uidMappings"],
        run: bind_userns_private_source,
    },
    Case {
        name: "mounts_symlink_target_stays_inside",
        covers: &["mounts.destination"],
        run: symlink_inside,
    },
    Case {
        name: "mounts_cgroup",
        covers: &["mounts.type"],
        run: cgroup_mount,
    },
    Case {
        name: "mounts_cgroup_rw",
        covers: &["mounts.type", "mounts.options"],
        run: cgroup_mount_rw,
    },
    Case {
        name: "rootfs_propagation_private",
        covers: &["linux.rootfsPropagation"],
        run: rootfs_private,
    },
    Case {
        name: "rootfs_propagation_shared",
        covers: &["linux.rootfsPropagation"],
        run: rootfs_shared,
    },
    Case {
        name: "rootfs_propagation_unbindable",
        covers: &["linux.rootfsPropagation"],
        run: rootfs_unbindable,
    },
    Case {
        name: "rootfs_propagation_slave",
        covers: &["linux.rootfsPropagation"],
        run: rootfs_slave,
    },
    Case {
        name: "masked_paths",
        covers: &["linux.maskedPaths"],
        run: masked,
    },
    Case {
        name: "readonly_paths",
        covers: &["linux.readonlyPaths"],
        run: readonly_paths,
    },
    Case {
        name: "mount_label",
        covers: &["linux.mountLabel"],
        run: mount_label,
    },
];

/// One parsed /proc/self/mountinfo line.
pub struct MountInfo {
    pub mount_point: String,
    pub opts: Vec<String>,
    pub optional: Vec<String>,
    pub fstype: String,
    pub super_opts: Vec<String>,
}

pub fn mountinfo(report: &Value) -> Vec<MountInfo> {
    s(report, "/mountinfo")
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountInfo {
                mount_point: f.get(4)?.replace("\\040", " "),
                opts: f.get(5)?.split(',').map(String::from).collect(),
                optional: f[6..].iter().map(|x| x.to_string()).collect(),
                fstype: r.first()?.to_string(),
                super_opts: r
                    .get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .map(String::from)
                    .collect(),
            })
        })
        .collect()
}

/// The topmost mount at `path` in the report's mountinfo.
pub fn mount_at(report: &Value, path: &str) -> Res<MountInfo> {
    match mountinfo(report)
        .into_iter()
        .rev()
        .find(|m| m.mount_point == path)
    {
        Some(m) => Ok(m),
        None => fail(format!("no mount at {path} in the container's mountinfo")),
    }
}

fn errno_of_write(r: &Value, path: &str) -> i64 {
    i(
        r,
        &format!("/writes/{}", path.replace('~', "~0").replace('/', "~1")),
    )
}

fn root_readonly(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/root/readonly", json!(true));
    let r = b.check(&["--write", "/new-file"])?;
    eq(
        "write to / (EROFS = 30)",
        errno_of_write(&r, "/new-file"),
        30,
    )?;
    ensure(mount_at(&r, "/")?.opts.contains(&"ro".into()), || {
        "/ is not mounted ro".into()
    })
}

fn root_writable(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/root/readonly", json!(false));
    let r = b.check(&["--write", "/new-file"])?;
    eq("write to / errno", errno_of_write(&r, "/new-file"), 0)?;
    ensure(b.rootfs().join("new-file").exists(), || {
        "the file is not in the rootfs".into()
    })
}

fn root_relative(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/root/path", json!("rootfs"));
    b.check(&[]).map(|_| ())
}

fn root_missing(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/root/path", json!("no-such-rootfs"));
    let (id, out) = b.create();
    ensure(!out.ok(), || {
        "create with a missing rootfs succeeded".into()
    })?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "the failed container still has a state".into()
    })
}

fn tmpfs_options(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.push("/mounts", json!({"destination": "/mnt/t", "type": "tmpfs", "source": "oci-tmp", "options": ["size=1m", "mode=1777", "uid=5", "gid=6"]}));
    let r = b.check(&["--stat", "/mnt/t"])?;
    let m = mount_at(&r, "/mnt/t")?;
    eq("fstype", m.fstype.as_str(), "tmpfs")?;
    for o in ["size=1024k", "uid=5", "gid=6"] {
        ensure(m.super_opts.iter().any(|x| x == o), || {
            format!("tmpfs option {o} missing: {:?}", m.super_opts)
        })?;
    }
    eq("mode of /mnt/t", i(&r, "/stats/~1mnt~1t/mode"), 0o1777)
}

fn flags(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.push("/mounts", json!({"destination": "/mnt/f", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "ro", "noatime"]}));
    let r = b.check(&[])?;
    let m = mount_at(&r, "/mnt/f")?;
    for o in ["nosuid", "nodev", "noexec", "ro", "noatime"] {
        ensure(m.opts.iter().any(|x| x == o), || {
            format!("{o} missing: {:?}", m.opts)
        })?;
    }
    Ok(())
}

fn bind_dir_ro(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let src = b.dir.join("bind-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("hello"), "from host").unwrap();
    b.push(
        "/mounts",
        json!({"destination": "/mnt/b", "type": "bind", "source": src, "options": ["rbind", "ro"]}),
    );
    let r = b.check(&["--read", "/mnt/b/hello", "--write", "/mnt/b/new"])?;
    eq("content", s(&r, "/files/~1mnt~1b~1hello"), "from host")?;
    eq("write errno (EROFS)", errno_of_write(&r, "/mnt/b/new"), 30)
}

fn bind_file(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let src = b.dir.join("file-src");
    std::fs::write(&src, "a file").unwrap();
    b.push("/mounts", json!({"destination": "/etc/bound/file", "type": "bind", "source": src, "options": ["bind"]}));
    let r = b.check(&["--read", "/etc/bound/file", "--stat", "/etc/bound/file"])?;
    eq("content", s(&r, "/files/~1etc~1bound~1file"), "a file")?;
    eq(
        "target type",
        s(&r, "/stats/~1etc~1bound~1file/type"),
        "file",
    )
}

/// `rro` makes submounts of a bind read-only too (mount_setattr with AT_RECURSIVE).
fn rro(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let src = b.dir.join("rro-src");
    let sub = src.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "oci-test-rro", sub.to_str().unwrap()])
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        return fail("cannot mount the test's submount");
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _u = Unmount(sub);
    b.push("/mounts", json!({"destination": "/mnt/r", "type": "bind", "source": src, "options": ["rbind", "rro"]}));
    let r = b.check(&["--write", "/mnt/r/x", "--write", "/mnt/r/sub/x"])?;
    eq(
        "write to the bind (EROFS)",
        errno_of_write(&r, "/mnt/r/x"),
        30,
    )?;
    eq(
        "write to the submount (EROFS)",
        errno_of_write(&r, "/mnt/r/sub/x"),
        30,
    )
}

fn propagation_shared(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.push(
        "/mounts",
        json!({"destination": "/mnt/p", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]}),
    );
    let r = b.check(&[])?;
    let m = mount_at(&r, "/mnt/p")?;
    ensure(m.optional.iter().any(|o| o.starts_with("shared:")), || {
        format!("not shared: {:?}", m.optional)
    })
}

fn nosymfollow(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.push("/mounts", json!({"destination": "/mnt/n", "type": "tmpfs", "source": "tmpfs", "options": ["nosymfollow"]}));
    let r = b.check(&[])?;
    let m = mount_at(&r, "/mnt/n")?;
    ensure(m.opts.iter().any(|o| o == "nosymfollow"), || {
        format!("nosymfollow missing: {:?}", m.opts)
    })
}

fn tmpcopyup(ctx: &Ctx) -> Res {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::new(ctx);
    let etc = b.rootfs().join("etc");
    std::fs::write(etc.join("keep-me"), "under").unwrap();
    std::fs::create_dir_all(etc.join("sub")).unwrap();
    std::fs::write(etc.join("sub/owned"), "x").unwrap();
    std::os::unix::fs::chown(etc.join("sub/owned"), Some(7), Some(8)).unwrap();
    std::fs::set_permissions(
        etc.join("sub/owned"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::symlink("keep-me", etc.join("link")).unwrap();
    b.push("/mounts", json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "ro"]}));
    let r = b.check(&[
        "--read",
        "/etc/keep-me",
        "--stat",
        "/etc/sub/owned",
        "--stat",
        "/etc/link",
        "--write",
        "/etc/new",
    ])?;
    let m = mount_at(&r, "/etc")?;
    eq("fstype of /etc", m.fstype.as_str(), "tmpfs")?;
    ensure(m.opts.contains(&"ro".into()), || {
        format!("/etc is not ro: {:?}", m.opts)
    })?;
    eq("copied-up content", s(&r, "/files/~1etc~1keep-me"), "under")?;
    let owned = "/stats/~1etc~1sub~1owned";
    eq(
        "owner and mode kept",
        (
            i(&r, &format!("{owned}/uid")),
            i(&r, &format!("{owned}/gid")),
            i(&r, &format!("{owned}/mode")),
        ),
        (7, 8, 0o640),
    )?;
    eq(
        "symlink kept",
        s(&r, "/stats/~1etc~1link/target"),
        "keep-me",
    )?;
    eq(
        "write to the ro tmpfs (EROFS)",
        errno_of_write(&r, "/etc/new"),
        30,
    )
}

/// An idmapped bind: mapping containerID 0 to hostID 1234 shows a source file owned by 0
/// as 1234 (the mapping converts ids of the source filesystem to the mount's).
fn idmap(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let src = b.dir.join("idmap-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    b.push(
        "/mounts",
        json!({
            "destination": "/mnt/i", "type": "bind", "source": src, "options": ["rbind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 1234, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 4321, "size": 1}]
        }),
    );
    let r = b.check(&["--stat", "/mnt/i/f"])?;
    eq(
        "owner through the idmapped mount",
        (
            i(&r, "/stats/~1mnt~1i~1f/uid"),
            i(&r, "/stats/~1mnt~1i~1f/gid"),
        ),
        (1234, 4321),
    )
}

/// A bind source in a directory only the host's root may enter (0700), with a user namespace
/// whose root is an unprivileged host uid: the runtime opens the source from the host's side
/// (runc since 1.1). The rootfs stays reachable: runc 1.1.5 cannot bind a rootfs inside such
/// a directory (carrack's tests/userns_mounts.rs covers that).
fn bind_userns_private_source(ctx: &Ctx) -> Res {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::new(ctx);
    let private = b.dir.join("private");
    std::fs::create_dir_all(private.join("src")).unwrap();
    std::fs::write(private.join("src/f"), "behind 0700").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The container's root (host 200000) cannot create the mount point in a host-owned rootfs.
    std::fs::create_dir_all(b.rootfs().join("mnt/h")).unwrap();
    b.push("/linux/namespaces", json!({"type": "user"}));
    for m in ["/linux/uidMappings", "/linux/gidMappings"] {
        b.set(
            m,
            json!([{"containerID": 0, "hostID": 200000, "size": 65536}]),
        );
    }
    // cgroup v1 mounts are not allowed from a new user namespace (see ns_user).
    let mut mounts: Vec<Value> = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] != "cgroup")
        .cloned()
        .collect();
    mounts.push(json!({"destination": "/mnt/h", "type": "bind", "source": private.join("src"), "options": ["rbind", "ro"]}));
    b.set("/mounts", json!(mounts));
    let r = b.check(&["--read", "/mnt/h/f"])?;
    eq("uid in the namespace", i(&r, "/uid"), 0)?;
    eq("content", s(&r, "/files/~1mnt~1h~1f"), "behind 0700")
}

/// A destination that is an absolute symlink in the rootfs resolves inside the rootfs.
fn symlink_inside(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let host_target = b.dir.join("host-target");
    std::fs::create_dir_all(&host_target).unwrap();
    std::fs::create_dir_all(b.rootfs().join("inside")).unwrap();
    let escape = format!("../../../../../../../..{}", host_target.display());
    std::os::unix::fs::symlink(escape, b.rootfs().join("link")).unwrap();
    b.push("/mounts", json!({"destination": "/link", "type": "tmpfs", "source": "oci-test-escape", "options": ["size=1m"]}));
    let mounted_on_host = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .contains(host_target.to_str().unwrap())
    };
    let r = b.check(&[]);
    ensure(!mounted_on_host(), || {
        format!("the mount landed on the host at {}", host_target.display())
    })?;
    let r = r?;
    let inside = mountinfo(&r)
        .into_iter()
        .any(|m| m.super_opts.iter().any(|o| o == "size=1024k") && m.fstype == "tmpfs");
    ensure(inside, || {
        "the tmpfs is not mounted inside the container".into()
    })
}

fn cgroup_mount(ctx: &Ctx) -> Res {
    cgroup_mount_with(ctx, true)
}

fn cgroup_mount_rw(ctx: &Ctx) -> Res {
    cgroup_mount_with(ctx, false)
}

/// A `cgroup` mount, read-only or not: every mount under /sys/fs/cgroup (the cgroup2 one, or
/// a v1 host's tmpfs and each hierarchy in it) is nosuid, nodev and noexec, and ro exactly
/// when the options say so.
fn cgroup_mount_with(ctx: &Ctx, ro: bool) -> Res {
    let mut b = Bundle::new(ctx);
    // In place of the base config's own cgroup mount (read-only).
    if let Some(Value::Array(mounts)) = b.config.pointer_mut("/mounts") {
        mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
    }
    let mut options = vec!["nosuid", "noexec", "nodev", "relatime"];
    if ro {
        options.push("ro");
    }
    b.push("/mounts", json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": options}));
    let r = b.check(&[])?;
    let under: Vec<MountInfo> = mountinfo(&r)
        .into_iter()
        .filter(|m| m.mount_point.starts_with("/sys/fs/cgroup"))
        .collect();
    for m in &under {
        for want in ["nosuid", "nodev", "noexec"] {
            ensure(m.opts.iter().any(|o| o == want), || {
                format!("{} is not {want}: {:?}", m.mount_point, m.opts)
            })?;
        }
        let is_ro = m.opts.iter().any(|o| o == "ro");
        ensure(is_ro == ro, || {
            format!("{}: ro expected {ro}, observed {is_ro}", m.mount_point)
        })?;
    }
    if ctx.host.cgroup2 {
        let m = mount_at(&r, "/sys/fs/cgroup")?;
        return eq("fstype", m.fstype.as_str(), "cgroup2");
    }
    ensure(
        under
            .iter()
            .any(|m| m.mount_point == "/sys/fs/cgroup" && m.fstype == "tmpfs"),
        || "no tmpfs at /sys/fs/cgroup in the container".into(),
    )?;
    ensure(
        under
            .iter()
            .any(|m| m.mount_point == "/sys/fs/cgroup/memory" && m.fstype == "cgroup"),
        || "no /sys/fs/cgroup/memory in the container".into(),
    )
}

fn root_optional(b: &mut Bundle, prop: &str) -> Res<Vec<String>> {
    b.set("/linux/rootfsPropagation", json!(prop));
    let r = b.check(&[])?;
    Ok(mount_at(&r, "/")?.optional)
}

fn rootfs_private(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let opt = root_optional(&mut b, "private")?;
    ensure(
        opt.iter()
            .all(|o| !o.starts_with("shared:") && !o.starts_with("master:")),
        || format!("/ is not private: {opt:?}"),
    )
}

fn rootfs_slave(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let opt = root_optional(&mut b, "rslave")?;
    ensure(opt.iter().all(|o| !o.starts_with("shared:")), || {
        format!("/ is shared: {opt:?}")
    })
}

fn rootfs_shared(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let opt = root_optional(&mut b, "shared")?;
    ensure(opt.iter().any(|o| o.starts_with("shared:")), || {
        format!("/ is not shared: {opt:?}")
    })
}

fn rootfs_unbindable(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let opt = root_optional(&mut b, "unbindable")?;
    ensure(opt.iter().any(|o| o == "unbindable"), || {
        format!("/ is not unbindable: {opt:?}")
    })
}

fn masked(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/linux/maskedPaths",
        json!(["/proc/timer_list", "/proc/acpi", "/proc/oci-test-absent"]),
    );
    let r = b.check(&[
        "--read",
        "/proc/timer_list",
        "--stat",
        "/proc/acpi",
        "--write",
        "/proc/acpi/x",
    ])?;
    eq(
        "masked file content",
        s(&r, "/files/~1proc~1timer_list"),
        "",
    )?;
    let acpi = mount_at(&r, "/proc/acpi")?;
    ensure(acpi.opts.contains(&"ro".into()), || {
        "masked dir is not read-only".into()
    })?;
    ensure(errno_of_write(&r, "/proc/acpi/x") != 0, || {
        "could write into a masked dir".into()
    })
}

fn readonly_paths(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/linux/readonlyPaths",
        json!(["/proc/sys", "/proc/oci-test-absent"]),
    );
    let r = b.check(&["--write", "/proc/sys/kernel/domainname"])?;
    eq(
        "write to /proc/sys (EROFS)",
        errno_of_write(&r, "/proc/sys/kernel/domainname"),
        30,
    )
}

fn mount_label(ctx: &Ctx) -> Res {
    if !ctx.host.selinux {
        return crate::harness::skip("no-selinux", "SELinux is not enabled on this host");
    }
    fail("SELinux host: this case is not written yet")
}
