//! proptest strategies that damage JSON documents, for the property tests of config, state and
//! resources parsing (tests only; tests/mutated_configs.rs includes this file by path).
//! A failure is shrunk to the fewest, simplest edits, and its seed is kept in
//! proptest-regressions/<source path>.txt (committed): every run tries the kept seeds first.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Value};

/// Object keys for generated objects and inserted fields: OCI field names that the parsers
/// look at (so an insertion often reaches a deserializer or a check), and one unknown key.
const KEYS: &[&str] = &[
    "type",
    "path",
    "options",
    "source",
    "destination",
    "names",
    "action",
    "args",
    "limit",
    "swap",
    "shares",
    "quota",
    "period",
    "cpus",
    "mems",
    "devices",
    "allow",
    "major",
    "minor",
    "access",
    "hostID",
    "containerID",
    "size",
    "uid",
    "gid",
    "pid",
    "status",
    "seccomp",
    "resources",
    "unified",
    "hugepageLimits",
    "rlimits",
    "sysctl",
    "hooks",
    "a",
];

/// Strings that mean something to some parser, or hurt one.
const STRINGS: &[&str] = &[
    "",
    "a\0b",
    "a\nb",
    "/",
    "..",
    "../../etc",
    "/proc/self/fd/3",
    "rw",
    "ro",
    "nosuid",
    "bind",
    "rbind",
    "rprivate",
    "idmap",
    "tmpcopyup",
    "max",
    "-1",
    "0-1",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_ARCH_X86",
    "CAP_SYS_ADMIN",
    "RLIMIT_NOFILE",
    "user",
    "cgroup",
    "memory.max",
    "running",
    "paused",
    "2026-01-01T00:00:00Z",
];

/// A value of a random kind, often hostile (NUL, huge, negative, deep, non-ASCII).
pub fn hostile_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1000i64..=1000).prop_map(Value::from),
        select(vec![
            json!(u64::MAX),
            json!(u32::MAX as u64 + 1),
            json!(i64::MIN),
            json!(1.5e300),
            json!(-0.5),
        ]),
        select(STRINGS).prop_map(Value::from),
        "x{0,300}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((select(KEYS), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// One structural edit of a JSON document.
#[derive(Clone, Debug)]
pub enum Edit {
    /// The chosen node becomes this value.
    Replace(Value),
    /// A number becomes a boundary value, a string one of `STRINGS`, a bool its negation:
    /// values of the right type, so the edit gets past the deserializer to the checks.
    Boundary(Index),
    /// The chosen node is removed from its object or array.
    Remove,
    /// An array element is appended again (duplicates: two mounts on one path, …).
    Duplicate,
    /// The chosen node, if an object, gets this key (a field the document lacked).
    Insert(&'static str, Value),
}

/// Numbers at the edges of what a field's type or its check allows.
const NUMBERS: &[i128] = &[
    0,
    -1,
    1,
    2,
    -2,
    5,
    7,
    10,
    63,
    64,
    100,
    101,
    1000,
    1001,
    4096,
    65535,
    65536,
    i32::MAX as i128,
    i32::MIN as i128,
    u32::MAX as i128,
    u32::MAX as i128 + 1,
    i64::MAX as i128,
    i64::MIN as i128,
    u64::MAX as i128,
];

/// `v` as `Edit::Boundary` changes it (None: a kind it does not change).
fn boundary(v: &Value, i: Index) -> Option<Value> {
    Some(match v {
        Value::Number(_) => {
            let n = NUMBERS[i.index(NUMBERS.len())];
            match i64::try_from(n) {
                Ok(n) => json!(n),
                Err(_) => json!(n as u64),
            }
        }
        Value::String(_) => json!(STRINGS[i.index(STRINGS.len())]),
        Value::Bool(b) => json!(!b),
        _ => return None,
    })
}

/// An edit at one of the document's nodes (by index among all nodes but the root).
#[derive(Clone, Debug)]
pub struct Mutation {
    at: Index,
    edit: Edit,
}

/// 1 to 3 edits; shrinking drops edits and simplifies their values.
fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let edit = prop_oneof![
        3 => hostile_value().prop_map(Edit::Replace),
        3 => any::<Index>().prop_map(Edit::Boundary),
        2 => Just(Edit::Remove),
        1 => Just(Edit::Duplicate),
        2 => (select(KEYS), hostile_value()).prop_map(|(k, v)| Edit::Insert(k, v)),
    ];
    prop::collection::vec(
        (any::<Index>(), edit).prop_map(|(at, edit)| Mutation { at, edit }),
        1..=3,
    )
}

/// All JSON pointers of `v` (objects and arrays included), the root first.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(c, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// `doc` with the mutations applied in order (each picks among the nodes it then has).
fn apply(doc: &Value, ms: &[Mutation]) -> Value {
    let mut v = doc.clone();
    for m in ms {
        let mut ps = Vec::new();
        pointers(&v, String::new(), &mut ps);
        let p = &ps[m.at.index(ps.len())];
        if let Edit::Insert(k, new) = &m.edit {
            if let Some(Value::Object(o)) = v.pointer_mut(p) {
                o.insert(k.to_string(), new.clone());
            }
            continue;
        }
        if let Edit::Boundary(b) = m.edit {
            let node = v.pointer_mut(p).expect("a pointer of this document");
            if let Some(new) = boundary(node, b) {
                *node = new;
            }
            continue;
        }
        let Some(i) = p.rfind('/') else {
            continue; // the root: no parent to edit it in
        };
        let last = p[i + 1..].replace("~1", "/").replace("~0", "~");
        match (v.pointer_mut(&p[..i]), &m.edit) {
            (Some(Value::Object(o)), Edit::Remove) => {
                o.remove(&last);
            }
            (Some(Value::Object(o)), Edit::Replace(new)) => {
                o.insert(last, new.clone());
            }
            (Some(Value::Array(a)), edit) => {
                let i: usize = last.parse().expect("an array index");
                match edit {
                    Edit::Replace(new) => a[i] = new.clone(),
                    Edit::Remove => {
                        a.remove(i);
                    }
                    _ => {
                        let dup = a[i].clone();
                        a.push(dup);
                    }
                }
            }
            _ => {}
        }
    }
    v
}

/// Byte-level damage of a serialized document (for the raw parsers).
#[derive(Clone, Debug)]
pub enum ByteEdit {
    Truncate(Index),
    Set(Index, u8),
    Insert(Index, u8),
}

fn byte_edits() -> impl Strategy<Value = Vec<ByteEdit>> {
    let e = prop_oneof![
        any::<Index>().prop_map(ByteEdit::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Set(i, b)),
        (any::<Index>(), select(b"{}[]\",:0-\\e".to_vec()))
            .prop_map(|(i, b)| ByteEdit::Insert(i, b)),
    ];
    prop::collection::vec(e, 1..=3)
}

fn damage(bytes: &[u8], edits: &[ByteEdit]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for e in edits {
        if b.is_empty() {
            break;
        }
        match *e {
            ByteEdit::Truncate(i) => b.truncate(i.index(b.len())),
            ByteEdit::Set(i, x) => {
                let i = i.index(b.len());
                b[i] = x;
            }
            ByteEdit::Insert(i, x) => b.insert(i.index(b.len()), x),
        }
    }
    b
}

/// Bytes fed to a parser; shown as text in a failure.
#[derive(Clone)]
pub struct Bytes(pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// A mutated document; shown as JSON in a failure.
#[derive(Clone)]
pub struct Json(pub Value);

impl std::fmt::Debug for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `doc` with 1 to 3 edits.
pub fn mutated(doc: Value) -> impl Strategy<Value = Json> {
    mutations().prop_map(move |ms| Json(apply(&doc, &ms)))
}

/// `doc` mutated, or its bytes damaged: what a property test of a parser feeds it.
pub fn damaged_bytes(doc: Value) -> impl Strategy<Value = Bytes> {
    let text = serde_json::to_vec(&doc).expect("a JSON value serializes");
    prop_oneof![
        mutated(doc).prop_map(|j| Bytes(serde_json::to_vec(&j.0).unwrap())),
        byte_edits().prop_map(move |es| Bytes(damage(&text, &es))),
    ]
}

/// Run `test` on `cases` inputs of `s` (after the failures kept for `source_file`, the
/// caller's `file!()`); a failure (a panic included) is shrunk, kept, and reported with its
/// minimal input.
pub fn check<S: Strategy>(
    source_file: &'static str,
    cases: u32,
    s: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
    // proptest-regressions/src/config/mod.txt for src/config/mod.rs: relative to the package
    // root, where cargo runs tests (proptest's own layout does not cover tests/).
    let stem = source_file.strip_suffix(".rs").unwrap_or(source_file);
    let regressions = Box::leak(format!("proptest-regressions/{stem}.txt").into_boxed_str());
    let mut runner = TestRunner::new(Config {
        cases,
        source_file: Some(source_file),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        // Bounded: a shrink step may run a container (tests/mutated_configs.rs).
        max_shrink_iters: 500,
        ..Config::default()
    });
    if let Err(e) = runner.run(&s, test) {
        panic!("{e}");
    }
}
