//! run = create + start, then (unless --detach) wait and exit with the container's status.

use crate::cli::RunArgs;
use anyhow::Result;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

static INIT_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = INIT_PID.load(Ordering::Relaxed);
    if pid > 0 {
        unsafe { libc::kill(pid, sig) };
    }
}

/// Returns the exit code carrack must exit with.
pub fn run(root: &Path, a: &RunArgs) -> Result<i32> {
    crate::config::validate_id(&a.id)?;
    let pid = crate::container::create(root, &a.id, &a.opts)?;
    if let Err(e) = crate::container::start(root, &a.id) {
        let _ = crate::container::delete(root, &a.id, true);
        return Err(e);
    }
    if a.detach {
        return Ok(0);
    }
    // Signals sent to `carrack run` go to the container, as with runc.
    INIT_PID.store(pid, Ordering::Relaxed);
    let act = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        unsafe { sigaction(s, &act) }?;
    }
    let code = loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if !a.keep {
        crate::container::delete(root, &a.id, true)?;
    }
    Ok(code)
}
