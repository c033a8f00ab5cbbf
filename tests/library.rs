//! carrack as a library: examples/lifecycle.rs creates, starts, waits for and deletes a busybox
//! container through the API (no carrack binary involved) and leaves nothing behind.

mod common;
use common::*;

#[test]
fn the_lifecycle_example_runs_a_container_and_leaves_nothing() {
    if can_run().is_none() {
        return;
    }
    let b = Bundle::new(&["echo", "hello from a library container"]);
    let id = b.id("library");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "lifecycle", "--"])
        .arg(&b.root)
        .arg(b.bundle())
        .arg(&id)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("hello from a library container"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Exited(Pid(") && stdout.contains(", 0); the container is Stopped"),
        "{stdout}"
    );
    assert_nothing_left(&b, &id, &id, "library lifecycle");
}

#[test]
fn library_errors_keep_their_kind() {
    let root = std::env::temp_dir().join(format!("carrack-test-liberr-{}", std::process::id()));
    let e = carrack::state(&root, "no-such").unwrap_err();
    assert!(
        matches!(&e, carrack::Error::NotFound { id } if id == "no-such"),
        "{e:?}"
    );
    let e = carrack::start(&root, "../x").unwrap_err();
    assert!(matches!(e, carrack::Error::InvalidId(_)), "{e:?}");
    let bundle = root.join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
    std::fs::write(bundle.join("config.json"), r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"cwd": "relative", "args": ["sh"], "user": {"uid": 0, "gid": 0}}}"#).unwrap();
    let opts = carrack::CreateOptions {
        bundle: bundle.clone(),
        ..Default::default()
    };
    let e = carrack::create(&root.join("state"), "x", &opts).unwrap_err();
    let _ = std::fs::remove_dir_all(&root);
    match e {
        carrack::Error::BadConfig { field, .. } => assert_eq!(field, "process.cwd"),
        other => panic!("{other:?}"),
    }
}
