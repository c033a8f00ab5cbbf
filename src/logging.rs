//! The `--log` file and stderr. Engines parse the log: containerd reads the last
//! `{"level":"error",...}` line and podman parses the whole file as one JSON object on failure
//! (it passes --debug only when debugging itself), so an error is written exactly once, by
//! `main`, and nothing else writes error lines. Warnings go to the log, or to stderr without
//! one; debug lines (--debug) likewise, as runc does.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Sink {
    path: Option<PathBuf>,
    /// --log, opened once here: init is a clone and inherits it, so its lines reach the
    /// host's file after pivot_root too (by path they would land inside the rootfs).
    /// Close-on-exec, and init marks every fd above the preserved ones so as well.
    file: Option<std::fs::File>,
    format: LogFormat,
    debug: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// The --log-format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where and how to log: the global --log, --log-format and --debug.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub log: Option<PathBuf>,
    pub format: LogFormat,
    pub debug: bool,
}

/// Once per process, before anything logs; later calls are ignored.
pub fn init(settings: Settings) {
    let file = settings.log.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let _ = SINK.set(Sink {
        path: settings.log,
        file,
        format: settings.format,
        debug: settings.debug,
    });
}

/// Report the one error of this command: a human line on stderr and one line in the log file.
/// Nothing is logged after it: containerd takes the last `"level":"error"` line.
pub fn error(msg: &str) {
    // One line whatever the message quotes (a mount type or path from the config may hold a
    // newline): engines and users take the last line.
    eprintln!("carrack: {}", msg.replace('\n', "\\n").replace('\r', "\\r"));
    if let Some(sink) = SINK.get() {
        sink.to_log("error", msg);
    }
}

/// A warning goes to the log, or to stderr without --log, as runc's logrus does. Never to both:
/// engines pass --log, and the stderr they give create, run and exec is the container's own
/// (podman's `logs` and `exec` output showed carrack's warning lines when it did both).
pub fn warn(msg: &str) {
    if let Some(sink) = SINK.get() {
        if sink.path.is_some() {
            sink.to_log("warning", msg);
        } else {
            sink.to_stderr("warning", msg);
        }
    }
}

/// With --debug: what carrack is doing, to the log, or to stderr without one (as runc does).
pub fn debug(msg: &str) {
    if let Some(sink) = SINK.get().filter(|s| s.debug) {
        if sink.path.is_some() {
            sink.to_log("debug", msg);
        } else {
            sink.to_stderr("debug", msg);
        }
    }
}

/// --debug is on: for callers that would otherwise build a message nobody reads.
pub fn debug_enabled() -> bool {
    SINK.get().is_some_and(|s| s.debug)
}

impl Sink {
    /// One line in the chosen --log-format, as runc's logrus writes them.
    fn line(&self, level: &str, msg: &str) -> String {
        let time = rfc3339(SystemTime::now());
        match self.format {
            LogFormat::Json => {
                let v = serde_json::json!({"level": level, "msg": msg, "time": time});
                format!("{v}\n")
            }
            LogFormat::Text => format!("time=\"{time}\" level={level} msg={msg:?}\n"),
        }
    }

    /// Appended with one write(2) on O_APPEND, so lines of concurrent processes (the runtime
    /// and init) never interleave and every line stays whole JSON.
    fn to_log(&self, level: &str, msg: &str) {
        if let Some(mut f) = self.file.as_ref() {
            let _ = f.write_all(self.line(level, msg).as_bytes());
        }
    }

    /// One write too: a line shorter than PIPE_BUF reaches a pipe whole.
    fn to_stderr(&self, level: &str, msg: &str) {
        let _ = std::io::stderr().write_all(self.line(level, msg).as_bytes());
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
