//! The JSON path of a parse error ("mounts[3].type", "linux.resources.memory.limit"), found
//! from where serde_json stopped: its errors carry a line and column, and this walks the text
//! up to there. Only on errors: a parse that succeeds pays nothing for it. It replaced
//! serde_path_to_error, whose tracking wrapper ran on every parse and compiled the large
//! oci-spec deserializers a second time (108 KB of the binary, issue 25).
//!
//! Where serde_json stops: right after a bad scalar; before a container of the wrong type;
//! after the closing `}` of an object that misses a field; and, for an error a field's own
//! deserializer raises after reading it (an unknown capability, a bad cpu list), after that
//! value and the `,` that follows it in an array, or after its container's closing bracket
//! when it was the last member. `path_at` undoes the last two, and tells a container that
//! is the wrong type (serde_json stops before it) from the value before it.

use std::ops::Range;

/// A parse error and the path of the value it is about (`.` for the document itself).
#[derive(Debug)]
pub struct JsonError {
    path: String,
    inner: serde_json::Error,
}

impl JsonError {
    pub(crate) fn new(text: &[u8], inner: serde_json::Error) -> Self {
        let path = match inner.line() {
            0 => ".".to_string(),
            line => {
                let msg = inner.to_string();
                let mut offset = offset_of(text, line, inner.column());
                // Reported at the character it peeked, which it did not read.
                if msg.starts_with("trailing characters") {
                    offset = offset.saturating_sub(1);
                }
                path_at(text, offset, about(&msg, &text[..offset], &text[offset..]))
            }
        };
        JsonError { path, inner }
    }

    /// Segments joined by `.`, indices as `[3]`; `.` for the whole document.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn inner(&self) -> &serde_json::Error {
        &self.inner
    }
}

/// serde_json's position (line from 1, column = bytes since that line's start) as an offset.
fn offset_of(text: &[u8], line: usize, column: usize) -> usize {
    let start = match line {
        1 => 0,
        _ => text
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(text.len(), |(i, _)| i + 1),
    };
    (start + column).min(text.len())
}

enum Seg {
    /// The key's bytes in the text, quotes included.
    Key(Range<usize>),
    Index(usize),
}

struct Frame {
    array: bool,
    /// The member being read or last read: a key, or the index of a value that has begun.
    member: Option<Seg>,
    /// Array: a `,` was read and the next value has not begun (the index still names the
    /// value before it).
    after_comma: bool,
}

/// What an error is about, from its message and the text after where it stopped.
#[derive(PartialEq)]
enum About {
    /// The object or array that closed just before (a missing field), or the one still open
    /// (a value too many in an array read as a struct).
    Container,
    /// The container that begins at the offset (a map where a string belongs).
    Ahead,
    /// The value before the offset.
    Before,
}

fn about(msg: &str, before: &[u8], rest: &[u8]) -> About {
    let ahead = rest.iter().find(|b| !b.is_ascii_whitespace());
    let whole = [
        "missing field",
        "duplicate field",
        "invalid length",
        "trailing characters",
    ];
    // A unit variant written as a map (`{"pid": null, …}`): serde_json stops after the null
    // and before the `,` of a member too many, an error about the whole map. ("expected
    // value" elsewhere is a value it could not start, after its first character: the path
    // is that value's.)
    let unit_variant = msg.starts_with("expected value")
        && ahead == Some(&b',')
        && before.trim_ascii_end().ends_with(b"null");
    if unit_variant || whole.iter().any(|w| msg.starts_with(w)) {
        About::Container
    } else if msg.starts_with("invalid type") && matches!(ahead, Some(b'{' | b'[')) {
        About::Ahead
    } else {
        About::Before
    }
}

/// The last significant token before the offset.
#[derive(PartialEq)]
enum Last {
    Comma,
    /// A container closed; its frame is kept to name its last member.
    Close,
    /// An object's key, its `:` not read yet.
    Key,
    Other,
}

/// The path of the value an error at `offset` is about (see the module comment).
fn path_at(text: &[u8], offset: usize, about: About) -> String {
    let text_to = &text[..offset];
    let mut stack: Vec<Frame> = Vec::new();
    let (mut want_key, mut last, mut closed) = (false, Last::Other, None::<Frame>);
    let mut i = 0;
    while i < text_to.len() {
        let b = text_to[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if !matches!(b, b'}' | b']' | b',' | b':') {
            value_begins(&mut stack, want_key);
        }
        last = Last::Other;
        match b {
            b'{' | b'[' => {
                stack.push(Frame {
                    array: b == b'[',
                    member: None,
                    after_comma: false,
                });
                want_key = b == b'{';
            }
            b'}' | b']' => {
                closed = stack.pop();
                last = Last::Close;
                want_key = false;
            }
            b',' => {
                last = Last::Comma;
                match stack.last_mut() {
                    Some(f) if f.array => f.after_comma = true,
                    Some(_) => want_key = true,
                    None => {}
                }
            }
            b':' => want_key = false,
            b'"' => {
                let end = string_end(text_to, i);
                if want_key {
                    if let Some(f) = stack.last_mut() {
                        f.member = Some(Seg::Key(i..end));
                        last = Last::Key;
                    }
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    // An error raised after a value's last member, or after the `,` behind an array element,
    // is about that member (see the module comment).
    match about {
        // Stopped right after a key: the key is not a field but the object's own content (the
        // variant of an enum written as a map, a duplicate field).
        _ if last == Last::Key => {
            if let Some(f) = stack.last_mut() {
                f.member = None;
            }
        }
        About::Ahead => value_begins(&mut stack, want_key),
        About::Container if last != Last::Close => {
            if let Some(f) = stack.last_mut() {
                f.member = None;
            }
        }
        About::Before if last == Last::Close => {
            if let Some(f) = closed.filter(|f| f.member.is_some()) {
                stack.push(f);
            }
        }
        _ => {}
    }
    render(text, &stack)
}

/// A value (not a key) begins: an array's next index, counted from its `,`.
fn value_begins(stack: &mut [Frame], want_key: bool) {
    let Some(f) = stack.last_mut() else { return };
    if !f.array || want_key {
        return;
    }
    f.member = Some(match (&f.member, f.after_comma) {
        (Some(Seg::Index(n)), true) => Seg::Index(n + 1),
        (Some(Seg::Index(n)), false) => Seg::Index(*n),
        _ => Seg::Index(0),
    });
    f.after_comma = false;
}

/// The offset just past the string that opens at `start` (or the end of `text` if it is cut).
fn string_end(text: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

fn render(text: &[u8], stack: &[Frame]) -> String {
    let mut out = String::new();
    for seg in stack.iter().filter_map(|f| f.member.as_ref()) {
        match seg {
            Seg::Index(n) => out.push_str(&format!("[{n}]")),
            Seg::Key(r) => {
                if !out.is_empty() {
                    out.push('.');
                }
                // A complete key decodes (escapes and all); a cut one is shown as it is.
                match serde_json::from_slice::<String>(&text[r.clone()]) {
                    Ok(k) => out.push_str(&k),
                    Err(_) => out.push('?'),
                }
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
        let e = crate::config::from_json::<T>(text.as_bytes()).unwrap_err();
        e.path().to_string()
    }

    #[test]
    fn names_the_value_serde_json_stopped_at() {
        use oci_spec::runtime::Spec;
        let cases = [
            // A bad scalar, before and after other members.
            (
                r#"{"process": {"user": {"uid": "x", "gid": 0}}}"#,
                "process.user.uid",
            ),
            (
                r#"{"process": {"user": {"gid": 0, "uid": -1}}}"#,
                "process.user.uid",
            ),
            // A container of the wrong type.
            (r#"{"process": {"args": {}}}"#, "process.args"),
            (
                r#"{"mounts": [{"destination": "/a"}, {"destination": 3}]}"#,
                "mounts[1].destination",
            ),
            // A missing field names its object.
            (
                r#"{"mounts": [{"destination": "/a"}, {"type": "x"}]}"#,
                "mounts[1]",
            ),
            (
                r#"{"ociVersion": "1.0.0", "mounts": [{"type": "bind"}, {}]}"#,
                "mounts[0]",
            ),
            // A unit variant written as a map: a value is the variant's, more members the map's.
            (
                r#"{"linux": {"namespaces": [{"type": {"pid": 1}}]}}"#,
                "linux.namespaces[0].type.pid",
            ),
            (
                r#"{"linux": {"namespaces": [[{"pid": null, "a": 1}]]}}"#,
                "linux.namespaces[0][0]",
            ),
            // Stopped after a key: an enum written as a map.
            (
                r#"{"linux": {"namespaces": [{"type": {"bogus": 1}}]}}"#,
                "linux.namespaces[0].type",
            ),
            // A field's own deserializer: in an array, last or not, and as an object's last member.
            (
                r#"{"process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "capabilities": {"bounding": ["CAP_CHOWN", "CAP_NOPE", "CAP_KILL"]}}}"#,
                "process.capabilities.bounding[1]",
            ),
            (
                r#"{"process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "capabilities": {"bounding": ["CAP_CHOWN", "CAP_NOPE"]}}}"#,
                "process.capabilities.bounding[1]",
            ),
            (
                r#"{"process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "execCPUAffinity": {"initial": "0-x"}}}"#,
                "process.execCPUAffinity.initial",
            ),
            (
                r#"{"process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "execCPUAffinity": {"initial": "0-x", "final": "1"}}}"#,
                "process.execCPUAffinity.initial",
            ),
            // Map keys, escaped ones decoded; strings holding brackets and quotes.
            (
                r#"{"annotations": {"a\"]}": "b", "c\nd": 1}}"#,
                "annotations.c\nd",
            ),
            (
                r#"{"ociVersion": "1", "x": "[{,", "linux": {"sysctl": {"k": []}}}"#,
                "linux.sysctl.k",
            ),
            // The document itself.
            (r#"{"ociVersion": "1"} x"#, "."),
            (r#""x""#, "."),
        ];
        for (text, want) in cases {
            assert_eq!(path_of::<Spec>(text), want, "{text}");
        }
    }

    /// Property: on damaged configs, the path is serde_path_to_error's, which tracks the
    /// deserializer as it goes (the crate this module replaced, kept for tests only).
    #[test]
    fn paths_are_those_a_tracking_deserializer_names() {
        use crate::mutate::{check, damaged_bytes};
        use oci_spec::runtime::Spec;
        let compared = std::cell::Cell::new(0);
        // A difference fails the case: proptest shrinks it and keeps its seed in
        // proptest-regressions/src/config/json_path.txt.
        check(
            file!(),
            4000,
            damaged_bytes(crate::config::tests::rich_config()),
            |text| {
                // Syntax errors (damaged bytes) are not compared: serde_path_to_error names a
                // cut key `?`, as this module does, but otherwise differs on where a broken
                // text is.
                if serde_json::from_slice::<serde_json::Value>(&text.0).is_err() {
                    return Ok(());
                }
                let de = &mut serde_json::Deserializer::from_slice(&text.0);
                let tracked = serde_path_to_error::deserialize::<_, Spec>(&mut *de)
                    .map_err(|e| e.path().to_string())
                    .and_then(|_| de.end().map_err(|_| ".".to_string()));
                let ours = crate::config::from_json::<Spec>(&text.0);
                compared.set(compared.get() + tracked.is_err() as u32);
                proptest::prop_assert_eq!(
                    tracked.err(),
                    ours.as_ref().err().map(|e| e.path().to_string()),
                    "{:?}",
                    ours.err().map(|e| e.inner().to_string())
                );
                Ok(())
            },
        );
        println!("{} errors in valid JSON compared", compared.get());
        assert!(
            compared.get() > 400,
            "too few data errors: {}",
            compared.get()
        );
    }

    #[test]
    fn positions_become_offsets() {
        let t = b"ab\ncd\n\nef";
        assert_eq!(offset_of(t, 1, 1), 1);
        assert_eq!(offset_of(t, 2, 0), 3);
        assert_eq!(offset_of(t, 4, 2), 9);
        assert_eq!(offset_of(t, 9, 0), t.len());
    }
}
