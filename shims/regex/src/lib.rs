//! oci-spec needs `regex` for one pattern: the format check of process.execCPUAffinity,
//! `^(\d+(-\d+)?)(,\d+(-\d+)?)*$` (its `distribution` module, which carrack does not build,
//! has the others). The full crate adds about 600 KiB to carrack (Unicode tables, a lazy DFA
//! and literal optimisations, all unused), and even regex-lite about 22 KiB, for a pattern
//! that a dozen lines match. So the workspace patches `regex` to this crate (Cargo.toml,
//! [patch.crates-io]): `Regex::new` knows that one pattern and refuses any other (oci-spec
//! would panic at its first use: a new pattern in a new oci-spec shows up in the tests), and
//! the tests below check the matcher against regex-lite.

use std::fmt;

/// The execCPUAffinity pattern, as oci-spec spells it.
const CPU_LIST: &str = r"^(\d+(-\d+)?)(,\d+(-\d+)?)*$";

/// A compiled pattern: only `CPU_LIST` exists.
#[derive(Debug, Clone)]
pub struct Regex(());

/// A pattern this stand-in does not implement.
#[derive(Debug, Clone)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "carrack's regex stand-in has no pattern {:?}", self.0)
    }
}

impl std::error::Error for Error {}

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, Error> {
        match pattern {
            CPU_LIST => Ok(Regex(())),
            other => Err(Error(other.to_string())),
        }
    }

    /// `N` or `N-M` items (ASCII digits, as regex-lite's `\d`), comma-separated, nothing else.
    pub fn is_match(&self, haystack: &str) -> bool {
        let item = |s: &str| {
            let mut parts = s.splitn(2, '-');
            let digits = |p: Option<&str>| {
                p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            };
            let first = parts.next();
            match parts.next() {
                None => digits(first),
                second => digits(first) && digits(second),
            }
        };
        haystack.split(',').all(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of up to 6 characters over an alphabet that exercises each part of the
    /// pattern matches exactly as regex-lite matches it.
    #[test]
    fn matches_as_regex_lite_does() {
        let ours = Regex::new(CPU_LIST).unwrap();
        let lite = regex_lite::Regex::new(CPU_LIST).unwrap();
        let alphabet = ['0', '7', '-', ',', 'a', '\n', ' ', '٣'];
        let mut strings = vec![String::new()];
        let mut checked = 0;
        for _ in 0..6 {
            let mut next = Vec::new();
            for s in &strings {
                for c in alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    next.push(t);
                }
            }
            for s in &next {
                assert_eq!(ours.is_match(s), lite.is_match(s), "{s:?}");
                checked += 1;
            }
            strings = next;
        }
        assert!(!ours.is_match(""));
        assert!(ours.is_match("0-3,7,10-12"));
        assert_eq!(checked, 299_592); // 8 + 8² + … + 8⁶
    }

    #[test]
    fn other_patterns_are_refused() {
        assert!(Regex::new(r"^\d+$").is_err());
    }
}
