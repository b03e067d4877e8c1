//! Hands tasks to ranks and brings their outputs back to rank 0.
//!
//! Every rank, rank 0 included, runs the same worker loop on a compute thread: ask for a chunk of
//! task ids, run them, send each output back as soon as it is done. The main thread of every rank
//! owns MPI and only communicates (see `runtime`): on a worker it relays between its compute
//! thread and rank 0 and keeps the heartbeats going; on rank 0 it is the coordinator, which
//! answers requests (chunks shrink as the queue empties under the dynamic schedule; one fixed,
//! even share per rank under the static one), passes each output to the caller's sink in arrival
//! order, and sleeps between polls so that coordinating costs no core.
//!
//! What to hand out is `Book`'s plain bookkeeping: a lost rank's unfinished tasks go back to the
//! queue, only the first output of a task reaches the sink, and a request finds no answer (it
//! waits) while nothing is queued but tasks are still out, since a lost rank may yet give some
//! back. Workers learn that the job is over from `Cluster::end`.
//!
//! Under the dynamic schedule the queue goes out largest task first, by the job's predicted costs
//! (`Tasks::cost`) refined from the tasks finished so far (`costs::CostModel`): a long task started
//! last is what keeps a run waiting at its end. Once the queue is down to single-task chunks, a
//! slow rank's request also waits when a faster rank, free sooner, would finish the task first
//! (`costs::tail_pick`): a Pi that draws the last big task holds up the desktop. Waiting requests
//! are looked at again after every output, request and lost rank (`Book::wake`). The static
//! schedule keeps its fixed shares in task order, the baseline to compare with.
//!
//! A job in phases (a halving search) gives more tasks once every task out so far is done:
//! `more` runs on rank 0 at that moment, and the ranks that were waiting get the new tasks; the
//! job is over when it gives none.
//!
//! Which rank runs a task never changes its output (task streams come from the seed and task id),
//! so callers that reduce by task id get the same numbers under any schedule, rank count or loss.

use std::collections::{BTreeSet, VecDeque};
use std::sync::mpsc;
use std::time::Instant;

use mpi::point_to_point::{MatchedReceiveVec, Source};
use mpi::topology::Communicator;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::costs::{cost_chunk, free_in, tail_pick, CostModel, Lane};
use super::{decode, encode, failure, tag, Cluster, Pace};

pub use super::costs::TaskCost;

/// How tasks are handed to ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Ranks ask rank 0 for chunks that shrink as the queue empties (faster ranks take more).
    Dynamic,
    /// An even, contiguous share of the tasks per rank, fixed up front.
    Static,
}

/// A schedule name that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown schedule \"{0}\"; allowed: dynamic, static")]
pub struct UnknownSchedule(String);

impl std::str::FromStr for Schedule {
    type Err = UnknownSchedule;

    fn from_str(name: &str) -> Result<Self, UnknownSchedule> {
        match name {
            "dynamic" => Ok(Schedule::Dynamic),
            "static" => Ok(Schedule::Static),
            other => Err(UnknownSchedule(other.to_string())),
        }
    }
}

/// A set of independent tasks, identified by `0..n`, that any rank can run.
pub trait Tasks: Sync {
    type Output: Serialize + DeserializeOwned + Send;
    fn run(&self, task: usize) -> anyhow::Result<Self::Output>;
    /// Threads each task runs on (`--threads`), reported with every output.
    fn threads(&self) -> usize {
        1
    }
    /// The task's predicted cost, from the job alone: the dynamic schedule hands out the largest
    /// first. Equal by default, which keeps the task-id order.
    fn cost(&self, _task: usize) -> TaskCost {
        TaskCost::EQUAL
    }
}

/// A job that needs no per-rank working state runs its tasks itself.
impl<T: Tasks> Tasks for &T {
    type Output = T::Output;
    fn run(&self, task: usize) -> anyhow::Result<T::Output> {
        (**self).run(task)
    }
    fn threads(&self) -> usize {
        (**self).threads()
    }
    fn cost(&self, task: usize) -> TaskCost {
        (**self).cost(task)
    }
}

/// One task's output as it reaches rank 0.
#[derive(Debug, Serialize, Deserialize)]
pub struct Completed<O> {
    pub task: usize,
    pub rank: usize,
    /// Time spent running the task, for load-balance tables and cost models.
    pub seconds: f64,
    /// When the task started on its rank, in seconds since the rank entered the scheduler (each
    /// rank's own clock: for timelines, not for ordering events across ranks).
    pub started_seconds: f64,
    /// The rank's peak resident memory so far, in MB.
    pub peak_rss_mb: f64,
    /// Threads the rank ran the task on.
    pub threads: usize,
    pub output: O,
}

/// Runs `pending` (meaningful on rank 0) over all ranks and passes every output to `sink` on rank
/// 0, then the tasks `more` gives each time all are done, and returns there once `more` gives
/// none; lost ranks are in `Cluster::lost`. On a worker it returns when rank 0 ends the job with
/// status 0 (other statuses end the process). A task that fails, or a sink or `more` that fails,
/// ends the whole job at once.
pub fn run<T: Tasks>(
    cluster: &Cluster,
    tasks: &T,
    pending: &[usize],
    schedule: Schedule,
    mut sink: impl FnMut(Completed<T::Output>) -> anyhow::Result<()>,
    mut more: impl FnMut() -> anyhow::Result<Vec<usize>>,
) {
    let (event_tx, event_rx) = mpsc::channel();
    let (assign_tx, assign_rx) = mpsc::channel();
    let rank = cluster.rank();
    let epoch = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut link = ChannelLink {
                events: event_tx,
                assignments: assign_rx,
            };
            work(tasks, rank, epoch, &mut link);
        });
        if cluster.is_root() {
            let costs = task_costs(tasks, pending);
            let mut book = Book::new(pending, costs, cluster.size(), schedule);
            let mut next_phase = || {
                let next = more()?;
                Ok(next
                    .into_iter()
                    .map(|task| (task, tasks.cost(task)))
                    .collect())
            };
            coordinate(
                cluster,
                &mut book,
                epoch,
                &event_rx,
                &assign_tx,
                &mut sink,
                &mut next_phase,
            );
        } else {
            relay(cluster, &event_rx, &assign_tx);
        }
        // Every task is done, so the compute thread waits for a chunk: closing its channel ends
        // it, and the scope's join is immediate.
        drop(assign_tx);
    });
}

/// Every pending task's predicted cost, by task id.
pub(crate) fn task_costs<T: Tasks>(tasks: &T, pending: &[usize]) -> Vec<TaskCost> {
    let end = pending.iter().max().map_or(0, |&last| last + 1);
    (0..end).map(|task| tasks.cost(task)).collect()
}

/// A worker's line to its main thread.
trait Link<O> {
    fn request(&mut self);
    /// Blocks (without spinning) until the coordinator answers; empty means no work is left.
    fn next_assignment(&mut self) -> Vec<usize>;
    fn deliver(&mut self, completed: Completed<O>);
}

/// The worker loop. Whether a request for the next chunk goes out early, when the chunk's last
/// task starts, or when it ends, is `asks_ahead`'s rule.
fn work<T: Tasks>(tasks: &T, rank: usize, epoch: Instant, link: &mut impl Link<T::Output>) {
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
            started_seconds: started.duration_since(epoch).as_secs_f64(),
            peak_rss_mb: peak_rss_mb(),
            threads: tasks.threads(),
            output,
        });
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
        // The main thread outlives this thread (scoped), so the channel is open.
        let _ = self.events.send(LocalEvent::Request);
    }

    fn next_assignment(&mut self) -> Vec<usize> {
        self.assignments.recv().unwrap_or_default()
    }

    fn deliver(&mut self, completed: Completed<O>) {
        let _ = self.events.send(LocalEvent::Result(completed));
    }
}

/// A worker's main thread: passes its compute thread's requests and outputs to rank 0 and rank
/// 0's chunks back, until rank 0 ends the job. Once rank 0 has written this rank off (it was
/// silent too long) nothing more goes out.
fn relay<O: Serialize>(
    cluster: &Cluster,
    events: &mpsc::Receiver<LocalEvent<O>>,
    assignments: &mpsc::Sender<Vec<usize>>,
) {
    let root = cluster.world().process_at_rank(0);
    let mut retired = false;
    let (mut pace, mut woken_by) = (Pace::new(), None);
    loop {
        cluster.tend();
        if cluster.ended() {
            return;
        }
        let mut idle = true;
        for message_tag in [tag::ASSIGN, tag::RETIRED] {
            while let Some(message) = root.immediate_matched_probe_with_tag(message_tag) {
                idle = false;
                cluster.heard(0);
                let bytes = message.matched_receive_vec::<u8>().0;
                if message_tag == tag::RETIRED {
                    retired = true;
                } else if !retired {
                    let _ = assignments.send(decode(&bytes));
                }
            }
        }
        while let Some(event) = next_event(&mut woken_by, events) {
            idle = false;
            if retired {
                continue;
            }
            match event {
                LocalEvent::Request => cluster.send(0, tag::REQUEST, vec![]),
                LocalEvent::Result(completed) => cluster.send(0, tag::RESULT, encode(&completed)),
            }
        }
        woken_by = wait_for_event(&mut pace, (idle, cluster.sending()), events);
    }
}

/// The event the main thread woke up for, else the next one queued.
fn next_event<O>(
    woken_by: &mut Option<LocalEvent<O>>,
    events: &mpsc::Receiver<LocalEvent<O>>,
) -> Option<LocalEvent<O>> {
    woken_by.take().or_else(|| events.try_recv().ok())
}

/// After a poll that found nothing (`idle`), sleeps as `pace` says (short while messages are
/// still going out, `sending`), but wakes at once for an event of this rank's compute thread,
/// which it returns: messages from other ranks wait for the next poll, this rank's own requests
/// and outputs do not. After a poll that found something, returns at once.
fn wait_for_event<O>(
    pace: &mut Pace,
    (idle, sending): (bool, bool),
    events: &mpsc::Receiver<LocalEvent<O>>,
) -> Option<LocalEvent<O>> {
    if !idle || sending {
        pace.active();
    }
    if !idle {
        return None;
    }
    events.recv_timeout(pace.idle()).ok()
}

/// Rank 0's main thread until every task is done and `more` gives none.
fn coordinate<O: DeserializeOwned>(
    cluster: &Cluster,
    book: &mut Book,
    epoch: Instant,
    events: &mpsc::Receiver<LocalEvent<O>>,
    local_assignments: &mpsc::Sender<Vec<usize>>,
    sink: &mut impl FnMut(Completed<O>) -> anyhow::Result<()>,
    more: &mut impl FnMut() -> anyhow::Result<Vec<(usize, TaskCost)>>,
) {
    let assign = |rank: usize, chunk: Vec<usize>| {
        if rank == 0 {
            let _ = local_assignments.send(chunk);
        } else {
            cluster.send(rank, tag::ASSIGN, encode(&chunk));
        }
    };
    let mut accept = |book: &mut Book, completed: Completed<O>| {
        if book.complete(completed.rank, completed.task, completed.seconds) {
            if let Err(err) = sink(completed) {
                // At once, not after rank 0's own running task.
                cluster.abort(&format!("{err:#}"), 1);
            }
        }
    };
    let world = cluster.world();
    let (mut pace, mut woken_by) = (Pace::new(), None);
    loop {
        book.at(epoch.elapsed().as_secs_f64());
        if book.all_done() {
            let next = more().unwrap_or_else(|err| cluster.abort(&format!("{err:#}"), 1));
            if next.is_empty() {
                return;
            }
            for (waiting, chunk) in book.extend(&next) {
                assign(waiting, chunk);
            }
        }
        for rank in cluster.tend() {
            for (parked, chunk) in book.lose(rank) {
                assign(parked, chunk);
            }
        }
        let mut idle = true;
        while let Some((message, status)) = world.any_process().immediate_matched_probe() {
            idle = false;
            let rank = status.source_rank() as usize;
            let (bytes, _) = (message, status).matched_receive_vec::<u8>();
            if cluster.heard(rank) {
                continue;
            }
            match status.tag() {
                tag::REQUEST => {
                    if let Some(chunk) = book.request(rank) {
                        assign(rank, chunk);
                    }
                }
                tag::RESULT => accept(book, decode(&bytes)),
                tag::HEARTBEAT => {}
                other => cluster.abort(
                    &format!("unexpected message tag {other} from rank {rank}"),
                    1,
                ),
            }
            for (parked, chunk) in book.wake() {
                assign(parked, chunk);
            }
        }
        while let Some(event) = next_event(&mut woken_by, events) {
            idle = false;
            match event {
                LocalEvent::Request => {
                    if let Some(chunk) = book.request(0) {
                        assign(0, chunk);
                    }
                }
                LocalEvent::Result(completed) => accept(book, completed),
            }
            for (parked, chunk) in book.wake() {
                assign(parked, chunk);
            }
        }
        woken_by = wait_for_event(&mut pace, (idle, cluster.sending()), events);
    }
}

/// Rank 0's bookkeeping, free of MPI (and of the clock: `at` sets the time, so that `simulate`
/// drives the same book on simulated time): what is left to hand out, what each rank holds, which
/// outputs came back, which ranks wait for work and which are lost, and what finished tasks
/// taught about task costs and rank speeds.
pub(crate) struct Book {
    schedule: Schedule,
    queue: VecDeque<usize>,
    /// Static schedule: each rank's share, handed out whole at its first request.
    shares: Vec<Option<Vec<usize>>>,
    /// Per rank: tasks handed to it whose output has not come back.
    held: Vec<BTreeSet<usize>>,
    done: BTreeSet<usize>,
    expected: usize,
    /// Ranks whose request found nothing to hand out, in the order they asked.
    parked: Vec<usize>,
    lost: Vec<bool>,
    /// Predicted cost by task id (a task past the end counts as `TaskCost::EQUAL`).
    costs: Vec<TaskCost>,
    model: CostModel,
    /// Seconds since the start, as last set by `at`.
    now: f64,
    /// Per rank: when its current task started (as far as rank 0 can tell: when it was handed
    /// work while holding none, or when its previous output came back).
    since: Vec<f64>,
}

impl Book {
    pub(crate) fn new(
        pending: &[usize],
        costs: Vec<TaskCost>,
        size: usize,
        schedule: Schedule,
    ) -> Self {
        let shares = (0..size)
            .map(|rank| Some(pending[static_share(rank, size, pending.len())].to_vec()))
            .collect();
        let mut book = Book {
            schedule,
            queue: match schedule {
                Schedule::Dynamic => pending.iter().copied().collect(),
                Schedule::Static => VecDeque::new(),
            },
            shares,
            held: vec![BTreeSet::new(); size],
            done: BTreeSet::new(),
            expected: pending.len(),
            parked: vec![],
            lost: vec![false; size],
            costs,
            model: CostModel::new(size),
            now: 0.0,
            since: vec![0.0; size],
        };
        book.order_queue();
        book.report_ranks();
        book
    }

    /// Tells the progress display how many ranks work, wait and are lost.
    fn report_ranks(&self) {
        let lost = self.lost.iter().filter(|&&lost| lost).count();
        let idle = self.parked.len();
        super::progress::report_ranks(self.lost.len() - lost - idle, idle, lost);
    }

    /// Sets the time (seconds since the start) for what follows.
    pub(crate) fn at(&mut self, now: f64) {
        self.now = now;
    }

    pub(crate) fn all_done(&self) -> bool {
        self.done.len() == self.expected
    }

    fn cost(&self, task: usize) -> TaskCost {
        self.costs.get(task).copied().unwrap_or(TaskCost::EQUAL)
    }

    /// The chunk to send `rank` now, or `None` when its request waits (or it is lost).
    pub(crate) fn request(&mut self, rank: usize) -> Option<Vec<usize>> {
        if self.lost[rank] {
            return None;
        }
        let share = match self.schedule {
            Schedule::Static => self.shares[rank].take().filter(|s| !s.is_empty()),
            Schedule::Dynamic => None,
        };
        let chunk = share.unwrap_or_else(|| self.next_chunk(rank));
        if chunk.is_empty() {
            if !self.parked.contains(&rank) {
                self.parked.push(rank);
            }
            self.report_ranks();
            return None;
        }
        self.hand(rank, &chunk);
        Some(chunk)
    }

    /// Answers the waiting requests that now have work, in the order they asked: after an output
    /// (a rank is free, speeds are better known), a request or a lost rank.
    pub(crate) fn wake(&mut self) -> Vec<(usize, Vec<usize>)> {
        let mut chunks = vec![];
        // Another round while someone got work: a rank woken now changes what the next would see.
        let mut progress = true;
        while progress && !self.queue.is_empty() && !self.parked.is_empty() {
            progress = false;
            for rank in self.parked.clone() {
                let chunk = self.next_chunk(rank);
                if !chunk.is_empty() {
                    self.parked.retain(|&r| r != rank);
                    self.hand(rank, &chunk);
                    chunks.push((rank, chunk));
                    progress = true;
                }
            }
        }
        if !chunks.is_empty() {
            self.report_ranks();
        }
        chunks
    }

    fn hand(&mut self, rank: usize, chunk: &[usize]) {
        if self.held[rank].is_empty() {
            self.since[rank] = self.now;
        }
        self.held[rank].extend(chunk);
    }

    /// Which queued tasks `rank` gets: a guided chunk off the front; under the dynamic schedule
    /// largest first, no larger in estimated seconds than the rank's share of the queue's
    /// (`cost_chunk`: an even share until some task has finished, then in proportion to its
    /// speed), and in the tail (single-task chunks) what `pick_for` allows. Empty when the
    /// request is to wait.
    fn next_chunk(&mut self, rank: usize) -> Vec<usize> {
        let live = self.lost.iter().filter(|&&lost| !lost).count();
        let mut size = guided_chunk(self.queue.len(), live);
        if self.schedule == Schedule::Dynamic && size > 0 {
            self.order_queue();
            let share = if self.model.learned() {
                self.speed_share(rank)
            } else {
                1.0 / live as f64
            };
            let estimates: Vec<f64> = self.queue.iter().map(|&t| self.estimate(t)).collect();
            size = cost_chunk(
                estimates.iter().copied(),
                size,
                estimates.iter().sum(),
                share,
            );
            if size == 1 && self.model.learned() {
                return self
                    .pick_for(rank, &estimates)
                    .and_then(|position| self.queue.remove(position))
                    .into_iter()
                    .collect();
            }
        }
        self.queue.drain(..size).collect()
    }

    /// `rank`'s share of the live ranks' speed (speed: 1 / slowness).
    fn speed_share(&self, rank: usize) -> f64 {
        let speed = |r: usize| 1.0 / self.model.slowness(r);
        let total: f64 = (0..self.lost.len())
            .filter(|&r| !self.lost[r])
            .map(speed)
            .sum();
        speed(rank) / total
    }

    /// Dynamic schedule: the queue by estimated seconds, largest first (stable, so equal costs
    /// keep their order: task order, or a lost rank's tasks at the front).
    fn order_queue(&mut self) {
        if self.schedule != Schedule::Dynamic {
            return;
        }
        let mut queue = std::mem::take(&mut self.queue);
        queue
            .make_contiguous()
            .sort_by(|&a, &b| self.estimate(b).total_cmp(&self.estimate(a)));
        self.queue = queue;
    }

    /// A task's predicted seconds on a rank of average speed, as known now.
    fn estimate(&self, task: usize) -> f64 {
        self.model.estimate(self.cost(task))
    }

    /// The tail rule for `rank`'s request, given the queue's `estimates`: the queue position it
    /// gets, or `None` to wait.
    fn pick_for(&self, rank: usize, estimates: &[f64]) -> Option<usize> {
        let lanes: Vec<Lane> = (0..self.lost.len())
            .map(|r| {
                let slowness = self.model.slowness(r);
                let held: f64 = self.held[r].iter().map(|&task| self.estimate(task)).sum();
                Lane {
                    live: !self.lost[r],
                    slowness,
                    free_in: free_in(held * slowness, self.now - self.since[r]),
                }
            })
            .collect();
        tail_pick(estimates, &lanes, rank)
    }

    /// Records `task`'s output from `rank`, which took `seconds`; true when it is the first (the
    /// one to keep, and to learn from).
    pub(crate) fn complete(&mut self, rank: usize, task: usize, seconds: f64) -> bool {
        if self.held[rank].remove(&task) && !self.held[rank].is_empty() {
            // Its next task starts now.
            self.since[rank] = self.now;
        }
        let first = !self.lost[rank] && self.done.insert(task);
        if first {
            self.model.observe(rank, self.cost(task), seconds);
        }
        first
    }

    /// The next phase's tasks, with their predicted costs, join the book (all earlier ones are
    /// done). Returns the chunks for the ranks that were waiting, in the order they asked.
    pub(crate) fn extend(&mut self, phase: &[(usize, TaskCost)]) -> Vec<(usize, Vec<usize>)> {
        let tasks: Vec<usize> = phase.iter().map(|&(task, _)| task).collect();
        for &(task, cost) in phase {
            if task >= self.costs.len() {
                self.costs.resize(task + 1, TaskCost::EQUAL);
            }
            self.costs[task] = cost;
        }
        let tasks = &tasks[..];
        self.expected += tasks.len();
        let live: Vec<usize> = (0..self.lost.len()).filter(|&r| !self.lost[r]).collect();
        match self.schedule {
            Schedule::Dynamic => self.queue.extend(tasks),
            Schedule::Static => {
                for (i, &rank) in live.iter().enumerate() {
                    self.shares[rank] =
                        Some(tasks[static_share(i, live.len(), tasks.len())].to_vec());
                }
            }
        }
        let waiting = std::mem::take(&mut self.parked);
        let chunks = waiting
            .into_iter()
            .filter_map(|rank| Some((rank, self.request(rank)?)))
            .collect();
        self.report_ranks();
        chunks
    }

    /// `rank` is lost: what it held (and its static share, if it never asked) goes back to the
    /// front of the queue in task order. Returns the chunks for ranks that were waiting.
    pub(crate) fn lose(&mut self, rank: usize) -> Vec<(usize, Vec<usize>)> {
        self.lost[rank] = true;
        self.parked.retain(|&r| r != rank);
        let mut back: BTreeSet<usize> = std::mem::take(&mut self.held[rank]);
        back.extend(self.shares[rank].take().unwrap_or_default());
        for task in back.into_iter().rev() {
            if !self.done.contains(&task) {
                self.queue.push_front(task);
            }
        }
        let chunks = self.wake();
        self.report_ranks();
        chunks
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
    use super::*;

    /// Completes everything `rank` holds; returns the tasks whose outputs counted.
    fn outputs_of(book: &mut Book, rank: usize) -> Vec<usize> {
        let held: Vec<usize> = book.held[rank].iter().copied().collect();
        held.into_iter()
            .filter(|&task| book.complete(rank, task, 1.0))
            .collect()
    }

    #[test]
    fn a_lost_ranks_tasks_go_back_to_the_front_and_to_the_ranks_waiting() {
        let pending: Vec<usize> = (0..12).collect();
        let mut book = Book::new(&pending, vec![], 3, Schedule::Dynamic);
        let first = book.request(1).unwrap();
        assert_eq!(first, vec![0, 1]);
        let second = book.request(2).unwrap();
        assert_eq!(second, vec![2, 3]);
        assert!(book.complete(2, 2, 1.0));
        // Everyone else drains the queue and asks again.
        while let Some(chunk) = book.request(0) {
            for task in chunk {
                assert!(book.complete(0, task, 1.0));
            }
        }
        assert_eq!(outputs_of(&mut book, 1), vec![0, 1]);
        assert_eq!(book.request(1), None, "nothing queued: rank 1 waits");
        assert!(!book.all_done(), "task 3 is still out on rank 2");
        let handed = book.lose(2);
        let waiting: Vec<usize> = handed.iter().map(|(rank, _)| *rank).collect();
        assert_eq!(
            waiting,
            vec![0],
            "the first rank that waited gets the lost task"
        );
        assert_eq!(handed[0].1, vec![3]);
        assert!(
            !book.complete(2, 3, 1.0),
            "a lost rank's late output is ignored"
        );
        assert!(book.complete(0, 3, 1.0));
        assert!(
            !book.complete(1, 3, 1.0),
            "only the first output of a task counts"
        );
        assert!(book.all_done());
        assert_eq!(book.request(2), None);
    }

    #[test]
    fn a_static_share_never_asked_for_is_requeued_and_a_late_request_gets_it() {
        let pending: Vec<usize> = (10..19).collect();
        let mut book = Book::new(&pending, vec![], 3, Schedule::Static);
        assert_eq!(book.request(0).unwrap(), vec![10, 11, 12]);
        assert_eq!(book.request(1).unwrap(), vec![13, 14, 15]);
        assert!(book.complete(1, 13, 1.0));
        assert!(book.lose(2).is_empty(), "nobody waits yet");
        assert_eq!(outputs_of(&mut book, 0), vec![10, 11, 12]);
        let chunk = book.request(0).unwrap();
        assert_eq!(
            chunk,
            vec![16],
            "a guided chunk of the requeued share over 2 live ranks"
        );
        assert!(book.lose(1).is_empty());
        assert_eq!(
            book.queue,
            VecDeque::from(vec![14, 15, 17, 18]),
            "back to the front, in task order"
        );
    }

    fn costs(units: &[(usize, f64)]) -> Vec<TaskCost> {
        units
            .iter()
            .map(|&(class, units)| TaskCost { class, units })
            .collect()
    }

    #[test]
    fn the_dynamic_queue_goes_out_largest_first_and_static_shares_stay_in_task_order() {
        let predicted = costs(&[(0, 1.0), (0, 5.0), (0, 2.0), (0, 5.0), (0, 3.0), (0, 1.0)]);
        let pending: Vec<usize> = (0..6).collect();
        let mut book = Book::new(&pending, predicted.clone(), 1, Schedule::Dynamic);
        // Largest first, equal costs in task order; the guided chunk of 3 is cut to 2 by cost
        // (10 of the queue's 17 units reach half of it).
        assert_eq!(book.request(0).unwrap(), vec![1, 3]);
        assert_eq!(book.request(0).unwrap(), vec![4, 2]);
        let mut fixed = Book::new(&pending, predicted, 2, Schedule::Static);
        assert_eq!(fixed.request(0).unwrap(), vec![0, 1, 2]);
        assert_eq!(fixed.request(1).unwrap(), vec![3, 4, 5]);
    }

    #[test]
    fn finished_tasks_refine_the_order_per_class() {
        // Class 1 turns out ten times as costly per unit as class 0.
        let predicted = costs(&[(0, 10.0), (1, 8.0), (0, 6.0), (1, 5.0)]);
        let mut book = Book::new(&[0, 1, 2, 3], predicted, 1, Schedule::Dynamic);
        assert_eq!(book.request(0).unwrap(), vec![0, 1]);
        assert!(book.complete(0, 0, 10.0));
        assert!(book.complete(0, 1, 80.0));
        // Predicted 6 units against 5, but 6 s against 50 s.
        assert_eq!(book.request(0).unwrap(), vec![3]);
        assert_eq!(book.request(0).unwrap(), vec![2]);
    }

    /// Two ranks, six equal tasks: rank 0 runs one a second, rank 1 one in four seconds.
    fn fast_and_slow() -> Book {
        let mut book = Book::new(&(0..6).collect::<Vec<_>>(), vec![], 2, Schedule::Dynamic);
        assert_eq!(book.request(0).unwrap(), vec![0, 1]);
        assert_eq!(book.request(1).unwrap(), vec![2]);
        book.at(1.0);
        assert!(book.complete(0, 0, 1.0));
        // Asked ahead as task 1 starts; rank 1, never heard from, counts as average.
        assert_eq!(book.request(0).unwrap(), vec![3]);
        book.at(2.0);
        assert!(book.complete(0, 1, 1.0));
        book.at(3.0);
        assert!(book.complete(0, 3, 1.0));
        assert_eq!(book.request(0).unwrap(), vec![4]);
        book.at(4.0);
        assert!(book.complete(1, 2, 4.0));
        // Task 5 would take rank 1 about 4 s; rank 0 is free in about 1 s and takes 1 s.
        assert_eq!(book.request(1), None, "the slow rank waits");
        assert!(book.wake().is_empty(), "and nothing changed since");
        book
    }

    #[test]
    fn near_the_end_a_slow_rank_does_not_take_what_a_fast_rank_finishes_sooner() {
        let mut book = fast_and_slow();
        book.at(5.0);
        assert!(book.complete(0, 4, 1.0));
        assert!(book.wake().is_empty(), "rank 0 is free now: still its task");
        assert_eq!(book.request(0).unwrap(), vec![5]);
        book.at(6.0);
        assert!(book.complete(0, 5, 1.0));
        assert!(book.all_done());
    }

    #[test]
    fn a_fast_rank_lost_while_a_slow_one_waits_leaves_the_work_to_the_slow_one() {
        let mut book = fast_and_slow();
        book.at(4.5);
        assert_eq!(
            book.lose(0),
            vec![(1, vec![4])],
            "the only live rank gets the lost task at once"
        );
        book.at(8.5);
        assert!(book.complete(1, 4, 4.0));
        assert_eq!(book.request(1).unwrap(), vec![5], "and the rest");
        assert!(book.complete(1, 5, 4.0));
        assert!(book.all_done());
    }

    #[test]
    fn a_rank_waiting_on_a_faster_one_that_overruns_gets_the_task_at_the_next_event() {
        let mut book = fast_and_slow();
        // Rank 0's task 4 goes on and on; at the next event (here at 12 s) the overrun makes
        // rank 0's finish later than rank 1's own.
        book.at(12.0);
        assert_eq!(book.wake(), vec![(1, vec![5])]);
    }

    #[test]
    fn a_new_phase_goes_to_the_ranks_waiting_for_it() {
        for schedule in [Schedule::Dynamic, Schedule::Static] {
            let mut book = Book::new(&[0, 1, 2], vec![], 3, schedule);
            for rank in 0..3 {
                assert_eq!(book.request(rank), Some(vec![rank]), "{schedule:?}");
                assert!(book.complete(rank, rank, 1.0));
            }
            assert!(book.all_done());
            for rank in [2, 0, 1] {
                assert_eq!(
                    book.request(rank),
                    None,
                    "{schedule:?}: nothing yet, it waits"
                );
            }
            assert!(book.lose(1).is_empty());
            let phase: Vec<(usize, TaskCost)> =
                [7, 8, 9, 10].map(|task| (task, TaskCost::EQUAL)).to_vec();
            let chunks = book.extend(&phase);
            assert!(!book.all_done());
            let ranks: Vec<usize> = chunks.iter().map(|(rank, _)| *rank).collect();
            assert_eq!(
                ranks,
                vec![2, 0],
                "{schedule:?}: the live ranks that wait, in order"
            );
            // Each rank finishes what it got and asks again, until the phase is done.
            let mut out: VecDeque<(usize, Vec<usize>)> = chunks.into();
            let mut handed = vec![];
            while let Some((rank, chunk)) = out.pop_front() {
                for task in chunk {
                    assert!(book.complete(rank, task, 1.0));
                    handed.push(task);
                }
                out.extend(book.request(rank).map(|chunk| (rank, chunk)));
                out.extend(book.wake());
            }
            handed.sort_unstable();
            assert_eq!(handed, vec![7, 8, 9, 10], "{schedule:?}");
            assert!(book.all_done(), "{schedule:?}");
        }
    }

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
