//! Builds the in-container checker (checker/checker.c) as a static binary. It must run in a
//! rootfs with no libc, so it is linked statically: musl-gcc when present, else gcc -static.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=checker/checker.c");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("checker");
    let mut errors = Vec::new();
    for cc in ["musl-gcc", "gcc", "cc"] {
        match Command::new(cc)
            .args(["-static", "-O2", "-Wall", "-o"])
            .arg(&out)
            .arg("checker/checker.c")
            .status()
        {
            Ok(s) if s.success() => return,
            Ok(s) => errors.push(format!("{cc}: {s}")),
            Err(e) => errors.push(format!("{cc}: {e}")),
        }
    }
    panic!(
        "cannot build the static checker ({}); install musl-tools or libc6-dev",
        errors.join("; ")
    );
}
