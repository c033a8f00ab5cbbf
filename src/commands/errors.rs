//! What carrack prints for an error: the one place that turns the library's typed errors into
//! runc's words. Engines read them: containerd's shim looks for "does not exist" in the
//! message of a failed delete or kill, and treats the container as gone.

use carrack::{Error, Operation, Opt, OptError, Status};

/// The message of a failed command (main prints it, and logs it): its context chain, joined
/// as anyhow's `{:#}` joins it, with runc's words for a library error in it.
pub fn message(e: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for c in e.chain() {
        if let Some(lib) = c.downcast_ref::<Error>() {
            parts.push(runc_words(lib));
            break;
        }
        parts.push(words(c));
    }
    parts.join(": ")
}

/// A chain as `{:#}` prints it, with the flag for each option the library names.
fn chain_words(e: &anyhow::Error) -> String {
    e.chain().map(words).collect::<Vec<_>>().join(": ")
}

/// One message of a chain: the library's, or runc's flag for an option it names.
fn words(c: &(dyn std::error::Error + 'static)) -> String {
    match c.downcast_ref::<OptError>() {
        Some(o) => o.render(flag(o.opt())),
        None => c.to_string(),
    }
}

/// The command line's name for an option of the library.
pub fn flag(o: Opt) -> &'static str {
    match o {
        Opt::Root => "--root",
        Opt::Bundle => "--bundle",
        Opt::ConsoleSocket => "--console-socket",
        Opt::PidFile => "--pid-file",
        Opt::PreserveFds => "--preserve-fds",
        Opt::NoPivot => "--no-pivot",
        Opt::SystemdCgroup => "--systemd-cgroup",
        Opt::ExecCgroup => "exec --cgroup",
        Opt::ExecTty => "exec --tty",
        Opt::ExecPidfdSocket => "exec --pidfd-socket",
        Opt::PreDump => "--pre-dump/--parent-path",
        Opt::ImagePath => "--image-path",
        Opt::WorkPath => "--work-path",
        Opt::PageServer => "--page-server",
        Opt::ManageCgroupsMode => "--manage-cgroups-mode",
        Opt::EmptyNs => "--empty-ns",
        Opt::Criu => "--criu",
        Opt::ForceDelete => "delete --force",
    }
}

/// runc's message for each kind; the others keep carrack's own text (the chain of what
/// failed).
pub fn runc_words(e: &Error) -> String {
    match e {
        Error::NotFound { .. } => "container does not exist".into(),
        Error::Exists { id } => format!("container with id exists: {id}"),
        Error::WrongStatus { id, op, status } => match op {
            Operation::Delete => {
                format!("cannot delete container {id} that is not stopped: {status}")
            }
            Operation::Checkpoint => format!("cannot checkpoint a container that is {status}"),
            op => not_allowed(*op, *status).into(),
        },
        Error::InvalidId(e) | Error::Other(e) => chain_words(e),
        Error::BadConfig { cause, .. } | Error::Kernel { cause, .. } => chain_words(cause),
    }
}

/// runc's fixed texts for what a status forbids.
fn not_allowed(op: Operation, status: Status) -> &'static str {
    use Operation as O;
    use Status as S;
    match (op, status) {
        (O::Start | O::Run, S::Stopped) => "cannot start a container that has stopped",
        (O::Start | O::Run, S::Running) => "cannot start an already running container",
        (O::Start | O::Run, S::Creating) => "cannot start a container that is still being created",
        (O::Start | O::Run, S::Paused) => "cannot start a paused container",
        (O::Exec, S::Paused) => "cannot exec in a paused container (use --ignore-paused)",
        (O::Exec, S::Stopped) => "cannot exec in a stopped container",
        (O::Exec, S::Creating) => "cannot exec in a container that is still being created",
        (O::Pause, S::Paused) => "container already paused",
        (O::Resume, _) => "container not paused",
        // kill, pause, update, events: runc's ErrNotRunning.
        _ => "container not running",
    }
}

/// The error is EPIPE from a write to stdout whose reader is gone (main then ends quietly,
/// as runc dies of SIGPIPE); looked for through the library's errors too.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let broken = |c: &(dyn std::error::Error + 'static)| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    };
    e.chain().any(|c| match c.downcast_ref::<Error>() {
        Some(Error::InvalidId(inner) | Error::Other(inner))
        | Some(Error::BadConfig { cause: inner, .. } | Error::Kernel { cause: inner, .. }) => {
            inner.chain().any(broken)
        }
        _ => broken(c),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn kernel(op: &str, errno: i32) -> (Error, String) {
        let cause = Err::<(), _>(std::io::Error::from_raw_os_error(errno))
            .context(op.to_string())
            .unwrap_err();
        let text = format!("{cause:#}");
        let e = Error::Kernel {
            op: op.into(),
            errno: nix::errno::Errno::from_raw(errno),
            cause,
        };
        (e, text)
    }

    #[test]
    fn each_kind_in_runcs_words() {
        let id = || "c1".to_string();
        let cases: Vec<(Error, &str)> = vec![
            (Error::NotFound { id: id() }, "container does not exist"),
            (Error::Exists { id: id() }, "container with id exists: c1"),
            (
                Error::InvalidId(anyhow::anyhow!("invalid container id \"../x\": must match")),
                "invalid container id \"../x\": must match",
            ),
            (
                Error::BadConfig {
                    field: "process.cwd".into(),
                    reason: "\"x\": must be an absolute path".into(),
                    cause: anyhow::anyhow!("process.cwd \"x\": must be an absolute path"),
                },
                "process.cwd \"x\": must be an absolute path",
            ),
            (
                Error::Other(anyhow::anyhow!("inner").context("outer")),
                "outer: inner",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(runc_words(&e), want, "{e:?}");
            // Through the binary's anyhow, as main reports it.
            assert_eq!(message(&anyhow::Error::new(e)), want);
        }
        let (e, text) = kernel("--bundle /nonexistent", libc::ENOENT);
        assert_eq!(
            text,
            "--bundle /nonexistent: No such file or directory (os error 2)"
        );
        assert_eq!(runc_words(&e), text);
    }

    #[test]
    fn a_forbidden_status_in_runcs_words() {
        use Operation as O;
        use Status as S;
        let cases = [
            (
                O::Start,
                S::Stopped,
                "cannot start a container that has stopped",
            ),
            (
                O::Run,
                S::Stopped,
                "cannot start a container that has stopped",
            ),
            (
                O::Start,
                S::Running,
                "cannot start an already running container",
            ),
            (
                O::Start,
                S::Creating,
                "cannot start a container that is still being created",
            ),
            (O::Start, S::Paused, "cannot start a paused container"),
            (O::Kill, S::Stopped, "container not running"),
            (O::Kill, S::Creating, "container not running"),
            (O::Pause, S::Stopped, "container not running"),
            (O::Pause, S::Paused, "container already paused"),
            (O::Resume, S::Running, "container not paused"),
            (O::Resume, S::Stopped, "container not paused"),
            (O::Update, S::Stopped, "container not running"),
            (O::Update, S::Creating, "container not running"),
            (O::Events, S::Stopped, "container not running"),
            (
                O::Exec,
                S::Paused,
                "cannot exec in a paused container (use --ignore-paused)",
            ),
            (O::Exec, S::Stopped, "cannot exec in a stopped container"),
            (
                O::Exec,
                S::Creating,
                "cannot exec in a container that is still being created",
            ),
            (
                O::Delete,
                S::Running,
                "cannot delete container c1 that is not stopped: running",
            ),
            (
                O::Delete,
                S::Paused,
                "cannot delete container c1 that is not stopped: paused",
            ),
            (
                O::Checkpoint,
                S::Created,
                "cannot checkpoint a container that is created",
            ),
        ];
        for (op, status, want) in cases {
            let e = Error::WrongStatus {
                id: "c1".into(),
                op,
                status,
            };
            assert_eq!(runc_words(&e), want, "{op:?} {status:?}");
        }
    }

    #[test]
    fn context_above_a_library_error_is_kept() {
        let e = anyhow::Error::new(Error::Other(anyhow::anyhow!("systemd is not running")))
            .context("--systemd-cgroup");
        assert_eq!(message(&e), "--systemd-cgroup: systemd is not running");
        let e = anyhow::Error::new(Error::NotFound { id: "x".into() }).context("checkpoint");
        assert_eq!(message(&e), "checkpoint: container does not exist");
    }

    /// The library's errors that name an option, built as its sites build them, and runc's
    /// text that carrack printed before the library named options instead of flags.
    fn option_errors() -> Vec<(anyhow::Error, &'static str)> {
        use carrack::error::OptContext;
        let enoent = || std::io::Error::from_raw_os_error(libc::ENOENT);
        let leaf = |o: OptError| anyhow::Error::new(o);
        vec![
            (
                Err::<(), _>(enoent())
                    .opt_context(Opt::Bundle.said(" /nonexistent"))
                    .unwrap_err(),
                "--bundle /nonexistent: No such file or directory (os error 2)",
            ),
            (
                leaf(Opt::ConsoleSocket.said(": cannot use console socket if carrack will not detach or allocate tty (process.terminal is false)")),
                "--console-socket: cannot use console socket if carrack will not detach or allocate tty (process.terminal is false)",
            ),
            (
                Opt::PidFile.said(" /p/pid").on(enoent()),
                "--pid-file /p/pid: No such file or directory (os error 2)",
            ),
            (
                Opt::Root.said(" /r: cannot create").on(enoent()),
                "--root /r: cannot create: No such file or directory (os error 2)",
            ),
            (
                leaf(Opt::PreserveFds.said(" 2: unable to stat preserved-fd 4: Bad file descriptor (os error 9)")),
                "--preserve-fds 2: unable to stat preserved-fd 4: Bad file descriptor (os error 9)",
            ),
            (
                Opt::NoPivot
                    .said(": chroot")
                    .on(anyhow::anyhow!("EPERM: Operation not permitted"))
                    .context("rootfs"),
                "rootfs: --no-pivot: chroot: EPERM: Operation not permitted",
            ),
            (
                leaf(Opt::SystemdCgroup.within(
                    "linux.cgroupsPath \"a:b\": with ",
                    " it must be slice:prefix:name",
                )),
                "linux.cgroupsPath \"a:b\": with --systemd-cgroup it must be slice:prefix:name",
            ),
            (
                Opt::SystemdCgroup
                    .said(": systemd: start unit x.scope")
                    .on(anyhow::anyhow!("job result \"failed\"")),
                "--systemd-cgroup: systemd: start unit x.scope: job result \"failed\"",
            ),
            (
                leaf(Opt::ExecCgroup.said(" \"../x\": must be a path below the container's cgroup")),
                "exec --cgroup \"../x\": must be a path below the container's cgroup",
            ),
            (
                leaf(Opt::ExecTty.said(": cannot allocate tty if carrack will detach without setting console socket")),
                "exec --tty: cannot allocate tty if carrack will detach without setting console socket",
            ),
            (
                Opt::ExecPidfdSocket.said("").on(enoent()),
                "exec --pidfd-socket: No such file or directory (os error 2)",
            ),
            (
                leaf(Opt::PreDump.said(": this CRIU or kernel cannot track memory changes (soft-dirty)")),
                "--pre-dump/--parent-path: this CRIU or kernel cannot track memory changes (soft-dirty)",
            ),
            (
                Opt::ImagePath.said(" /i: no checkpoint there").on(enoent()),
                "--image-path /i: no checkpoint there: No such file or directory (os error 2)",
            ),
            (
                Opt::WorkPath.said("").on(enoent()),
                "--work-path: No such file or directory (os error 2)",
            ),
            (
                Opt::PageServer.said(" x: want ADDRESS:PORT").on(anyhow::anyhow!("invalid")),
                "--page-server x: want ADDRESS:PORT: invalid",
            ),
            (
                leaf(Opt::ManageCgroupsMode.said(" \"loose\": want soft, full, strict or ignore")),
                "--manage-cgroups-mode \"loose\": want soft, full, strict or ignore",
            ),
            (
                leaf(Opt::EmptyNs.said(" \"pid\": namespace not supported (only network)")),
                "--empty-ns \"pid\": namespace not supported (only network)",
            ),
            (
                leaf(Opt::Criu.within("criu: /x not found: checkpoint and restore need CRIU (>= 3.0; Debian: apt-get install criu), or ", " PATH")),
                "criu: /x not found: checkpoint and restore need CRIU (>= 3.0; Debian: apt-get install criu), or --criu PATH",
            ),
            (
                leaf(Opt::ConsoleSocket.within(
                    "process.terminal: restore needs ",
                    " for the restored pty",
                )),
                "process.terminal: restore needs --console-socket for the restored pty",
            ),
            (
                Opt::ForceDelete
                    .within("/r/c/state.json: corrupt state, remove it with ", "")
                    .on(anyhow::anyhow!("EOF while parsing")),
                "/r/c/state.json: corrupt state, remove it with delete --force: EOF while parsing",
            ),
        ]
    }

    #[test]
    fn options_are_named_by_runcs_flags() {
        for (e, want) in option_errors() {
            // The library's own text names the option, not the flag.
            let plain = format!("{e:#}");
            assert!(!plain.contains("--"), "{plain}");
            // As main prints it: an error of the binary's own, or the chain of a library error
            // of each kind that keeps one.
            assert_eq!(message(&e), want);
            assert_eq!(message(&e.context("outer")), format!("outer: {want}"));
        }
        for (e, want) in option_errors() {
            let lib = Error::Other(e);
            assert_eq!(runc_words(&lib), want);
            assert_eq!(message(&anyhow::Error::new(lib)), want);
        }
        for (e, want) in option_errors() {
            let lib = Error::Kernel {
                op: "x".into(),
                errno: nix::errno::Errno::ENOENT,
                cause: e,
            };
            assert_eq!(message(&anyhow::Error::new(lib)), want);
        }
        for (e, want) in option_errors() {
            let lib = Error::BadConfig {
                field: "x".into(),
                reason: "y".into(),
                cause: e,
            };
            assert_eq!(message(&anyhow::Error::new(lib)), want);
        }
        // From a container's init, across the channel to its parent.
        for (e, want) in option_errors() {
            let back = carrack::error::from_wire(&carrack::error::to_wire(&e));
            assert_eq!(message(&back), want);
        }
    }

    #[test]
    fn the_librarys_own_errors_name_runcs_flags() {
        let e = carrack::linux::process::check_preserved_fds(u32::MAX, 0).unwrap_err();
        assert_eq!(message(&e), "--preserve-fds 4294967295: too large");
        assert_eq!(format!("{e:#}"), "preserved fds 4294967295: too large");
        let file = std::path::Path::new("/r/c/state.json");
        let e = carrack::state::parse_state(b"{", file).unwrap_err();
        assert!(
            message(&e)
                .starts_with("/r/c/state.json: corrupt state, remove it with delete --force: "),
            "{}",
            message(&e)
        );
    }

    #[test]
    fn a_broken_pipe_is_found_inside_library_errors() {
        let (e, _) = kernel("write", libc::EPIPE);
        assert!(is_broken_pipe(&anyhow::Error::new(e)));
        let pipe = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EPIPE));
        assert!(is_broken_pipe(&anyhow::Error::new(Error::Other(
            pipe.context("relay")
        ))));
        let (e, _) = kernel("write", libc::ENOSPC);
        assert!(!is_broken_pipe(&anyhow::Error::new(e)));
    }
}
