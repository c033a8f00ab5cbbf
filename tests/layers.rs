//! The layering check (scripts/check-layers runs it; no root, no containers): every
//! `crate::…` (and `super::sibling`) path in src/ points down the table below or within its
//! own layer without closing a cycle.
//!
//! | layer       | modules                                              |
//! |-------------|------------------------------------------------------|
//! | bin         | main.rs, cli.rs, cli/, commands/ (the `carrack` binary) |
//! | api         | lib.rs                                               |
//! | lifecycle   | container/, state.rs                                 |
//! | process     | launcher/, init/, selfexe.rs                         |
//! | subsystems  | config/, cgroups/, linux/                            |
//! | base        | sync.rs, logging.rs, fault.rs, rootless.rs, error.rs, insecure.rs, testutil.rs, mutate.rs |
//!
//! A node is a top-level module, or one level further where that is a file or folder of its
//! own (`linux::fs`, `cgroups::systemd`). An import into a lower layer is fine; into a higher
//! one is an error; within a layer it is fine unless it closes a cycle, among the nodes or
//! among the layer's top modules (so `config → linux` stands and `linux → config` would not).
//! The binary is only checked for being on top: nothing in the library can name it (it is
//! another crate).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[(&str, &[&str])] = &[
    ("api", &["<lib>"]),
    ("lifecycle", &["container", "state"]),
    ("process", &["launcher", "init", "selfexe"]),
    ("subsystems", &["config", "cgroups", "linux"]),
    (
        "base",
        &[
            "sync", "logging", "fault", "rootless", "error", "insecure", "testutil", "mutate",
        ],
    ),
];

/// Files of the binary: not library modules.
fn is_bin(rel: &str) -> bool {
    rel == "main.rs" || rel == "cli.rs" || rel.starts_with("cli/") || rel.starts_with("commands/")
}

fn layer_of(node: &str) -> Option<usize> {
    let top = node.split("::").next().unwrap_or(node);
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

/// A source file: its node and its text.
struct Source {
    node: String,
    text: String,
}

/// The node of a file under src/ (`linux/fs.rs` → `linux::fs`, `linux/mod.rs` → `linux`,
/// `cgroups/systemd/props.rs` → `cgroups::systemd`, `lib.rs` → `<lib>`).
fn node_of(rel: &str) -> String {
    let rel = rel.trim_end_matches(".rs");
    let parts: Vec<&str> = rel.split('/').filter(|p| *p != "mod").collect();
    match parts.as_slice() {
        ["lib"] => "<lib>".into(),
        [one] => one.to_string(),
        [a, b, ..] => format!("{a}::{b}"),
        [] => "<lib>".into(),
    }
}

/// Code without comments (line comments, doc comments, block comments) and string contents.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' && (i == 0 || b[i - 1] != b'\'') {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn ident_at(s: &[u8], mut i: usize) -> (String, usize) {
    let start = i;
    while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
        i += 1;
    }
    (String::from_utf8_lossy(&s[start..i]).into_owned(), i)
}

/// The paths `prefix::…` names, expanded through `{…}` groups, as segment lists.
fn paths_after(s: &[u8], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    if i < s.len() && s[i] == b'{' {
        i += 1;
        loop {
            while i < s.len() && (s[i].is_ascii_whitespace() || s[i] == b',') {
                i += 1;
            }
            if i >= s.len() || s[i] == b'}' {
                return i + 1;
            }
            i = paths_after(s, i, prefix.clone(), out);
        }
    }
    let (id, j) = ident_at(s, i);
    if id.is_empty() {
        out.push(prefix);
        return i;
    }
    let mut p = prefix;
    p.push(id);
    i = j;
    if s[i..].starts_with(b"::") {
        return paths_after(s, i + 2, p, out);
    }
    // `self`, `as name`, or the end of the path.
    out.push(p);
    while i < s.len() && !matches!(s[i], b',' | b'}' | b';' | b'(' | b')' | b'\n') {
        i += 1;
    }
    i
}

/// Every node a source refers to: `crate::a::b…` and `super::sibling…` paths.
fn imports(src: &Source, submodules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = strip(&src.text);
    let s = code.as_bytes();
    let mut found = BTreeSet::new();
    let resolve = |segs: &[String]| -> Option<String> {
        let first = segs.first()?;
        match segs.get(1) {
            Some(second) if submodules.contains(&format!("{first}::{second}")) => {
                Some(format!("{first}::{second}"))
            }
            _ => Some(first.clone()),
        }
    };
    for (kw, is_super) in [("crate::", false), ("super::", true)] {
        let mut at = 0;
        while let Some(k) = code[at..].find(kw) {
            let i = at + k;
            at = i + kw.len();
            let word_start = i == 0 || !(s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_');
            if !word_start || (i >= 2 && &s[i - 2..i] == b"::") {
                continue;
            }
            let mut paths = Vec::new();
            paths_after(s, at, Vec::new(), &mut paths);
            for p in paths {
                let segs: Vec<String> = if is_super {
                    // Only `super::sibling` from a file that is a submodule (`linux::idmap`
                    // → `linux::clone`); `super::*` of an inline test module is its own file.
                    let Some((parent, _)) = src.node.split_once("::") else {
                        continue;
                    };
                    match p.first() {
                        Some(x) if submodules.contains(&format!("{parent}::{x}")) => {
                            std::iter::once(parent.to_string()).chain(p).collect()
                        }
                        _ => continue,
                    }
                } else {
                    p
                };
                if let Some(n) = resolve(&segs) {
                    if n != src.node && !n.is_empty() {
                        found.insert(n);
                    }
                }
            }
        }
    }
    found
}

/// The violations: upward imports, unknown modules, and cycles within a layer.
fn check(sources: &[Source]) -> Vec<String> {
    let submodules: BTreeSet<String> = sources
        .iter()
        .filter(|s| s.node.contains("::"))
        .map(|s| s.node.clone())
        .collect();
    let mut errors = Vec::new();
    let mut same_layer: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for src in sources {
        let Some(from) = layer_of(&src.node) else {
            errors.push(format!("{}: not in the layer table", src.node));
            continue;
        };
        for to in imports(src, &submodules) {
            match layer_of(&to) {
                None => errors.push(format!("{} → {to}: not in the layer table", src.node)),
                Some(l) if l < from => errors.push(format!(
                    "{} ({}) → {to} ({}): imports a higher layer",
                    src.node, LAYERS[from].0, LAYERS[l].0
                )),
                Some(l) if l == from => {
                    same_layer.entry(src.node.clone()).or_default().insert(to);
                }
                Some(_) => {}
            }
        }
    }
    // Cycles among the nodes, and among the top modules of a layer (linux::seccomp →
    // config would close config::validate → linux::lsm at that level).
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &same_layer {
        let top = |n: &str| n.split("::").next().unwrap_or(n).to_string();
        for to in tos.iter().filter(|t| top(t) != top(from)) {
            tops.entry(top(from)).or_default().insert(top(to));
        }
    }
    errors.extend(cycles(&same_layer));
    errors.extend(cycles(&tops));
    errors
}

/// One message per cycle found by a depth-first search (its nodes in order).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if let Some(pos) = stack.iter().position(|s| s == n) {
            let mut c = stack[pos..].to_vec();
            c.push(n.to_string());
            out.push(format!("cycle within a layer: {}", c.join(" → ")));
            return;
        }
        if !done.insert(n.to_string()) {
            return;
        }
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            visit(m, edges, stack, done, out);
        }
        stack.pop();
    }
    let mut out = Vec::new();
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        visit(n, edges, &mut Vec::new(), &mut done, &mut out);
    }
    out
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn library_sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    files.sort();
    files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            (!is_bin(&rel)).then(|| Source {
                node: node_of(&rel),
                text: std::fs::read_to_string(f).unwrap(),
            })
        })
        .collect()
}

#[test]
fn library_imports_point_down_the_layers() {
    let sources = library_sources();
    assert!(sources.len() > 50, "found only {} files", sources.len());
    let errors = check(&sources);
    assert!(
        errors.is_empty(),
        "layering (tests/layers.rs):\n{}",
        errors.join("\n")
    );
}

/// The check fails on what it is for: the tree as it is plus one injected import.
#[test]
fn an_injected_upward_import_or_cycle_fails() {
    let with = |node: &str, line: &str| {
        let mut s = library_sources();
        s.iter_mut().find(|s| s.node == node).unwrap().text += line;
        check(&s)
    };
    // A subsystem reaching up to the lifecycle, in a grouped `use`.
    let e = with(
        "linux::idmap",
        "\nuse crate::{linux::fs, container::{self, delete}};\n",
    );
    assert_eq!(
        e,
        ["linux::idmap (subsystems) → container (lifecycle): imports a higher layer"]
    );
    // The old cycle: linux/idmap → launcher.
    let e = with("linux::idmap", "\nfn f() { crate::launcher::spawn(); }\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("→ launcher (process)"), "{e:?}");
    // Within a layer: linux → config closes config → linux.
    let e = with(
        "linux::seccomp",
        "\nconst V: &str = crate::config::OCI_VERSION;\n",
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("cycle within a layer") && m.contains("config → linux")),
        "{e:?}"
    );
    // A sibling through super:: (idmap uses clone: a cycle), and nothing in comments or
    // strings counts.
    let e = with(
        "linux::clone",
        "\n// crate::container::x\nconst S: &str = \"crate::state\";\nuse super::idmap;\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("cycle within a layer") && e[0].contains("linux::idmap"),
        "{e:?}"
    );
}
