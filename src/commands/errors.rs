//! What carrack prints for an error: the one place that turns the library's typed errors into
//! runc's words. Engines read them: containerd's shim looks for "does not exist" in the
//! message of a failed delete or kill, and treats the container as gone.

use carrack::{Error, Operation, Status};

/// The message of a failed command (main prints it, and logs it): its context chain, joined
/// as anyhow's `{:#}` joins it, with runc's words for a library error in it.
pub fn message(e: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for c in e.chain() {
        if let Some(lib) = c.downcast_ref::<Error>() {
            parts.push(runc_words(lib));
            break;
        }
        parts.push(c.to_string());
    }
    parts.join(": ")
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
        Error::InvalidId(e) | Error::Other(e) => format!("{e:#}"),
        Error::BadConfig { cause, .. } | Error::Kernel { cause, .. } => format!("{cause:#}"),
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
