//! Random mutations of JSON documents, for the property tests of config and state parsing
//! (tests only). A seeded xorshift generator keeps every failure reproducible: the failing
//! seed is in the panic message.

use serde_json::{json, Value};

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A value of a random kind, sometimes hostile (NUL, huge, negative, deep).
fn random_value(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth > 2 { 9 } else { 11 }) {
        0 => Value::Null,
        1 => json!(r.below(2) == 1),
        2 => json!(r.next() as i64),
        3 => json!(-(r.below(1000) as i64)),
        4 => json!(u64::MAX),
        5 => json!(""),
        6 => json!("a\0b"),
        7 => json!(["/", "..", "/proc/self/fd/3", &"x".repeat(r.below(300))][r.below(4)]),
        8 => json!(1.5e300),
        9 => Value::Array(
            (0..r.below(4))
                .map(|_| random_value(r, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = serde_json::Map::new();
            for k in ["type", "path", "options", "a"] {
                if r.below(2) == 1 {
                    m.insert(k.into(), random_value(r, depth + 1));
                }
            }
            Value::Object(m)
        }
    }
}

/// All JSON pointers of `v` (objects and arrays included).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(
                    c,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
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

/// 1 to 3 mutations: replace a node, delete it, or duplicate an array element.
pub fn mutate(doc: &Value, r: &mut Rng) -> Value {
    let mut v = doc.clone();
    for _ in 0..1 + r.below(3) {
        let mut ps = Vec::new();
        pointers(&v, String::new(), &mut ps);
        let p = ps[r.below(ps.len())].clone();
        let (parent, last) = match p.rfind('/') {
            Some(i) => (
                p[..i].to_string(),
                p[i + 1..].replace("~1", "/").replace("~0", "~"),
            ),
            None => continue,
        };
        let op = r.below(3);
        let new = random_value(r, 0);
        match v.pointer_mut(&parent) {
            Some(Value::Object(m)) => {
                if op == 1 {
                    m.remove(&last);
                } else {
                    m.insert(last, new);
                }
            }
            Some(Value::Array(a)) => {
                let i: usize = last.parse().unwrap_or(0).min(a.len().saturating_sub(1));
                if a.is_empty() {
                    continue;
                }
                match op {
                    0 => a[i] = new,
                    1 => {
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

/// Byte-level damage: truncation or a flipped byte (for the raw parsers).
pub fn damage(bytes: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if b.is_empty() {
        return b;
    }
    if r.below(2) == 0 {
        b.truncate(r.below(b.len()));
    } else {
        let i = r.below(b.len());
        b[i] = r.next() as u8;
    }
    b
}
