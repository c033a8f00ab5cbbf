use crate::state::Store;
use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, id: &str) -> Result<()> {
    crate::config::validate_id(id)?;
    let (state, status) = Store::new(root)?.load(id)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&super::state_json(&state, status))?
    );
    Ok(())
}
