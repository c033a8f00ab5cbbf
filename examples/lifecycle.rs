//! A container's whole life through the carrack library (README, "As a library"):
//! `cargo run --example lifecycle -- STATE_ROOT BUNDLE ID` (as root; tests/library.rs runs it).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // First thing: re-executes this program once from a read-only mount (CVE-2019-5736).
    carrack::protect_executable()?;
    let [root, bundle, id]: [String; 3] = std::env::args()
        .skip(1)
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| "usage: lifecycle STATE_ROOT BUNDLE ID")?;
    let (root, opts) = (
        std::path::Path::new(&root),
        carrack::CreateOptions {
            bundle: bundle.into(),
            ..Default::default()
        },
    );
    let pid = carrack::create(root, &id, &opts)?; // init is a clone of this process: our child
    carrack::start(root, &id)?;
    let exit = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None)?;
    println!(
        "{exit:?}; the container is {:?}",
        carrack::state(root, &id)?.status
    );
    carrack::delete(root, &id, false)?;
    Ok(())
}
