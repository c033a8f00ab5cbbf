use crate::cli::SpecArgs;
use anyhow::{bail, Context, Result};

pub fn run(a: &SpecArgs) -> Result<()> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&carrack::default_spec(a.rootless))?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))
}
