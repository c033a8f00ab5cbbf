//! run = create + start, then (unless --detach) wait and exit with the container's status.

use crate::cli::RunArgs;
use anyhow::Result;
use std::path::Path;

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
    let code = crate::container::wait_foreground(pid)?;
    if !a.keep {
        crate::container::delete(root, &a.id, true)?;
    }
    Ok(code)
}
