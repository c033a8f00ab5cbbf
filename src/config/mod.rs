//! The bundle: config.json parsed with oci-spec, validated before anything touches the system.
//! Every error names the JSON field: `process.cwd "foo": must be an absolute path`.

mod default_spec;
mod json_path;
mod validate;

pub use default_spec::default_spec;
pub use json_path::JsonError;
pub use oci_spec::runtime::Spec;
pub use validate::{check_process_scheduling, validate};

use anyhow::{bail, Context, Result};

/// The runtime-spec version carrack implements (state, features, spec).
pub const OCI_VERSION: &str = "1.3.0";
use std::path::{Path, PathBuf};

/// Read `<bundle>/config.json`; a parse error carries the JSON path of the bad field.
pub fn load(bundle: &Path) -> Result<Spec> {
    parse(&read(bundle)?)
}

/// `load`, with the file's bytes when they parsed as they are (not on `parse`'s slow path):
/// create keeps those bytes as the container's config rather than serializing the Spec
/// again (state.rs, `save_config_as`).
pub fn load_with_text(bundle: &Path) -> Result<(Spec, Option<Vec<u8>>)> {
    let text = read(bundle)?;
    match from_json::<Spec>(&text) {
        Ok(spec) if text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') => {
            Ok((spec, Some(text)))
        }
        _ => Ok((parse(&text)?, None)),
    }
}

/// config.json's bytes, at most `MAX_CONFIG`.
fn read(bundle: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let path = bundle.join("config.json");
    let f = std::fs::File::open(&path)
        .with_context(|| format!("config.json: open {}", path.display()))?;
    // Read at most one byte past the limit: a huge file is refused without being loaded.
    // Room for a typical config: one read and the EOF read, not a doubling series.
    let mut text = Vec::with_capacity(64 << 10);
    f.take(MAX_CONFIG + 1)
        .read_to_end(&mut text)
        .with_context(|| format!("config.json: read {}", path.display()))?;
    if text.len() as u64 > MAX_CONFIG {
        bail!("config.json: larger than {} MiB", MAX_CONFIG >> 20);
    }
    Ok(text)
}

/// Far above any real config (Docker's seccomp profile is 60 KiB; Kubernetes caps all
/// annotations at 256 KiB), far below what would hurt the host.
const MAX_CONFIG: u64 = 32 << 20;

/// THE way carrack reads an OCI document (a config, the saved config, a process.json, update's
/// resources): serde_json's slice reader, so the large oci-spec deserializers are compiled once,
/// for this one reader type (each other reader would duplicate them: about 1 MB of binary). An
/// error names the field (json_path.rs).
pub fn from_json<T: serde::de::DeserializeOwned>(text: &[u8]) -> std::result::Result<T, JsonError> {
    serde_json::from_slice(text).map_err(|e| JsonError::new(text, e))
}

/// A Value through `from_json` (serialized first: one deserializer instance, see above).
pub fn from_json_value<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T> {
    let text = serde_json::to_vec(v)?;
    from_json(&text).map_err(field_error)
}

/// config.json's bytes to a Spec (fuzz/ fuzzes this with `validate`).
pub fn parse(text: &[u8]) -> Result<Spec> {
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        bail!("config.json: must be a JSON object");
    }
    let spec = from_json::<Spec>(text);
    match spec {
        Ok(spec) => Ok(spec),
        // Only on the rare slow path: a config written for a newer kernel, or scheduler flags
        // spelled as the spec spells them (oci-spec 0.10 differs for two).
        Err(e)
            if e.path().starts_with("process.capabilities.")
                || e.path().starts_with("process.scheduler.flags") =>
        {
            let mut v: serde_json::Value = serde_json::from_slice(text)?;
            drop_unknown_capabilities(&mut v);
            if let Some(p) = v.get_mut("process") {
                crate::linux::scheduling::respell_flags(p);
            }
            from_json_value(&v).context("config.json")
        }
        Err(e) => Err(field_error(e).context("config.json")),
    }
}

fn field_error(e: JsonError) -> anyhow::Error {
    let msg = match e.path() {
        "." => e.inner().to_string(),
        field => format!("{field}: {}", e.inner()),
    };
    anyhow::anyhow!("{}", escape_controls(&msg))
}

/// A key or an echoed value may hold any character (a JSON "\n"): escaped, so the error
/// stays the one `carrack: …` line callers read.
pub(crate) fn escape_controls(s: &str) -> String {
    s.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// A capability this build does not know is skipped with a warning, as runc >= 1.2 does, so
/// configs written for newer kernels still run.
fn drop_unknown_capabilities(v: &mut serde_json::Value) {
    let Some(sets) = v
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    else {
        return;
    };
    for (set, names) in sets.iter_mut() {
        let Some(names) = names.as_array_mut() else {
            continue;
        };
        names.retain(|n| {
            let known = serde_json::from_value::<oci_spec::runtime::Capability>(n.clone()).is_ok();
            if !known && n.is_string() {
                crate::logging::warn(&format!(
                    "process.capabilities.{set}: unknown capability {n}, skipped"
                ));
            }
            known || !n.is_string()
        });
    }
}

/// `root.path` against the bundle (an absolute path is kept), resolved.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec.root().as_ref().context("root: required")?;
    let p = bundle.join(root.path());
    std::fs::canonicalize(&p).with_context(|| format!("root.path {}", p.display()))
}

/// runc's rule for ids: `^[\w+\-.]+$`, and not `.` or `..` (they would name the root itself).
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if !ok {
        bail!("invalid container id {id:?}: must match [A-Za-z0-9_+.-]+ and not be . or ..");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid config with most sections present (seccomp, resources, hooks, sysctl, a bind
    /// mount), so that mutations reach their parsers and checks.
    pub(crate) fn rich_config() -> serde_json::Value {
        use serde_json::json;
        let mut v = default_spec(false);
        v["process"]["oomScoreAdj"] = json!(100);
        v["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
        v["hooks"] = json!({"poststart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}]});
        v["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/mnt", "type": "bind", "source": "/tmp",
                         "options": ["rbind", "ro", "nosuid", "rprivate", "rro"]}),
        );
        let linux = &mut v["linux"];
        linux["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        linux["resources"]["memory"] = json!({"limit": 1 << 30, "swap": 2 << 30});
        linux["resources"]["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000,
                                           "cpus": "0", "mems": "0"});
        linux["resources"]["pids"] = json!({"limit": 100});
        linux["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 0}]);
        linux["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                           "op": "SCMP_CMP_MASKED_EQ"}]},
            ],
        });
        v
    }

    /// Property: whatever config.json holds, parse + validate return Ok or a one-line error;
    /// they never panic. Structural mutations of a rich valid config, and byte damage.
    #[test]
    fn random_configs_give_an_error_or_a_spec_never_a_panic() {
        use crate::mutate::{check, damaged_bytes};
        let bundle = tempfile::tempdir().unwrap();
        std::fs::create_dir(bundle.path().join("rootfs")).unwrap();
        let base = rich_config();
        let text = serde_json::to_vec(&base).unwrap();
        validate(&parse(&text).unwrap(), bundle.path()).expect("the base config is valid");
        check(file!(), 4000, damaged_bytes(base), |text| {
            if let Err(e) = parse(&text.0).and_then(|s| validate(&s, bundle.path()).map(|_| s)) {
                let msg = format!("{e:#}");
                proptest::prop_assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
            }
            Ok(())
        });
    }

    #[test]
    fn ids() {
        for good in ["a", "A-b_c.d+e", "x..y", "123"] {
            validate_id(good).unwrap();
        }
        for bad in ["", ".", "..", "../x", "a/b", "a b", "é", "a\0"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    /// Found by fuzz/ (target config, crash-056f03aa): a key with an escaped newline made a
    /// two-line error, as did a value echoed by serde ("unknown variant") or by validate (a
    /// path); they are escaped.
    #[test]
    fn control_characters_in_a_field_or_value_are_escaped_in_the_error() {
        let crash = br#"{  "[cicess\\\\\\\\\\\\\\\\\\\\\\\nn": e"#;
        let variant = br#"{"ociVersion": "1.0.0", "process": {"cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "rlimits": [{"type": "RLIMIT_\nX", "hard": 1, "soft": 1}]}}"#;
        for (text, want) in [
            (
                &crash[..],
                r#"config.json: [cicess\\\\\\\\\\\\nn: expected value"#,
            ),
            (
                &variant[..],
                r#"config.json: process.rlimits[0].type: unknown variant `RLIMIT_\nX`"#,
            ),
        ] {
            let err = format!("{:#}", parse(text).unwrap_err());
            assert!(!err.contains('\n') && err.starts_with(want), "{err}");
        }
        // Found by the config property (proptest-regressions/src/config/mod.txt): a path
        // from the config echoed by validate.
        let mut v = default_spec(false);
        v["root"]["path"] = "a\nb".into();
        let spec = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        let bundle = tempfile::tempdir().unwrap();
        let err = format!("{:#}", validate(&spec, bundle.path()).unwrap_err());
        assert!(
            !err.contains('\n') && err.contains("a\\nb: No such file"),
            "{err}"
        );
    }

    #[test]
    fn parse_errors_name_the_field() {
        let err =
            parse(br#"{"ociVersion":"1.0.0","process":{"user":{"uid":"x","gid":0},"cwd":"/"}}"#)
                .unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("process.user.uid"), "{err}");
        let err = format!("{:#}", parse(b"{").unwrap_err());
        assert!(err.starts_with("config.json: "), "{err}");
    }

    #[test]
    fn missing_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("config.json: open"), "{err:#}");
    }
}
