//! run = create + start, then (unless --detach) wait and exit with the container's status.

use crate::cli::RunArgs;
use anyhow::Result;
use std::path::Path;

/// Returns the exit code carrack must exit with.
pub fn run(root: &Path, a: &RunArgs) -> Result<i32> {
    let opts = carrack::RunOptions {
        create: a.opts.options(),
        detach: a.detach,
        keep: a.keep,
    };
    Ok(carrack::run(root, &a.id, &opts)?)
}
