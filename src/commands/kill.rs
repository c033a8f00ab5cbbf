use crate::cli::KillArgs;
use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, a: &KillArgs) -> Result<()> {
    crate::config::validate_id(&a.id)?;
    let sig = crate::linux::signals::parse(&a.signal)?;
    crate::logging::debug(&format!("kill: signal {sig}, all {}", a.all));
    crate::container::kill(root, &a.id, sig, a.all)
}
