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
    beside(out, ".partial")
}

/// The task log of a run writing `out` (see `runner::tasklog`).
pub fn tasks_path(out: &Path) -> PathBuf {
    beside(out, ".tasks")
}

/// `out` with `suffix` added to its file name.
fn beside(out: &Path, suffix: &str) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Renames the complete `partial` to `out`, replacing any previous `out` whole.
pub fn put_in_place(partial: &Path, out: &Path) -> anyhow::Result<()> {
    std::fs::rename(partial, out)
        .with_context(|| format!("renaming `{}` to `{}`", partial.display(), out.display()))
}

/// The lock file beside a run's output, `<out>.lock`: it holds the host and pid of the run that
/// writes `out` and is locked (`flock`) while that run lives. The kernel drops the lock when the
/// process ends, however it ends, so a lock file left by a killed run blocks nothing.
pub fn lock_path(out: &Path) -> PathBuf {
    beside(out, ".lock")
}

/// Another run holds the output's lock.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{}` is being written by another run (pid {pid} on {host}, lock `{}`); wait for it to end or stop it, or choose another --out",
    out.display(),
    lock.display()
)]
pub struct OutputBusy {
    pub out: PathBuf,
    pub lock: PathBuf,
    pub host: String,
    pub pid: String,
}

/// The lock this process holds, if any: its open file (which keeps the flock) and its path.
static HELD_LOCK: std::sync::Mutex<Option<(std::fs::File, PathBuf)>> = std::sync::Mutex::new(None);

/// Takes `<out>.lock` for this process (named as `pid` on `host` inside), or refuses with
/// [`OutputBusy`] when a live run holds it. Kept until [`release_output_lock`] or the process
/// ends.
pub fn lock_output(out: &Path, host: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;

    let path = lock_path(out);
    loop {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("creating the lock file `{}`", path.display()))?;
        // SAFETY: flock on a file descriptor this process owns; it only takes an advisory lock.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(err).with_context(|| format!("locking `{}`", path.display()));
            }
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let mut words = holder.split_whitespace();
            let host = words.next().unwrap_or("an unknown host").to_string();
            let pid = words.next().unwrap_or("?").to_string();
            return Err(OutputBusy {
                out: out.to_path_buf(),
                lock: path,
                host,
                pid,
            }
            .into());
        }
        // A run that ended between our open and our flock removed the file we locked: lock the
        // file that is at the path now.
        let ours = file.metadata()?;
        match std::fs::metadata(&path) {
            Ok(now) if now.ino() == ours.ino() && now.dev() == ours.dev() => {}
            _ => continue,
        }
        file.set_len(0)
            .and_then(|()| writeln!(file, "{host} {}", std::process::id()))
            .and_then(|()| file.flush())
            .with_context(|| format!("writing the lock file `{}`", path.display()))?;
        if let Ok(mut held) = HELD_LOCK.lock() {
            *held = Some((file, path));
        }
        return Ok(());
    }
}

/// Removes and unlocks the lock this process holds (none: nothing to do). Called at the normal
/// end of a run and on every error path; never blocks.
pub fn release_output_lock() {
    if let Ok(mut held) = HELD_LOCK.try_lock() {
        if let Some((file, path)) = held.take() {
            let _ = std::fs::remove_file(&path);
            drop(file);
        }
    }
}

/// An error from writing a file on a full filesystem (ENOSPC, as the OS or the HDF5 library
/// reports it), told in one line naming the file; any other error comes back unchanged. `file`
/// is the file being written, when the error does not name it.
pub fn explain_full_disk(err: anyhow::Error, file: Option<&Path>) -> anyhow::Error {
    let text = format!("{err:#}");
    let full = err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(libc::ENOSPC))
    }) || text.contains("errno = 28")
        || text.contains("No space left on device");
    if !full {
        return err;
    }
    let named = text
        .split("filename = '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .map(PathBuf::from);
    match named.as_deref().or(file) {
        Some(file) => {
            let folder = match file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            anyhow::anyhow!(
                "no space left on device writing `{}`: free some space in `{}`, then run the same command with --resume (every task saved so far is kept)",
                file.display(),
                folder.display()
            )
        }
        None => anyhow::anyhow!(
            "no space left on device: free some space, then run the same command with --resume (every task saved so far is kept)"
        ),
    }
}
