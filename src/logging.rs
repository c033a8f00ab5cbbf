//! The `--log` file. Engines parse it: containerd reads the last `{"level":"error",...}` line and
//! podman parses the whole file as one JSON object on failure, so an error is written exactly once,
//! by `main`, and nothing else writes error lines.

use crate::cli::{Global, LogFormat};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Sink {
    path: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

pub fn init(global: &Global) {
    let _ = SINK.set(Sink {
        path: global.log.clone(),
        format: global.log_format,
        debug: global.debug,
    });
}

/// Report the one error of this command: a human line on stderr and one line in the log file.
pub fn error(msg: &str) {
    eprintln!("carrack: {msg}");
    write_line("error", msg);
}

/// Warnings go to the log only: in init, stderr already belongs to the container.
pub fn warn(msg: &str) {
    write_line("warning", msg);
}

pub fn debug(msg: &str) {
    if SINK.get().is_some_and(|s| s.debug) {
        write_line("debug", msg);
    }
}

fn write_line(level: &str, msg: &str) {
    let Some(sink) = SINK.get() else { return };
    let Some(path) = &sink.path else { return };
    let time = rfc3339(SystemTime::now());
    let line = match sink.format {
        LogFormat::Json => {
            let v = serde_json::json!({"level": level, "msg": msg, "time": time});
            format!("{v}\n")
        }
        LogFormat::Text => format!("time=\"{time}\" level={level} msg={msg:?}\n"),
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// RFC 3339 in UTC with nanoseconds, the shape Go's time.RFC3339Nano gives (runc's `created`).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, day) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.12Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
