//! run = create + start, then (unless --detach) wait and exit with the container's status.
//! In the foreground without --console-socket, a terminal container's pty comes back to us
//! and is relayed to our stdio.

use crate::cli::RunArgs;
use anyhow::Result;
use std::path::Path;

/// Returns the exit code carrack must exit with.
pub fn run(root: &Path, a: &RunArgs) -> Result<i32> {
    crate::config::validate_id(&a.id)?;
    let own_console = !a.detach && a.opts.console_socket.is_none();
    let (ours, theirs) = if own_console {
        let (x, y) = std::os::unix::net::UnixStream::pair()?;
        (Some(x), Some(y.into()))
    } else {
        (None, None)
    };
    let (c, pid) = crate::container::create_held(root, &a.id, &a.opts.options(), theirs)?;
    if let Err(e) = crate::container::start_held(c) {
        let _ = crate::container::delete(root, &a.id, true);
        return Err(e);
    }
    if a.detach {
        return Ok(0);
    }
    let master = ours
        .as_ref()
        .and_then(crate::container::tty::received_master);
    let code = match master {
        Some(m) => crate::container::tty::relay(m, pid)?,
        None => crate::container::wait_foreground(pid)?,
    };
    if !a.keep {
        crate::container::delete(root, &a.id, true)?;
    }
    Ok(code)
}
