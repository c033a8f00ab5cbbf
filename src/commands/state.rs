use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, id: &str) -> Result<()> {
    let s = carrack::state(root, id)?;
    println!("{}", serde_json::to_string_pretty(&state_json(&s))?);
    Ok(())
}

/// The state object runc prints (runtime-spec's, plus runc's rootfs, created and owner), its
/// keys in runc's order (serde_json keeps insertion order).
pub fn state_json(s: &carrack::ContainerState) -> serde_json::Value {
    let mut v = serde_json::json!({
        "ociVersion": carrack::OCI_VERSION,
        "id": s.id,
        "pid": s.pid,
        "status": s.status.as_str(),
        "bundle": s.bundle,
        "rootfs": s.rootfs,
        "created": s.created,
    });
    if !s.annotations.is_empty() {
        v["annotations"] = serde_json::json!(s.annotations);
    }
    v["owner"] = s.owner.clone().into();
    v
}

#[cfg(test)]
mod tests {
    /// The same object the library gives hooks on stdin (state::state_json).
    #[test]
    fn state_json_is_the_librarys() {
        let dir = tempfile::tempdir().unwrap();
        let store = carrack::state::Store::new(dir.path()).unwrap();
        for status in [carrack::Status::Running, carrack::Status::Stopped] {
            let id = format!("c-{}", status.as_str());
            let s = carrack::state::State {
                id: id.clone(),
                bundle: "/b".into(),
                rootfs: "/b/rootfs".into(),
                pid: 7,
                pid_start: 1,
                created: "2024-01-01T00:00:00Z".into(),
                owner: String::new(),
                phase: carrack::state::Phase::Created,
                annotations: [("k".to_string(), "v".to_string())].into(),
                cgroup: Default::default(),
                no_new_keyring: false,
            };
            let want = carrack::state::state_json(&s, status);
            drop(store.create(s).unwrap());
            let mut got = carrack::state(dir.path(), &id).unwrap();
            // The status is derived from init (pid 7 here is not ours): set as wanted.
            got.status = status;
            got.pid = if status == carrack::Status::Stopped {
                0
            } else {
                7
            };
            assert_eq!(
                serde_json::to_string(&super::state_json(&got)).unwrap(),
                serde_json::to_string(&want).unwrap()
            );
        }
    }
}
