//! Kinds of error that carrack::Error (lib.rs) keeps at the library's boundary: values in an
//! anyhow chain, found there by downcasting. Their texts are plain descriptions; the carrack
//! binary prints runc's words for the kinds (src/commands/errors.rs).

/// A container that is not there, or already is, or whose init is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    NotFound,
    Exists(String),
    /// Init exited while we were acting on it (the status said it ran): the boundary reports
    /// the container as stopped.
    NotRunning,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::NotFound => write!(f, "no container has this id"),
            Kind::Exists(id) => write!(f, "the id {id} is taken by another container"),
            Kind::NotRunning => write!(f, "the container's init has exited"),
        }
    }
}

impl std::error::Error for Kind {}

/// An error of config.json (config/ names the field's JSON path first), marked for the
/// boundary: its text and chain are the marked error's own, so `{:#}` prints it unchanged.
#[derive(Debug)]
pub struct BadConfig(anyhow::Error);

impl BadConfig {
    pub fn mark(e: anyhow::Error) -> anyhow::Error {
        anyhow::Error::new(BadConfig(e))
    }
}

impl std::fmt::Display for BadConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The outermost message only: the rest of the chain follows as the source.
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for BadConfig {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_marked_config_error_prints_as_before() {
        let e = Err::<(), _>(std::io::Error::from_raw_os_error(libc::ENOENT))
            .context("open /b/config.json")
            .context("config.json")
            .unwrap_err();
        let before = format!("{e:#}");
        let marked = BadConfig::mark(e);
        assert_eq!(format!("{marked:#}"), before);
        assert!(marked.chain().any(|c| c.is::<BadConfig>()));
        assert!(marked.chain().any(|c| c.is::<std::io::Error>()));
    }
}
