//! Hands tasks to ranks and brings their outputs back to rank 0.
//!
//! Every rank, rank 0 included, runs the same worker loop: ask for a chunk of task ids, run them,
//! send each output back as soon as it is done. Rank 0's main thread is the coordinator: it answers
//! requests (chunks shrink as the queue empties under the dynamic schedule; one fixed, even share
//! per rank under the static one), passes each output to the caller's sink in arrival order, and
//! sleeps between polls so that coordinating costs no core. Rank 0's worker loop runs on a second
//! thread and talks to the coordinator over channels; only the main thread calls MPI.
//!
//! Which rank runs a task never changes its output (task streams come from the seed and task id),
//! so callers that reduce by task id get the same numbers under any schedule and rank count.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::Instant;

use mpi::point_to_point::{MatchedReceiveVec, Source};
use mpi::topology::Communicator;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{decode, encode, failure, tag, Cluster, POLL_INTERVAL};
use crate::cli::Schedule;

/// A set of independent tasks, identified by `0..n`, that any rank can run.
pub trait Tasks: Sync {
    type Output: Serialize + DeserializeOwned + Send;
    fn run(&self, task: usize) -> anyhow::Result<Self::Output>;
}

/// A job that needs no per-rank working state runs its tasks itself.
impl<T: Tasks> Tasks for &T {
    type Output = T::Output;
    fn run(&self, task: usize) -> anyhow::Result<T::Output> {
        (**self).run(task)
    }
}

/// One task's output as it reaches rank 0.
#[derive(Debug, Serialize, Deserialize)]
pub struct Completed<O> {
    pub task: usize,
    pub rank: usize,
    /// Time spent running the task, for load-balance tables and cost models.
    pub seconds: f64,
    /// The rank's peak resident memory so far, in MB.
    pub peak_rss_mb: f64,
    pub output: O,
}

/// Runs `pending` (meaningful on rank 0) over all ranks and passes every output to `sink` on rank
/// 0. Returns on every rank once all tasks are done. A task that fails ends the whole job.
pub fn run<T: Tasks>(
    cluster: &Cluster,
    tasks: &T,
    pending: &[usize],
    schedule: Schedule,
    sink: impl FnMut(Completed<T::Output>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if !cluster.is_root() {
        work(tasks, cluster.rank(), &mut MpiLink { cluster });
        return Ok(());
    }
    let (event_tx, event_rx) = mpsc::channel();
    let (assign_tx, assign_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut link = ChannelLink {
                events: event_tx,
                assignments: assign_rx,
            };
            work(tasks, 0, &mut link);
        });
        let coordinator = Coordinator::new(cluster, pending, schedule);
        coordinator.run(event_rx, assign_tx, sink)
    })
}

/// A worker's line to the coordinator.
trait Link<O> {
    fn request(&mut self);
    /// Blocks (without spinning) until the coordinator answers; empty means no work is left.
    fn next_assignment(&mut self) -> Vec<usize>;
    fn deliver(&mut self, completed: Completed<O>);
}

/// The worker loop. Whether a request for the next chunk goes out early, when the chunk's last
/// task starts, or when it ends, is `asks_ahead`'s rule.
fn work<T: Tasks>(tasks: &T, rank: usize, link: &mut impl Link<T::Output>) {
    let mut queue = VecDeque::new();
    link.request();
    let mut outstanding = true;
    let mut chunk_len = 0;
    let mut started_tasks = 0;
    loop {
        if queue.is_empty() {
            if !outstanding {
                link.request();
            }
            let assignment = link.next_assignment();
            outstanding = false;
            if assignment.is_empty() {
                return;
            }
            chunk_len = assignment.len();
            queue.extend(assignment);
        }
        let task = queue.pop_front().expect("queue refilled above");
        if queue.is_empty() && asks_ahead(chunk_len) {
            link.request();
            outstanding = true;
        }
        let started = Instant::now();
        let output = failure::injected(rank, started_tasks)
            .and_then(|()| tasks.run(task))
            .unwrap_or_else(|err| failure::abort_job(&format!("task {task} failed: {err:#}"), 1));
        started_tasks += 1;
        link.deliver(Completed {
            task,
            rank,
            seconds: started.elapsed().as_secs_f64(),
            peak_rss_mb: peak_rss_mb(),
            output,
        });
    }
}

struct MpiLink<'a> {
    cluster: &'a Cluster,
}

impl<O: Serialize> Link<O> for MpiLink<'_> {
    fn request(&mut self) {
        self.cluster.send(0, tag::REQUEST, &[]);
    }

    fn next_assignment(&mut self) -> Vec<usize> {
        decode(&self.cluster.receive_polling(0, tag::ASSIGN))
    }

    fn deliver(&mut self, completed: Completed<O>) {
        self.cluster.send(0, tag::RESULT, &encode(&completed));
    }
}

enum LocalEvent<O> {
    Request,
    Result(Completed<O>),
}

struct ChannelLink<O> {
    events: mpsc::Sender<LocalEvent<O>>,
    assignments: mpsc::Receiver<Vec<usize>>,
}

impl<O> Link<O> for ChannelLink<O> {
    fn request(&mut self) {
        // The coordinator outlives this thread (scoped), so the channel is open.
        let _ = self.events.send(LocalEvent::Request);
    }

    fn next_assignment(&mut self) -> Vec<usize> {
        self.assignments.recv().unwrap_or_default()
    }

    fn deliver(&mut self, completed: Completed<O>) {
        let _ = self.events.send(LocalEvent::Result(completed));
    }
}

/// Rank 0's bookkeeping: what is left to hand out, who has stopped, how many outputs came back.
struct Coordinator<'a> {
    cluster: &'a Cluster,
    schedule: Schedule,
    queue: VecDeque<usize>,
    /// Static schedule: each rank's share, handed out whole at its first request.
    shares: Vec<Option<Vec<usize>>>,
    expected: usize,
    received: usize,
    stopped: usize,
}

impl<'a> Coordinator<'a> {
    fn new(cluster: &'a Cluster, pending: &[usize], schedule: Schedule) -> Self {
        let size = cluster.size();
        super::progress::report_ranks(size, 0, 0);
        let shares = (0..size)
            .map(|rank| Some(pending[static_share(rank, size, pending.len())].to_vec()))
            .collect();
        Coordinator {
            cluster,
            schedule,
            queue: pending.iter().copied().collect(),
            shares,
            expected: pending.len(),
            received: 0,
            stopped: 0,
        }
    }

    fn run<O: DeserializeOwned>(
        mut self,
        events: mpsc::Receiver<LocalEvent<O>>,
        local_assignments: mpsc::Sender<Vec<usize>>,
        mut sink: impl FnMut(Completed<O>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let world = self.cluster.world();
        while self.stopped < self.cluster.size() || self.received < self.expected {
            let mut idle = true;
            while let Some((message, status)) = world.any_process().immediate_matched_probe() {
                idle = false;
                let rank = status.source_rank() as usize;
                let (bytes, _) = (message, status).matched_receive_vec::<u8>();
                match status.tag() {
                    tag::REQUEST => {
                        let chunk = self.next_chunk(rank);
                        self.cluster.send(rank, tag::ASSIGN, &encode(&chunk));
                    }
                    tag::RESULT => self.accept(decode(&bytes), &mut sink)?,
                    other => anyhow::bail!("unexpected message tag {other} from rank {rank}"),
                }
            }
            while let Ok(event) = events.try_recv() {
                idle = false;
                match event {
                    LocalEvent::Request => {
                        let chunk = self.next_chunk(0);
                        let _ = local_assignments.send(chunk);
                    }
                    LocalEvent::Result(completed) => self.accept(completed, &mut sink)?,
                }
            }
            if idle {
                std::thread::sleep(POLL_INTERVAL);
            }
        }
        Ok(())
    }

    fn accept<O>(
        &mut self,
        completed: Completed<O>,
        sink: &mut impl FnMut(Completed<O>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.received += 1;
        sink(completed)
    }

    /// The next chunk for `rank`; empty (and the rank counted as stopped) when nothing is left.
    fn next_chunk(&mut self, rank: usize) -> Vec<usize> {
        let chunk = match self.schedule {
            Schedule::Static => self.shares[rank].take().unwrap_or_default(),
            Schedule::Dynamic => {
                let size = guided_chunk(self.queue.len(), self.cluster.size());
                self.queue.drain(..size).collect()
            }
        };
        if chunk.is_empty() {
            self.stopped += 1;
            let size = self.cluster.size();
            super::progress::report_ranks(size - self.stopped, self.stopped, 0);
        }
        chunk
    }
}

/// The static schedule's share of `rank` among `size` ranks: positions in the pending list, even
/// and contiguous, handed out whole at the rank's first request. This and `guided_chunk` are the
/// rules `simulate` replays on recorded task times, so the model cannot drift from the scheduler.
pub(crate) fn static_share(rank: usize, size: usize, pending: usize) -> std::ops::Range<usize> {
    rank * pending / size..(rank + 1) * pending / size
}

/// Whether a worker asks for its next chunk when the last task of a chunk of `chunk_len` tasks
/// starts, so the answer is waiting when it ends. Only for chunks of several tasks: single-task
/// chunks are the tail of the queue, and a rank that asked ahead there would hold a task that a
/// faster rank, finishing sooner, could have started first (a Pi beside a desktop).
pub(crate) fn asks_ahead(chunk_len: usize) -> bool {
    chunk_len > 1
}

/// Guided self-scheduling: a chunk is a share of what remains, so early chunks amortise the round
/// trip and late ones are single tasks that even out the finish across ranks of unequal speed.
pub(crate) fn guided_chunk(remaining: usize, ranks: usize) -> usize {
    remaining.div_ceil(2 * ranks).min(remaining)
}

/// This process's peak resident set size in MB (VmHWM), 0 where /proc is unavailable.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::guided_chunk;

    #[test]
    fn guided_chunks_shrink_to_one_and_cover_the_queue() {
        let mut remaining = 100;
        let mut chunks = vec![];
        while remaining > 0 {
            let c = guided_chunk(remaining, 2);
            chunks.push(c);
            remaining -= c;
        }
        assert_eq!(chunks[0], 25);
        assert_eq!(*chunks.last().unwrap(), 1);
        assert!(chunks.windows(2).all(|w| w[0] >= w[1]));
    }
}
