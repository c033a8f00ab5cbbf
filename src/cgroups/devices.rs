//! Device access rules: the OCI list (plus runc's always-allowed defaults) folded into the
//! state the v1 kernel keeps (a default policy and a list of exceptions), so that v1 can skip
//! an unchanged rewrite and v2 can compile the exact same policy to BPF.

use super::write::Write;
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// Access bits, as in the BPF device context (BPF_DEVCG_ACC_*).
pub const MKNOD: u8 = 1;
pub const READ: u8 = 2;
pub const WRITE: u8 = 4;
const ALL: u8 = MKNOD | READ | WRITE;

/// One rule, normalised: `typ` is 'a', 'b' or 'c'; None numbers are wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub typ: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Rule {
    /// The line devices.allow / devices.deny take: "c 1:3 rwm".
    pub fn v1_line(&self) -> String {
        format!(
            "{} {}:{} {}",
            self.typ,
            num(self.major),
            num(self.minor),
            access_str(self.access)
        )
    }
}

fn num(n: Option<u32>) -> String {
    n.map_or("*".into(), |n| n.to_string())
}

pub fn access_str(a: u8) -> String {
    [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
        .iter()
        .filter(|(b, _)| a & b != 0)
        .map(|(_, c)| *c)
        .collect()
}

fn parse_access(s: &str) -> Option<u8> {
    let mut a = 0;
    for c in s.chars() {
        a |= match c {
            'r' => READ,
            'w' => WRITE,
            'm' => MKNOD,
            _ => return None,
        };
    }
    Some(a)
}

fn dev_num(n: Option<i64>, what: &str, field: &str) -> Result<Option<u32>> {
    match n {
        None => Ok(None),
        Some(n) if n < 0 => Ok(None),
        // Real device numbers are 12 and 20 bits; i32 keeps BPF immediates exact.
        Some(n) if n <= i64::from(i32::MAX) => Ok(Some(n as u32)),
        Some(n) => bail!("{field}.{what} {n}: out of range"),
    }
}

/// OCI rule → `Rule`; None for fifo rules, which the device cgroup does not govern.
pub fn from_oci(d: &LinuxDeviceCgroup, field: &str) -> Result<Option<Rule>> {
    let typ = match d.typ() {
        None | Some(LinuxDeviceType::A) => 'a',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::P) => return Ok(None),
    };
    let access = match d.access().as_deref() {
        None | Some("") => ALL,
        Some(s) => match parse_access(s) {
            Some(a) => a,
            None => bail!("{field}.access {s:?}: not a combination of r, w, m"),
        },
    };
    Ok(Some(Rule {
        allow: d.allow(),
        typ,
        major: dev_num(d.major(), "major", field)?,
        minor: dev_num(d.minor(), "minor", field)?,
        access,
    }))
}

/// Devices every container may use whatever its config says (runc's list): mknod of any
/// device node, the standard character devices and the pty multiplexer and slaves.
pub fn default_rules() -> Vec<Rule> {
    let c = |major, minor: Option<u32>, access| Rule {
        allow: true,
        typ: 'c',
        major,
        minor,
        access,
    };
    let mut v = vec![
        c(None, None, MKNOD),
        Rule {
            typ: 'b',
            ..c(None, None, MKNOD)
        },
    ];
    for (major, minor) in [(1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9), (5, 2)] {
        v.push(c(Some(major), Some(minor), ALL));
    }
    v.push(c(Some(136), None, ALL));
    v
}

/// The full rule list: a deny-all first (as runc), the config's rules in order, then the defaults.
pub fn rules(oci: &[LinuxDeviceCgroup]) -> Result<Vec<(String, Rule)>> {
    let mut out = vec![(
        "linux.resources.devices (initial deny-all)".to_string(),
        Rule {
            allow: false,
            typ: 'a',
            major: None,
            minor: None,
            access: ALL,
        },
    )];
    for (i, d) in oci.iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        if let Some(r) = from_oci(d, &field)? {
            out.push((field, r));
        }
    }
    for r in default_rules() {
        out.push(("linux.resources.devices (runtime default)".to_string(), r));
    }
    Ok(out)
}

/// The v1 kernel's model of a device cgroup: a default and exceptions to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub default_allow: bool,
    /// Type 'b'/'c' entries; `allow` is unused (the meaning is "not the default").
    pub exceptions: Vec<Rule>,
}

impl State {
    /// Fold rules as the kernel does: "a" resets; a rule agreeing with the default removes
    /// access from the exactly matching exception; otherwise it adds (merging) one.
    pub fn from_rules<'a>(rules: impl IntoIterator<Item = &'a Rule>) -> State {
        let mut s = State::default();
        for r in rules {
            s.apply(r);
        }
        s
    }

    fn apply(&mut self, r: &Rule) {
        if r.typ == 'a' {
            self.default_allow = r.allow;
            self.exceptions.clear();
            return;
        }
        let same = |e: &Rule| e.typ == r.typ && e.major == r.major && e.minor == r.minor;
        if r.allow == self.default_allow {
            for e in self.exceptions.iter_mut().filter(|e| same(e)) {
                e.access &= !r.access;
            }
            self.exceptions.retain(|e| e.access != 0);
        } else if let Some(e) = self.exceptions.iter_mut().find(|e| same(e)) {
            e.access |= r.access;
        } else {
            self.exceptions.push(Rule {
                allow: !self.default_allow,
                ..*r
            });
        }
    }

    /// The kernel's check: under default-deny an exception must grant every requested bit;
    /// under default-allow any overlap with an exception denies. The model BPF is tested against.
    #[cfg(test)]
    pub fn permits(&self, typ: char, major: u32, minor: u32, access: u8) -> bool {
        let hits = self.exceptions.iter().filter(|e| {
            e.typ == typ && e.major.is_none_or(|m| m == major) && e.minor.is_none_or(|m| m == minor)
        });
        if self.default_allow {
            !hits.into_iter().any(|e| e.access & access != 0)
        } else {
            hits.into_iter().any(|e| access & !e.access == 0)
        }
    }

    /// devices.list as the kernel prints it; under default-allow only "a *:* rwm" is shown.
    pub fn parse_list(text: &str) -> Option<State> {
        let mut s = State::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut it = line.split_whitespace();
            let (t, nums, acc) = (it.next()?, it.next()?, it.next()?);
            let (ma, mi) = nums.split_once(':')?;
            let p = |x: &str| -> Option<Option<u32>> {
                if x == "*" {
                    Some(None)
                } else {
                    x.parse().ok().map(Some)
                }
            };
            let r = Rule {
                allow: true,
                typ: t.chars().next()?,
                major: p(ma)?,
                minor: p(mi)?,
                access: parse_access(acc)?,
            };
            if r.typ == 'a' {
                s.default_allow = true;
            } else {
                s.exceptions.push(r);
            }
        }
        Some(s)
    }

    /// Same default-deny policy (order of exceptions does not matter).
    pub fn same_deny_policy(&self, other: &State) -> bool {
        let key = |s: &State| {
            let mut v: Vec<(char, Option<u32>, Option<u32>, u8)> = s
                .exceptions
                .iter()
                .map(|e| (e.typ, e.major, e.minor, e.access))
                .collect();
            v.sort();
            v
        };
        !self.default_allow && !other.default_allow && key(self) == key(other)
    }
}

/// v1 writes for `rules`, or none when devices.list already shows the same default-deny
/// policy (rewriting would briefly deny running processes, and fails once the container
/// has sub-cgroups).
pub fn v1_writes(rules: &[(String, Rule)], current_list: Option<&str>) -> Vec<Write> {
    let target = State::from_rules(rules.iter().map(|(_, r)| r));
    if let Some(cur) = current_list.and_then(State::parse_list) {
        if cur.same_deny_policy(&target) {
            return Vec::new();
        }
    }
    rules
        .iter()
        .map(|(field, r)| {
            let file = if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            Write::new(field, r.v1_line(), file, r.v1_line())
        })
        .collect()
}
