//! A full disk mid-run, on a small tmpfs that the test mounts (as root; skipped otherwise): one
//! line naming the file and "no space left", every rank ends promptly with a non-zero status,
//! existing result files in the folder are untouched, and once space is freed `--resume`
//! completes bit-identically.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::same::*;
use crate::common::*;
use triton_batch::files::tasks_path;

/// 96 blocks of about 0.1 s each here.
const JOB: &str = r#"
[model]
kind = "gbm"
s0 = 100.0
sigma = 0.2
r = 0.02
q = 0.0

[option]
payoff = "asian_arithmetic"
type = "call"
strike = 100.0
maturity = 4.0
steps = 1460

[simulation]
paths = 960000
estimator = "control_variate"
seed = 9
block_paths = 10000
"#;

/// A tmpfs mounted on a fresh folder, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempdir();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("skipped: cannot mount a tmpfs here");
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes zeros into `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 4096];
    while file.write_all(&block).is_ok() {}
    let _ = file.flush();
}

#[test]
fn a_full_disk_ends_every_rank_with_one_line_and_resume_completes() {
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let elsewhere = tempdir();
    let job = job_file(elsewhere.path(), "mc.toml", JOB);
    let whole = elsewhere.path().join("whole.h5");
    triton(
        &[
            "montecarlo",
            path_str(&job),
            "--out",
            path_str(&whole),
            "--quiet",
        ],
        300,
    )
    .assert_success();

    // Results already in the folder: another one, and an earlier result at the same --out.
    let other = disk.path().join("other.h5");
    let out = disk.path().join("r.h5");
    std::fs::copy(&whole, &other).unwrap();
    std::fs::copy(&whole, &out).unwrap();
    let before = std::fs::read(&whole).unwrap();

    let args = [
        "montecarlo",
        path_str(&job),
        "--out",
        path_str(&out),
        "--quiet",
    ];
    let running = start_mpirun(2, &args, 120);
    let journal = PathBuf::from(format!("{}.partial", out.display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while journal_rows(&journal) < 3 {
        assert!(Instant::now() < deadline, "no 3 tasks in the journal");
        std::thread::sleep(Duration::from_millis(20));
    }
    let filler = disk.path().join("filler");
    fill(&filler);
    let filled = Instant::now();
    let run = running.wait();
    assert!(
        filled.elapsed() < Duration::from_secs(10),
        "ended {:?} after the disk filled:\n{}",
        filled.elapsed(),
        run.stderr()
    );
    assert!(
        !matches!(run.code(), Some(0) | Some(124) | None),
        "{}",
        run.stderr()
    );
    let line = run.our_only_line("a full disk");
    // The file being written when the disk filled: the task log or the journal.
    let writing = |file: &Path| format!("no space left on device writing `{}`", file.display());
    assert!(
        (line.contains(&writing(&journal)) || line.contains(&writing(&tasks_path(&out))))
            && line.contains("then run the same command with --resume"),
        "{}",
        line
    );
    assert_eq!(
        std::fs::read(&other).unwrap(),
        before,
        "other results untouched"
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "the earlier result untouched"
    );

    std::fs::remove_file(&filler).unwrap();
    mpirun(2, &[&args[..], &["--resume"]].concat(), 120).assert_success();
    assert_same_estimate(&whole, &out);
    assert!(!journal.exists());
    assert!(!PathBuf::from(format!("{}.lock", out.display())).exists());
}
