//! Kinds of error that carrack::Error (lib.rs) keeps at the library's boundary. Each is a
//! value in an anyhow chain whose text is the message carrack has always printed, so the
//! binary's output is unchanged and the boundary finds the kind by downcasting.

/// A container that is not there, or already is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    NotFound,
    Exists(String),
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::NotFound => write!(f, "container does not exist"),
            Kind::Exists(id) => write!(f, "container with id exists: {id}"),
        }
    }
}

impl std::error::Error for Kind {}
