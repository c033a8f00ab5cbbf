use crate::cli::KillArgs;
use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, a: &KillArgs) -> Result<()> {
    let sig = carrack::linux::signals::parse(&a.signal)?;
    carrack::logging::debug(&format!("kill: signal {sig}, all {}", a.all));
    Ok(carrack::kill(root, &a.id, sig, a.all)?)
}
