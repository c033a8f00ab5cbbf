//! oci-spec needs `regex` for one pattern: the format check of process.execCPUAffinity,
//! `^(\d+(-\d+)?)(,\d+(-\d+)?)*$`. The full crate adds about 600 KiB to carrack (Unicode
//! tables, a lazy DFA and literal optimisations, all unused). regex-lite, by the same
//! authors, has the same syntax and API for such a pattern in a fraction of the size, so the
//! workspace patches `regex` to this crate (Cargo.toml, [patch.crates-io]).
pub use regex_lite::*;
