//! Output files, shared by job runs, saved models and predictions: where a result goes (`--out`,
//! whose folder must exist, or `results/<name>`), the temporary `<out>.partial` it is written as,
//! and the rename that puts it in place, so that an existing file is only ever replaced whole.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// `out` when given (its folder must exist), else `results/<default_name>`, creating `results`.
pub fn output_path(out: Option<&Path>, default_name: &str) -> anyhow::Result<PathBuf> {
    let Some(out) = out else {
        let dir = Path::new("results");
        std::fs::create_dir_all(dir).context("creating the default output folder `results`")?;
        return Ok(dir.join(default_name));
    };
    check_output_folder("--out", out)?;
    Ok(out.to_path_buf())
}

/// Refuses an output path (given with `flag`) whose folder does not exist.
pub fn check_output_folder(flag: &str, path: &Path) -> anyhow::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        anyhow::bail!(
            "{flag} `{}`: folder `{}` does not exist (create it first or choose another {flag})",
            path.display(),
            parent.display()
        );
    }
    Ok(())
}

/// The name a file is written under until it is complete.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Renames the complete `partial` to `out`, replacing any previous `out` whole.
pub fn put_in_place(partial: &Path, out: &Path) -> anyhow::Result<()> {
    std::fs::rename(partial, out)
        .with_context(|| format!("renaming `{}` to `{}`", partial.display(), out.display()))
}
