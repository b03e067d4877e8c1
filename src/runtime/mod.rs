//! The MPI side of triton-batch, kept small and plain: start MPI, learn the ranks and hosts, share
//! the validated job from rank 0, hand out tasks and bring their results back (`scheduler`), keep
//! track of which ranks are alive (`liveness`), end the job together (`Cluster::end`), and end
//! the whole job promptly when any rank fails (`failure`). Algorithms never see MPI: what the
//! dynamic schedule knows of task costs and rank speeds is plain arithmetic in `costs`.
//!
//! Only the main thread calls MPI, and it only communicates: it polls with short sleeps, sends a
//! heartbeat to its peers every second (rank 0 to every worker, a worker to rank 0) and notes
//! every message as a sign of life, while tasks and rank 0's longer steps (reading the job, the
//! reduction) run on other threads. So a rank busy with a two-minute task still answers, and a
//! silent one is a lost node. Sends never block on a peer (`Outbox`): a silent rank cannot stall
//! the main thread that must notice it.
//!
//! Exit statuses: 1 a task or rank failed, 2 bad input, 3 ranks run different builds, 101 a panic,
//! [`exit::NODE_LOST`] the result is complete but a worker node was lost, [`exit::RESUME`] a node
//! was lost before the result was complete (a worker gave up on rank 0, or rank 0 on every
//! worker): `--resume` continues from rank 0's journal.

pub mod costs;
pub mod failure;
pub(crate) mod liveness;
pub mod progress;
pub mod scheduler;

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use mpi::environment::Universe;
use mpi::point_to_point::{MatchedReceiveVec, Source};
use mpi::raw::AsRaw;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Threading;
use serde::{de::DeserializeOwned, Serialize};

use liveness::Liveness;

/// Exit statuses of a run that ended without an error on this side.
pub mod exit {
    /// The result file is complete (bit-identical to an uninterrupted run), but a worker rank
    /// went silent for the node timeout and the job finished without it.
    pub const NODE_LOST: i32 = 4;
    /// A node was lost before the result was complete: a worker heard nothing from rank 0, or
    /// rank 0 nothing from any worker (then it is likely rank 0's own link that is gone), for the
    /// node timeout. Rank 0's journal resumes the job with `--resume`.
    pub const RESUME: i32 = 5;
}

/// Message tags of the runtime's point-to-point traffic.
pub(crate) mod tag {
    pub const HOST: i32 = 1;
    pub const SHARE: i32 = 2;
    pub const REQUEST: i32 = 3;
    pub const ASSIGN: i32 = 4;
    pub const RESULT: i32 = 5;
    pub const HEARTBEAT: i32 = 6;
    /// Rank 0 to a worker: the job has ended, exit with the status inside (0: finalize).
    /// A worker answers an END of status 0 with an empty END before finalizing.
    pub const END: i32 = 7;
    /// Rank 0 to a worker it declared lost and then heard from again: do no more work, wait for
    /// the end.
    pub const RETIRED: i32 = 8;
}

/// How long a waiting rank sleeps between polls: short against any task, long enough that an idle
/// rank costs next to no CPU (a blocking MPI receive would spin a core).
pub(crate) const POLL_INTERVAL: Duration = Duration::from_micros(200);

/// The longest sleep between polls of a main thread that has waited a while (see [`Pace`]).
const POLL_INTERVAL_IDLE: Duration = Duration::from_millis(2);

/// The sleeps of a main thread between polls: [`POLL_INTERVAL`] after a message or event, doubling
/// while nothing comes, up to [`POLL_INTERVAL_IDLE`]. A main thread that wakes 5,000 times a
/// second takes a core from the rank's compute threads each time, and a team of threads in
/// lockstep (an SVM solve) waits for the one it took: measured on a 2-core machine, a fit on 2
/// threads ran 12 % faster with 2 ms sleeps than with 200 µs ones (medians of 5 runs each), and
/// on 1 thread 15 %.
pub(crate) struct Pace {
    next: Duration,
}

impl Pace {
    pub(crate) fn new() -> Pace {
        Pace {
            next: POLL_INTERVAL,
        }
    }

    /// Something came: poll again soon.
    pub(crate) fn active(&mut self) {
        self.next = POLL_INTERVAL;
    }

    /// Nothing came: how long to sleep now.
    pub(crate) fn idle(&mut self) -> Duration {
        let sleep = self.next;
        self.next = (sleep * 2).min(POLL_INTERVAL_IDLE);
        sleep
    }

    /// Sleeps as [`Pace::idle`] says.
    pub(crate) fn sleep(&mut self) {
        std::thread::sleep(self.idle());
    }
}

/// A rank declared lost: who and when it was last heard from.
#[derive(Debug, Clone)]
pub struct LostRank {
    pub rank: usize,
    pub host: String,
    /// Seconds from the start of the run to the last message from it.
    pub silent_after_seconds: f64,
}

/// This process's place in the job: MPI started, ranks and hosts known.
pub struct Cluster {
    _universe: Universe,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// Host of every rank.
    hosts: Vec<String>,
    started: Instant,
    live: RefCell<Liveness>,
    outbox: RefCell<Outbox>,
    lost: RefCell<Vec<LostRank>>,
    /// Rank 0 during the task phase: what to say when SIGINT or SIGTERM stops the run (what the
    /// journal holds and how to resume). Outside it the run finishes its current step first.
    interrupt_note: RefCell<Option<InterruptNote>>,
    /// A worker: when it first saw SIGINT or SIGTERM.
    interrupted_at: Cell<Option<Instant>>,
}

/// Rank 0's account of a stopped run, made when the signal is acted on.
pub type InterruptNote = Box<dyn Fn() -> String>;

/// How long a worker that got SIGINT or SIGTERM waits for rank 0 to end the job before it ends
/// by itself.
const WORKER_GRACE: Duration = Duration::from_secs(3);

impl Cluster {
    /// Starts MPI (or a singleton without mpirun) at the `Funneled` level, installs the
    /// abort-on-panic hook and learns every rank's host. A peer silent for `node_timeout` is lost.
    pub fn init(node_timeout: Duration) -> anyhow::Result<Self> {
        let (universe, granted) = mpi::initialize_with_threading(Threading::Funneled)
            .ok_or_else(|| anyhow::anyhow!("MPI was already initialised"))?;
        if granted == Threading::Single {
            anyhow::bail!(
                "this MPI library grants only MPI_THREAD_SINGLE; triton-batch needs MPI_THREAD_FUNNELED (use an Open MPI or MPICH built with thread support, as Debian's are)"
            );
        }
        let world = universe.world();
        let rank = world.rank() as usize;
        let size = world.size() as usize;
        let host = mpi::environment::processor_name().unwrap_or_else(|_| "unknown".into());
        failure::install(rank, &host);
        failure::catch_interrupts();
        let started = Instant::now();
        let peers: Vec<usize> = if rank == 0 {
            (1..size).collect()
        } else {
            vec![0]
        };
        let mut cluster = Cluster {
            _universe: universe,
            world,
            rank,
            size,
            hosts: vec![host],
            started,
            live: RefCell::new(Liveness::new(size, peers, node_timeout, started)),
            outbox: RefCell::new(Outbox::default()),
            lost: RefCell::new(vec![]),
            interrupt_note: RefCell::new(None),
            interrupted_at: Cell::new(None),
        };
        cluster.gather_hosts();
        Ok(cluster)
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// Rank to host.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The ranks declared lost so far (on rank 0).
    pub fn lost(&self) -> Vec<LostRank> {
        self.lost.borrow().clone()
    }

    pub(crate) fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// Rank 0 collects every host and sends the list back, so a worker can name rank 0's host.
    fn gather_hosts(&mut self) {
        if self.is_root() {
            for rank in 1..self.size {
                let bytes = self.receive_polling(rank, tag::HOST);
                self.hosts
                    .push(String::from_utf8_lossy(&bytes).into_owned());
            }
            for rank in 1..self.size {
                self.send(rank, tag::HOST, encode(&self.hosts));
            }
        } else {
            self.send(0, tag::HOST, self.hosts[0].clone().into_bytes());
            self.hosts = decode(&self.receive_polling(0, tag::HOST));
        }
    }

    /// Rank 0 passes `value`; every rank returns rank 0's value. Waiting ranks poll with sleeps
    /// rather than spin in a broadcast, since rank 0 may read and validate input for a while.
    pub fn share_from_root<T: Serialize + DeserializeOwned>(&self, value: Option<&T>) -> T {
        if self.is_root() {
            let value = value.expect("rank 0 passes the value to share");
            let bytes = encode(value);
            for rank in 1..self.size {
                self.send(rank, tag::SHARE, bytes.clone());
            }
            decode(&bytes)
        } else {
            decode(&self.receive_polling(0, tag::SHARE))
        }
    }

    /// Sends without waiting for the receiver; the message goes out as the main thread polls.
    pub(crate) fn send(&self, rank: usize, tag: i32, bytes: Vec<u8>) {
        self.outbox
            .borrow_mut()
            .send(self.world.as_raw(), rank, tag, bytes);
    }

    /// Whether messages sent are still on their way out (they leave as the main thread polls).
    pub(crate) fn sending(&self) -> bool {
        !self.outbox.borrow().is_empty()
    }

    /// Receives the next message with `tag` from `rank`, sleeping between polls and tending to
    /// heartbeats meanwhile. Rank 0 aborts if `rank` is lost before it answers.
    pub(crate) fn receive_polling(&self, rank: usize, tag: i32) -> Vec<u8> {
        let source = self.world.process_at_rank(rank as i32);
        let mut pace = Pace::new();
        loop {
            if let Some(message) = source.immediate_matched_probe_with_tag(tag) {
                self.heard(rank);
                return message.matched_receive_vec::<u8>().0;
            }
            for lost in self.tend() {
                if lost == rank {
                    self.abort(
                        &format!("rank {rank} went silent before the run started"),
                        1,
                    );
                }
            }
            pace.sleep();
        }
    }

    /// Runs `step` on another thread while this (MPI) thread keeps heartbeats going, so a long
    /// step (reading the job, the reduction, a refit) never makes this rank look lost.
    pub fn busy<R: Send>(&self, step: impl FnOnce() -> R + Send) -> R {
        std::thread::scope(|scope| {
            let handle = scope.spawn(step);
            let mut pace = Pace::new();
            while !handle.is_finished() {
                self.tend();
                pace.sleep();
            }
            // A panic on the step's thread aborts the job in `tend`, so the step returned.
            handle.join().expect("the step returned")
        })
    }

    /// Any message from `rank` is a sign of life. Returns true when `rank` was declared lost, in
    /// which case its message is to be ignored; such a rank is told once to do no more work.
    pub(crate) fn heard(&self, rank: usize) -> bool {
        let mut live = self.live.borrow_mut();
        let was_silent = !live.reachable().contains(&rank);
        let lost = live.heard(rank, Instant::now());
        drop(live);
        if lost && was_silent {
            self.send(rank, tag::RETIRED, vec![]);
        }
        lost
    }

    /// The main thread's chores between polls: failures of other threads, sends in flight,
    /// heartbeats in and out, and silent peers. Returns the ranks newly declared lost (rank 0);
    /// a worker that finds rank 0 silent ends here.
    pub(crate) fn tend(&self) -> Vec<usize> {
        failure::check();
        if let Some(signal) = failure::interrupted() {
            self.stop_if_interrupted(signal);
        }
        self.outbox.borrow_mut().progress();
        while let Some((message, status)) = self
            .world
            .any_process()
            .immediate_matched_probe_with_tag(tag::HEARTBEAT)
        {
            let _ = (message, status).matched_receive_vec::<u8>();
            self.heard(status.source_rank() as usize);
        }
        let now = Instant::now();
        let mut live = self.live.borrow_mut();
        if live.beat_due(now) {
            for peer in live.reachable() {
                self.send(peer, tag::HEARTBEAT, vec![]);
            }
        }
        let timeout = live.timeout();
        let newly = live.newly_lost(now);
        drop(live);
        let mut lost_ranks = vec![];
        for (rank, last) in newly {
            let silent_after_seconds = last.duration_since(self.started).as_secs_f64();
            let host = self.hosts.get(rank).cloned().unwrap_or_default();
            if !self.is_root() {
                self.give_up_on_root(&host, timeout);
            }
            failure::say(&format!(
                "warning: lost rank {rank} on {host}: nothing from it since {silent_after_seconds:.1} s into the run (--node-timeout {}); its unfinished tasks run on the other ranks",
                timeout.as_secs_f64()
            ));
            self.lost.borrow_mut().push(LostRank {
                rank,
                host,
                silent_after_seconds,
            });
            lost_ranks.push(rank);
        }
        if self.size > 1 && self.lost.borrow().len() == self.size - 1 {
            // Carrying on alone would race a resumed run on the other nodes for the journal.
            failure::say(&format!(
                "lost every other rank: this node's link may be the one gone; the journal resumes the job with --resume (exit status {})",
                exit::RESUME
            ));
            end_parent_daemon();
            failure::exit_now(exit::RESUME);
        }
        lost_ranks
    }

    /// A worker that hears nothing from rank 0 ends by itself. On a node that was started over
    /// ssh its parent is Open MPI's daemon `orted`, which ends too, so nothing is left on a node
    /// whose link is gone.
    fn give_up_on_root(&self, root_host: &str, timeout: Duration) -> ! {
        failure::say(&format!(
            "lost rank 0 on {root_host} (nothing from it for {} s); the journal on rank 0's disk resumes the job with --resume",
            timeout.as_secs_f64()
        ));
        end_parent_daemon();
        failure::exit_now(exit::RESUME)
    }

    /// Rank 0 ends the job on every rank: it tells every reachable worker, and with `code` 0 it
    /// waits for each one's goodbye and returns, to finalize MPI with them. Otherwise, or when
    /// a rank was lost or goes silent meanwhile (MPI_Finalize would wait for it forever), every
    /// rank exits with the status at once, and Open MPI's mpirun then ends the lost ranks.
    pub fn end(&self, code: i32) {
        assert!(self.is_root(), "rank 0 ends the job");
        let code = if self.lost.borrow().is_empty() {
            code
        } else {
            exit::NODE_LOST
        };
        let mut waiting = self.live.borrow().reachable();
        for &rank in &waiting {
            self.send(rank, tag::END, encode(&code));
        }
        if code != 0 {
            self.flush_outbox();
            failure::exit_now(code);
        }
        while !waiting.is_empty() {
            waiting.retain(|&rank| {
                let goodbye = self
                    .world
                    .process_at_rank(rank as i32)
                    .immediate_matched_probe_with_tag(tag::END);
                match goodbye {
                    Some(message) => {
                        let _ = message.matched_receive_vec::<u8>();
                        self.heard(rank);
                        false
                    }
                    None => true,
                }
            });
            if !self.tend().is_empty() {
                // Those that said goodbye are in MPI_Finalize already; mpirun ends them.
                for rank in self.live.borrow().reachable() {
                    self.send(rank, tag::END, encode(&exit::NODE_LOST));
                }
                self.flush_outbox();
                failure::exit_now(exit::NODE_LOST);
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        self.flush_outbox();
    }

    /// A worker's side of `end`, polled by its main thread: false until rank 0's END arrives;
    /// then exits with its status, or (status 0) says goodbye and returns true, to finalize.
    pub(crate) fn ended(&self) -> bool {
        let Some(message) = self
            .world
            .process_at_rank(0)
            .immediate_matched_probe_with_tag(tag::END)
        else {
            return false;
        };
        self.heard(0);
        let code: i32 = decode(&message.matched_receive_vec::<u8>().0);
        if code != 0 {
            failure::exit_now(code);
        }
        self.send(0, tag::END, encode(&0));
        self.flush_outbox();
        true
    }

    /// Waits (tending) until every message sent so far has left, for at most the node timeout.
    fn flush_outbox(&self) {
        self.flush_outbox_for(self.live.borrow().timeout());
    }

    fn flush_outbox_for(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.outbox.borrow().is_empty() && Instant::now() < deadline {
            self.outbox.borrow_mut().progress();
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Rank 0: from now on (`Some`) SIGINT or SIGTERM stops the run at once, with `note` saying
    /// what is saved; `None` defers the signal again until the current step is done.
    pub fn on_interrupt(&self, note: Option<InterruptNote>) {
        *self.interrupt_note.borrow_mut() = note;
    }

    /// Acts on SIGINT or SIGTERM. Rank 0 in the task phase says what is saved, tells every worker
    /// to end and exits (its journal is flushed after every task, and this runs between tasks).
    /// A worker waits for that, and ends by itself if it does not come.
    fn stop_if_interrupted(&self, signal: &str) {
        if self.is_root() {
            let Some(text) = self.interrupt_note.borrow().as_ref().map(|note| note()) else {
                return;
            };
            failure::say(&format!("stopped by {signal}: {text}"));
            for rank in self.live.borrow().reachable() {
                self.send(rank, tag::END, encode(&failure::INTERRUPTED_STATUS));
            }
            self.flush_outbox_for(Duration::from_secs(1));
            failure::exit_now(failure::INTERRUPTED_STATUS);
        }
        let now = Instant::now();
        let first = self.interrupted_at.get().unwrap_or(now);
        self.interrupted_at.set(Some(first));
        if now.duration_since(first) > WORKER_GRACE {
            failure::say(&format!(
                "stopped by {signal}; rank 0 did not end the job within {} s",
                WORKER_GRACE.as_secs()
            ));
            failure::exit_now(failure::INTERRUPTED_STATUS);
        }
    }

    /// Ends every rank of the job with `message` (prefixed with this rank and host) and `code`.
    pub fn abort(&self, message: &str, code: i32) -> ! {
        failure::abort_job(message, code)
    }
}

/// Sends the parent process SIGTERM if it is Open MPI's daemon `orted` (a rank on a node started
/// over ssh), which then ends itself and the ranks it started. Under mpirun on the same host the
/// parent is mpirun itself, which is left alone.
fn end_parent_daemon() {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    let name = std::fs::read_to_string(format!("/proc/{parent}/comm")).unwrap_or_default();
    if name.trim() == "orted" {
        // The daemon forwards this rank's stderr to mpirun: give it the time to pass on the
        // message just written, which names the lost node for the user and scripts/run-resilient.
        std::thread::sleep(Duration::from_secs(1));
        // SAFETY: kill with a valid signal number only sends a signal.
        unsafe {
            libc::kill(parent, libc::SIGTERM);
        }
    }
}

/// Sends in flight: each message's bytes stay here until MPI reports the send complete, so no
/// send ever waits on its receiver (a silent peer would otherwise stall the main thread forever).
#[derive(Default)]
struct Outbox {
    pending: Vec<(Vec<u8>, mpi::ffi::MPI_Request)>,
}

impl Outbox {
    fn send(&mut self, comm: mpi::ffi::MPI_Comm, rank: usize, tag: i32, bytes: Vec<u8>) {
        let count = i32::try_from(bytes.len()).expect("runtime messages are under 2 GiB");
        // SAFETY: MPI is initialised and this is its thread. The buffer is the Vec's heap
        // allocation, which does not move when the Vec moves into `pending` and is kept there,
        // unchanged, until MPI_Test reports the send complete.
        let request = unsafe {
            let mut request = mpi::ffi::RSMPI_REQUEST_NULL;
            mpi::ffi::MPI_Isend(
                bytes.as_ptr().cast(),
                count,
                mpi::ffi::RSMPI_UINT8_T,
                rank as i32,
                tag,
                comm,
                &mut request,
            );
            request
        };
        self.pending.push((bytes, request));
    }

    /// Lets MPI move the pending sends on and forgets the completed ones.
    fn progress(&mut self) {
        self.pending.retain_mut(|(_, request)| {
            let mut done = 0;
            // SAFETY: `request` came from MPI_Isend and was not completed yet; MPI_Test completes
            // it (and sets it to MPI_REQUEST_NULL) when `done` comes back non-zero.
            unsafe {
                mpi::ffi::MPI_Test(request, &mut done, mpi::ffi::RSMPI_STATUS_IGNORE);
            }
            done == 0
        });
    }

    fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Serialises a value for the wire: MessagePack with field names, self-describing (so that
/// untagged values such as `gamma = "scale"` or `0.05` travel) and exact for every f64, NaN
/// included. Encoding our own plain types cannot fail.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("runtime messages are plain serialisable data")
}

/// Deserialises a value from the wire; a malformed message means ranks run different builds.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> T {
    match rmp_serde::from_slice(bytes) {
        Ok(value) => value,
        Err(err) => failure::abort_job(
            &format!("malformed message between ranks ({err}); every node must run the same triton-batch build"),
            3,
        ),
    }
}
