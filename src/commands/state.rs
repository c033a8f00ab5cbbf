use anyhow::Result;
use std::path::Path;

/// runc's `state`: the state object (`ContainerState::to_json`, the one hooks read), indented.
pub fn run(root: &Path, id: &str) -> Result<()> {
    let s = carrack::state(root, id)?;
    println!("{}", serde_json::to_string_pretty(&s.to_json())?);
    Ok(())
}
