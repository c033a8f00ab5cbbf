use crate::cli::DeleteArgs;
use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, a: &DeleteArgs) -> Result<()> {
    crate::config::validate_id(&a.id)?;
    crate::container::delete(root, &a.id, a.force)
}
