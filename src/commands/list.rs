use crate::cli::{ListArgs, ListFormat};
use crate::state::Store;
use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, a: &ListArgs) -> Result<()> {
    if !root.exists() {
        // runc lists nothing (not an error) when the root was never used.
        return print(a, Vec::new());
    }
    let mut rows = Vec::new();
    let store = Store::new(root)?;
    for entry in store.list()? {
        match entry {
            Ok((s, status)) => {
                let mut row = super::state_json(&s, status);
                row["owner"] = owner_name(&store.dir(&s.id)).into();
                rows.push(row);
            }
            // A corrupt entry is shown, never silently dropped.
            Err((id, e)) => crate::logging::warn(&format!("list: {id}: {e:#}")),
        }
    }
    print(a, rows)
}

/// As runc's list: the user owning the container's state dir, by name from the host's
/// /etc/passwd, else "#UID" (`state` prints the owner field as it is, "" for root).
fn owner_name(dir: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata(dir).map(|m| m.uid()) else {
        return String::new();
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
        .unwrap_or_else(|| format!("#{uid}"))
}

fn print(a: &ListArgs, rows: Vec<serde_json::Value>) -> Result<()> {
    if a.quiet {
        for r in &rows {
            println!("{}", r["id"].as_str().unwrap_or(""));
        }
        return Ok(());
    }
    match a.format {
        // runc (Go) marshals an empty list as null.
        ListFormat::Json if rows.is_empty() => println!("null"),
        ListFormat::Json => println!("{}", serde_json::to_string(&rows)?),
        ListFormat::Table => print_table(&rows),
    }
    Ok(())
}

/// runc's tabwriter layout: minimum cell width 12, padding 3.
fn print_table(rows: &[serde_json::Value]) {
    let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
    let keys = ["id", "pid", "status", "bundle", "created", "owner"];
    let mut lines: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        lines.push(
            keys.iter()
                .map(|k| match &r[k] {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..keys.len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    for l in lines {
        let mut out = String::new();
        for (c, cell) in l.iter().enumerate() {
            if c + 1 == l.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        println!("{out}");
    }
}
