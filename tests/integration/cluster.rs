//! Multi-host runs on a cluster of network namespaces on this machine (`scripts/cluster`): each job
//! kind launched over ssh across three nodes gives the 1-rank result bit for bit and names the
//! three hosts; a crashed node ends the run promptly and `--resume` on the other nodes completes it
//! bit for bit; `scripts/scale.sh --cluster` records a 1-, 2- and 3-host sweep that `report` reads.
//! One test brings one cluster up and runs the cases in turn; the cluster goes down on every path.
//! Needs root and `ip netns`: elsewhere it fails, unless TRITON_BATCH_SKIP_CLUSTER=1 skips it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::same::*;
use crate::common::*;
use triton_batch::results::{ResultFile, Value};

/// Its own names, addresses and ports, so that a cluster a developer has up is left alone.
const IDENTITY: [(&str, &str); 3] = [
    ("TRITON_CLUSTER_NAME", "tbt"),
    ("TRITON_CLUSTER_NET", "10.213.7"),
    ("TRITON_CLUSTER_PORTS", "17000"),
];
/// `--node-timeout` of the link-cut runs: the first mpirun must end within it + 30 s of the cut.
const NODE_TIMEOUT: f64 = 5.0;
const NODES: [&str; 3] = ["node1", "node2", "node3"];

/// 1,000,000 paths in 100 blocks: a few seconds on three nodes, long enough to kill one mid-run.
const MONTE_CARLO: &str = r#"
[model]
kind = "seed"
s0 = 100.0
mu = 0.02
sigma = 0.2

[option]
payoff = "asian_arithmetic"
type = "call"
strike = 100.0
steps = 1460

[simulation]
paths = 1000000
estimator = "plain"
seed = 4
block_paths = 10000
"#;

/// 36 fits of 800 training rows.
const GRID_SEARCH: &str = r#"
[data]
source = "make_classification"
n_samples = 1200
random_state = 2

[estimator]
kind = "svc"
gamma = "scale"

[grid]
C = [0.1, 1.0, 10.0]
kernel = ["rbf", "sigmoid", "poly"]
shrinking = [true, false]

[cv]
folds = 2
"#;

const FOREST: &str = r#"
[data]
source = "make_classification"
n_samples = 2000
random_state = 3
test_size = 0.25

[forest]
n_estimators = 120
max_features = "sqrt"
oob_score = true
seed = 6
block_trees = 4
"#;

/// A cluster that goes down when dropped, whatever happened in between.
struct Cluster {
    state: tempfile::TempDir,
}

impl Cluster {
    fn env(&self) -> Vec<(&str, &str)> {
        let mut env = IDENTITY.to_vec();
        env.push(("TRITON_CLUSTER_STATE", path_str(self.state.path())));
        env
    }

    fn script(&self, name: &str, args: &[&str], limit_seconds: u64) -> Run {
        script_env(name, args, limit_seconds, &self.env())
    }

    fn up(nodes: usize) -> Cluster {
        let cluster = Cluster { state: tempdir() };
        // A cluster left by a run that was killed before its guard could act.
        cluster.script("cluster", &["down"], 60).assert_success();
        cluster
            .script("cluster", &["up", &nodes.to_string()], 300)
            .assert_success();
        cluster
    }

    fn hostfile(&self, nodes: &[&str]) -> PathBuf {
        let run = self.script("cluster", &[&["hostfile"][..], nodes].concat(), 30);
        run.assert_success();
        PathBuf::from(run.stdout().trim())
    }

    /// `scripts/mpirun --cluster [MPIRUN_ARGS] -np N triton-batch ARGS`.
    fn mpirun(&self, mpirun_args: &[&str], np: usize, args: &[&str], limit_seconds: u64) -> Run {
        let np = np.to_string();
        let all = [&["--cluster"][..], mpirun_args, &["-np", &np, BIN], args].concat();
        self.script("mpirun", &all, limit_seconds)
    }

    fn processes(&self, node: &str) -> usize {
        let run = self.script("cluster", &["procs", node], 30);
        run.assert_success();
        run.stdout().trim().parse().expect("a process count")
    }

    /// No rank or Open MPI daemon outlives mpirun on any node (they may take a moment to go
    /// after mpirun has ended).
    fn assert_nothing_left(&self) {
        for node in NODES {
            let mut left = self.processes(node);
            for _ in 0..50 {
                if left == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
                left = self.processes(node);
            }
            assert_eq!(left, 0, "processes left on {node} after mpirun ended");
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let down = self.script("cluster", &["down"], 60);
        if !down.output.status.success() {
            eprintln!("scripts/cluster down failed:\n{}", down.stderr());
        }
    }
}

/// Root and network namespaces, or a clear failure (a skipped cluster test must be asked for).
fn cluster_allowed() -> bool {
    if std::env::var("TRITON_BATCH_SKIP_CLUSTER").as_deref() == Ok("1") {
        eprintln!("cluster tests skipped: TRITON_BATCH_SKIP_CLUSTER=1");
        return false;
    }
    let uid = Command::new("id").arg("-u").output().expect("running id");
    let netns = Command::new("ip").args(["netns", "list"]).output();
    assert!(
        String::from_utf8_lossy(&uid.stdout).trim() == "0"
            && netns.is_ok_and(|o| o.status.success()),
        "the cluster tests need root and `ip netns` (network namespaces): run them as root, or set \
         TRITON_BATCH_SKIP_CLUSTER=1 to skip them"
    );
    true
}

fn hosts_of(result: &Path) -> Vec<String> {
    let mut hosts = table(result, "ranks").str_column("host").unwrap();
    hosts.sort();
    hosts
}

#[test]
fn a_three_node_cluster_runs_resumes_and_scales() {
    if !cluster_allowed() {
        return;
    }
    let dir = tempdir();
    let cluster = Cluster::up(3);
    identical_results_on_three_nodes(&cluster, dir.path());
    a_crashed_node_ends_the_run_and_resume_completes_it(&cluster, dir.path());
    a_sweep_over_the_cluster_hostfile(&cluster, dir.path());
    a_cut_worker_node_costs_only_its_tasks(&cluster, dir.path());
    a_cut_rank_0_node_makes_the_others_leave(&cluster, dir.path());
}

/// Each job kind on three nodes over ssh against a 1-rank run (a singleton on this machine).
fn identical_results_on_three_nodes(cluster: &Cluster, dir: &Path) {
    type Same = fn(&Path, &Path);
    let kinds: [(&str, &str, &[&str], Same); 3] = [
        ("montecarlo", MONTE_CARLO, &[], assert_same_estimate),
        ("gridsearch", GRID_SEARCH, &[], assert_same_results),
        ("forest", FOREST, &["--predictions"], assert_same_forest),
    ];
    for (kind, text, extra, assert_same) in kinds {
        let job = job_file(dir, &format!("{kind}.toml"), text);
        let single = dir.join(format!("{kind}-single.h5"));
        let spread = dir.join(format!("{kind}-3-nodes.h5"));
        let args = |out: &Path| -> Vec<String> {
            [kind, path_str(&job), "--quiet", "--out", path_str(out)]
                .iter()
                .chain(extra)
                .map(|s| s.to_string())
                .collect()
        };
        let single_args = args(&single);
        let single_args: Vec<&str> = single_args.iter().map(String::as_str).collect();
        triton(&single_args, 300).assert_success();
        let spread_args = args(&spread);
        let spread_args: Vec<&str> = spread_args.iter().map(String::as_str).collect();
        let run = cluster.mpirun(&[], 3, &spread_args, 300);
        run.assert_success();
        eprintln!(
            "{kind}: 3 nodes over ssh in {:.1} s",
            run.elapsed.as_secs_f64()
        );
        assert_same(&single, &spread);
        assert_eq!(hosts_of(&spread), NODES, "{kind}: ranks table hosts");
        let file = ResultFile::open_read(&spread).unwrap();
        assert_eq!(file.attr("n_ranks").unwrap(), Value::I64(3));
        cluster.assert_nothing_left();
    }
}

/// node3's processes killed mid-run: mpirun ends by itself, non-zero; `--resume` on node1 and
/// node2 then completes the Monte Carlo job of the first case bit for bit.
fn a_crashed_node_ends_the_run_and_resume_completes_it(cluster: &Cluster, dir: &Path) {
    let job = dir.join("montecarlo.toml");
    let out = dir.join("crashed.h5");
    let journal = dir.join("crashed.h5.partial");
    let stderr_path = dir.join("crashed.stderr");
    let limit = 120;
    let mut command = Command::new("timeout");
    command
        .args(["-k", "10", &limit.to_string()])
        .arg(repo().join("scripts/mpirun"))
        .args(["--cluster", "-np", "3", BIN, "montecarlo"])
        .args([path_str(&job), "--quiet", "--out", path_str(&out)])
        .envs(cluster.env())
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file, not a pipe: an ssh client of mpirun's to the killed node may outlive mpirun
        // with the descriptor open, and a pipe would then never reach its end.
        .stderr(std::fs::File::create(&stderr_path).expect("creating the stderr file"));
    let mut child = command.spawn().expect("starting mpirun");
    let started = Instant::now();
    // The journal appears once the run computes; a second later every node is busy.
    while !journal.exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if !journal.exists() {
        // `timeout` passes the TERM on to mpirun; the cluster's guard cleans the nodes.
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
        panic!(
            "the run never started its journal:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    cluster
        .script("cluster", &["kill", "node3"], 30)
        .assert_success();
    let killed = Instant::now();
    // `timeout` ends mpirun by the limit, so this wait is bounded.
    let status = child.wait().expect("waiting for mpirun");
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let code = status.code();
    eprintln!(
        "crashed node: mpirun ended {:.1} s after node3 was killed, exit {code:?}",
        killed.elapsed().as_secs_f64()
    );
    assert!(
        code != Some(0) && code != Some(124) && code != Some(137),
        "mpirun must end by itself with an error, not succeed or run into the {limit} s timeout \
         (exit {code:?}):\n{stderr}"
    );
    assert!(
        stderr.contains("10.213.7.13"),
        "Open MPI names the lost node:\n{stderr}"
    );
    assert!(!out.exists(), "a failed run never writes the result file");
    cluster.assert_nothing_left();

    let survivors = cluster.hostfile(&["node1", "node2"]);
    let resumed = cluster.mpirun(
        &["--hostfile", path_str(&survivors)],
        2,
        &[
            "montecarlo",
            path_str(&job),
            "--quiet",
            "--resume",
            "--out",
            path_str(&out),
        ],
        300,
    );
    resumed.assert_success();
    assert_same_estimate(&dir.join("montecarlo-single.h5"), &out);
    assert_eq!(hosts_of(&out), ["node1", "node2"]);
    let rerun: i64 = table(&out, "ranks")
        .i64_column("tasks")
        .unwrap()
        .iter()
        .sum();
    assert!(
        rerun < 100,
        "the resume runs only the blocks the crash lost ({rerun} of 100)"
    );
    cluster.assert_nothing_left();
}

/// scale.sh over the cluster's hostfile: one run on node1, on node1-2 and on node1-3.
fn a_sweep_over_the_cluster_hostfile(cluster: &Cluster, dir: &Path) {
    let job = dir.join("gridsearch.toml");
    let scaling = dir.join("scaling.h5");
    let hostfile = cluster.hostfile(&[]);
    let run = cluster.script(
        "scale.sh",
        &[
            path_str(&hostfile),
            path_str(&job),
            "--into",
            path_str(&scaling),
            "--cluster",
        ],
        600,
    );
    run.assert_success();
    let runs = table(&scaling, "runs");
    assert_eq!(runs.i64_column("hosts").unwrap(), [1, 2, 3]);
    assert_eq!(runs.i64_column("ranks").unwrap(), [1, 2, 3]);
    for (i, result) in runs.str_column("result_file").unwrap().iter().enumerate() {
        assert_eq!(hosts_of(Path::new(result)), NODES[..=i], "run {i}");
        assert_same_results(&dir.join("gridsearch-single.h5"), Path::new(result));
    }
    let report = triton(&["report", path_str(&scaling)], 30);
    report.assert_success();
    let printed = report.stdout();
    // Rows of the printed table: index, hosts, ranks, repeats, wall_seconds, …
    let hosts_and_ranks: Vec<(&str, &str)> = printed
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.len() == 9 && cells[0].parse::<usize>().is_ok())
        .map(|cells| (cells[1], cells[2]))
        .collect();
    assert_eq!(
        hosts_and_ranks,
        [("1", "1"), ("2", "2"), ("3", "3")],
        "report:\n{printed}"
    );
    cluster.assert_nothing_left();
}

/// Processes of a job (ranks and Open MPI daemons) in `node`'s network namespace; an ssh session
/// whose client is gone may linger on a cut node, holding nothing.
fn job_processes(node: &str) -> Vec<String> {
    let namespace = format!("{}-{node}", IDENTITY[0].1);
    let pids = Command::new("ip")
        .args(["netns", "pids", &namespace])
        .output()
        .expect("running ip netns pids");
    String::from_utf8_lossy(&pids.stdout)
        .split_whitespace()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
        .map(|comm| comm.trim().to_string())
        .filter(|comm| comm == "orted" || comm.starts_with("triton-batch"))
        .collect()
}

/// Starts `scripts/run-resilient` over the cluster's three nodes, waits until the journal exists
/// and work is under way, cuts `node`'s link, and returns the run and the seconds from the cut to
/// the end of the run it cut (before any resume). The link comes back (and the node's processes go) on every path. Its output goes to
/// files: an ssh client left on a cut node must not keep the test waiting on a pipe.
fn run_and_cut(cluster: &Cluster, job: &Path, out: &Path, node: &str) -> (Run, f64) {
    struct Heal<'a>(&'a Cluster, &'a str);
    impl Drop for Heal<'_> {
        fn drop(&mut self) {
            let _ = self.0.script("cluster", &["heal", self.1], 30);
            let _ = self.0.script("cluster", &["kill", self.1], 30);
        }
    }
    let journal = PathBuf::from(format!("{}.partial", out.display()));
    let stdout_path = PathBuf::from(format!("{}.stdout", out.display()));
    let stderr_path = PathBuf::from(format!("{}.stderr", out.display()));
    let hostfile = cluster.hostfile(&[]);
    let mut command = Command::new("timeout");
    command
        .args(["-k", "10", "150"])
        .arg(repo().join("scripts/run-resilient"))
        .args([path_str(&hostfile), "--cluster", "--", BIN, "montecarlo"])
        .args([path_str(job), "--quiet", "--out", path_str(out)])
        .args(["--node-timeout", &NODE_TIMEOUT.to_string()])
        .envs(cluster.env())
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("creating the stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("creating the stderr file"));
    let mut child = command.spawn().expect("starting run-resilient");
    let started = Instant::now();
    while !journal.exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(journal.exists(), "the run never started its journal");
    std::thread::sleep(Duration::from_secs(1));
    let _heal = Heal(cluster, node);
    cluster
        .script("cluster", &["cut", node], 30)
        .assert_success();
    let cut = Instant::now();
    // The first mpirun's end: run-resilient ends it or resumes, or the whole run ends.
    let mut first_end = None;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for run-resilient") {
            break status;
        }
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        if first_end.is_none()
            && (stderr.contains("run-resilient: ended mpirun")
                || stderr.contains("run-resilient: lost node"))
        {
            first_end = Some(cut.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let seconds = first_end.unwrap_or(cut.elapsed().as_secs_f64());
    // Processes on the cut node are checked before the link comes back.
    let left = job_processes(node);
    assert!(left.is_empty(), "left on the cut {node}: {left:?}");
    let run = Run {
        output: Output {
            status,
            stdout: std::fs::read(&stdout_path).unwrap_or_default(),
            stderr: std::fs::read(&stderr_path).unwrap_or_default(),
        },
        elapsed: started.elapsed(),
    };
    (run, seconds)
}

/// node3's link cut mid-run (a Pi losing power): rank 0 finishes without it (or, if Open MPI
/// gives up on the node first, scripts/run-resilient resumes on node1 and node2), mpirun is ended
/// within the node timeout + 30 s of the cut, and the result is the 1-rank result bit for bit;
/// status 4.
fn a_cut_worker_node_costs_only_its_tasks(cluster: &Cluster, dir: &Path) {
    let job = dir.join("montecarlo.toml");
    let out = dir.join("cut-worker.h5");
    let (run, seconds) = run_and_cut(cluster, &job, &out, "node3");
    eprintln!(
        "cut worker node: the cut run ended {seconds:.1} s after the cut, run-resilient exit {:?}",
        run.code()
    );
    assert_eq!(run.code(), Some(4), "{}", run.stderr());
    assert!(
        seconds <= NODE_TIMEOUT + 30.0,
        "{seconds:.1} s:\n{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("10.213.7.13") || run.stderr().contains("lost rank 2 on node3"),
        "the lost node is named:\n{}",
        run.stderr()
    );
    assert_same_estimate(&dir.join("montecarlo-single.h5"), &out);
}

/// node1's link (rank 0's node) cut mid-run: the other ranks leave by themselves, naming rank 0's
/// node, the cut run ends within the node timeout + 30 s, nothing is left on any node, and
/// scripts/run-resilient resumes the journal on node2 and node3 bit for bit.
fn a_cut_rank_0_node_makes_the_others_leave(cluster: &Cluster, dir: &Path) {
    let job = dir.join("montecarlo.toml");
    let out = dir.join("cut-root.h5");
    let (run, seconds) = run_and_cut(cluster, &job, &out, "node1");
    eprintln!(
        "cut rank 0 node: the cut run ended {seconds:.1} s after the cut, run-resilient exit {:?}",
        run.code()
    );
    assert_eq!(run.code(), Some(4), "{}", run.stderr());
    assert!(
        seconds <= NODE_TIMEOUT + 30.0,
        "{seconds:.1} s:\n{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("lost rank 0 on node1"),
        "the others name rank 0's node:\n{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("lost node 10.213.7.11"),
        "run-resilient resumes without node1:\n{}",
        run.stderr()
    );
    for node in ["node2", "node3"] {
        let left = job_processes(node);
        assert!(left.is_empty(), "left on {node}: {left:?}");
    }
    assert_same_estimate(&dir.join("montecarlo-single.h5"), &out);
}
