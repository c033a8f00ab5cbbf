//! Reproducers for every class of container escape runc has had, one module per CVE under
//! tests/security/. Each test plays the attacker (the image, a container process, or a racing
//! second container played by the host) and asserts that the host-side effect did not happen.
//! SECURITY.md says what each one proves and which code defends it.
//!
//! Run as root: `cargo test --test security`.

mod common;

#[path = "security/util.rs"]
mod util;

#[path = "security/cve_2019_5736.rs"]
mod cve_2019_5736;
#[path = "security/cve_2021_30465.rs"]
mod cve_2021_30465;
#[path = "security/cve_2024_21626.rs"]
mod cve_2024_21626;
#[path = "security/cve_2025_31133.rs"]
mod cve_2025_31133;
#[path = "security/cve_2025_52565.rs"]
mod cve_2025_52565;
#[path = "security/cve_2025_52881.rs"]
mod cve_2025_52881;
