//! Open MPI hostfiles (`host [slots=N] [max_slots=N]`, `#` comments, blank lines): parsed and
//! checked line by line, so that a typo is refused with its file and line before any run starts.
//! Only the keys a scaling sweep needs are accepted; anything else is reported, not ignored.

use std::path::{Path, PathBuf};

/// A problem with a hostfile or with a sweep planned over it.
#[derive(Debug, thiserror::Error)]
pub enum HostfileError {
    #[error("cannot read hostfile `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: `{text}`: {message}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        text: String,
        message: String,
    },
    #[error("hostfile `{}` lists no hosts (one line per node: `host slots=N`)", path.display())]
    Empty { path: PathBuf },
}

/// One host line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub slots: Option<usize>,
    pub max_slots: Option<usize>,
    /// 1-based line number in the hostfile.
    pub line: usize,
    /// The line as written (without its comment), for error messages.
    pub text: String,
}

/// A parsed hostfile: its hosts in file order.
#[derive(Debug, Clone)]
pub struct Hostfile {
    pub path: PathBuf,
    pub hosts: Vec<Host>,
}

impl Hostfile {
    pub fn read(path: &Path) -> Result<Self, HostfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| HostfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses hostfile text; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, HostfileError> {
        let mut hosts: Vec<Host> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let host = parse_line(content, i + 1)
                .map_err(|message| Hostfile::line_error(path, i + 1, content, message))?;
            if let Some(first) = hosts.iter().find(|h| h.name == host.name) {
                return Err(Hostfile::line_error(
                    path,
                    host.line,
                    content,
                    format!(
                        "host `{}` is already listed on line {}; give each host one line",
                        host.name, first.line
                    ),
                ));
            }
            hosts.push(host);
        }
        if hosts.is_empty() {
            return Err(HostfileError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Hostfile {
            path: path.to_path_buf(),
            hosts,
        })
    }

    /// An error about `host`'s line.
    pub fn host_error(&self, host: &Host, message: impl Into<String>) -> HostfileError {
        Hostfile::line_error(&self.path, host.line, &host.text, message.into())
    }

    fn line_error(path: &Path, line: usize, text: &str, message: String) -> HostfileError {
        HostfileError::Line {
            path: path.to_path_buf(),
            line,
            text: text.to_string(),
            message,
        }
    }
}

const KEYS: &str = "slots, max_slots";

/// The most ranks one node may run: far beyond any machine's cores, and small enough that a
/// plan or a simulation over them fits in memory.
pub const MAX_SLOTS: usize = 10_000;

/// One non-empty line without its comment; the error is the message after `file:line: text:`.
fn parse_line(content: &str, line: usize) -> Result<Host, String> {
    // Open MPI's lexer also takes `slots = 4`; glue such pairs into one word first.
    let glued = content
        .split('=')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("=");
    let mut words = glued.split_whitespace();
    let name = words.next().unwrap_or_default();
    if name.contains('=') {
        return Err("a line starts with the host name, then `slots=N`".into());
    }
    let mut host = Host {
        name: name.to_string(),
        slots: None,
        max_slots: None,
        line,
        text: content.to_string(),
    };
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "`{word}` is not key=value (allowed keys: {KEYS}, e.g. slots=4)"
            ));
        };
        let field = match key {
            "slots" => &mut host.slots,
            "max_slots" | "max-slots" => &mut host.max_slots,
            _ => return Err(format!("unknown key `{key}` (allowed: {KEYS})")),
        };
        if field.is_some() {
            return Err(format!("`{key}` is given twice"));
        }
        *field = Some(
            value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_SLOTS).contains(n))
                .ok_or_else(|| {
                    format!("{key} must be a whole number from 1 to {MAX_SLOTS}, not `{value}`")
                })?,
        );
    }
    if let (Some(slots), Some(max)) = (host.slots, host.max_slots) {
        if slots > max {
            return Err(format!("slots={slots} is more than max_slots={max}"));
        }
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Hostfile, HostfileError> {
        Hostfile::parse(Path::new("hostfiles/test.txt"), text)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_hosts_slots_comments_and_blank_lines() {
        let file = parse(
            "# a comment\n\npi1.local slots=4\npi2.local slots=4 max_slots=6   # trailing\n\
             desktop max-slots=8\n  10.0.0.9   slots = 2\n",
        )
        .unwrap();
        let got: Vec<_> = file
            .hosts
            .iter()
            .map(|h| (h.name.as_str(), h.slots, h.max_slots, h.line))
            .collect();
        assert_eq!(
            got,
            [
                ("pi1.local", Some(4), None, 3),
                ("pi2.local", Some(4), Some(6), 4),
                ("desktop", None, Some(8), 5),
                ("10.0.0.9", Some(2), None, 6),
            ]
        );
    }

    #[test]
    fn the_project_hostfiles_parse() {
        for name in ["local.txt", "pis.txt"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("hostfiles")
                .join(name);
            let file = Hostfile::read(&path).unwrap();
            assert!(file.hosts.iter().all(|h| h.slots.is_some()), "{name}");
        }
    }

    #[test]
    fn an_unknown_key_names_file_line_text_and_the_allowed_keys() {
        assert_eq!(
            error("pi1 slots=4\n# two\npi3 slot=4\n"),
            "hostfiles/test.txt:3: `pi3 slot=4`: unknown key `slot` (allowed: slots, max_slots)"
        );
    }

    #[test]
    fn bad_slot_counts_are_refused() {
        for (text, message) in [
            (
                "pi1 slots=0",
                "slots must be a whole number from 1 to 10000, not `0`",
            ),
            (
                "pi1 slots=four",
                "slots must be a whole number from 1 to 10000, not `four`",
            ),
            (
                "pi1 slots=",
                "slots must be a whole number from 1 to 10000, not ``",
            ),
            (
                "pi1 max_slots=-1",
                "max_slots must be a whole number from 1 to 10000, not `-1`",
            ),
            ("pi1 slots=4 slots=2", "`slots` is given twice"),
            (
                "pi1 slots=8 max_slots=4",
                "slots=8 is more than max_slots=4",
            ),
        ] {
            assert_eq!(
                error(text),
                format!("hostfiles/test.txt:1: `{text}`: {message}"),
                "{text}"
            );
        }
    }

    #[test]
    fn words_that_are_not_key_value_are_refused() {
        assert!(error("pi1 4").ends_with(
            "`pi1 4`: `4` is not key=value (allowed keys: slots, max_slots, e.g. slots=4)"
        ));
        assert!(error("slots=4").contains(":1: `slots=4`: a line starts with the host name"));
    }

    #[test]
    fn a_duplicate_host_names_both_lines() {
        assert_eq!(
            error("pi1 slots=4\npi2 slots=4\npi1 slots=2\n"),
            "hostfiles/test.txt:3: `pi1 slots=2`: host `pi1` is already listed on line 1; \
             give each host one line"
        );
    }

    #[test]
    fn a_file_without_hosts_is_refused() {
        assert_eq!(
            error("# only\n\n   # comments\n"),
            "hostfile `hostfiles/test.txt` lists no hosts (one line per node: `host slots=N`)"
        );
    }
}
