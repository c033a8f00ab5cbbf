use crate::cli::DeleteArgs;
use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, a: &DeleteArgs) -> Result<()> {
    Ok(carrack::delete(root, &a.id, a.force)?)
}
