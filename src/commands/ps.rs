//! ps: the container's processes, as runc prints them: `--format json` is the pid list, the
//! table is the host's `ps` (default `-ef`) filtered to those pids. A stopped container is
//! no error: runc prints the header alone, and `null` (Go's empty list) as JSON.

use anyhow::{bail, Context, Result};
use std::path::Path;

pub fn run(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let pids = carrack::processes(root, id)?;
    match format {
        "json" if pids.is_empty() => println!("null"),
        "json" => println!("{}", serde_json::to_string(&pids)?),
        "table" => print_table(&pids, ps_args)?,
        other => bail!("--format {other:?}: must be table or json"),
    }
    Ok(())
}

fn print_table(pids: &[i32], ps_args: &[String]) -> Result<()> {
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(())
}
