//! The scheduler's two schedules replayed on recorded task costs, as plain arithmetic (no MPI, no
//! clock): the static scatter (each rank runs its even, contiguous share, `static_share`) and the
//! dynamic one, which drives the scheduler's own `Book` on simulated time (so the guided chunks,
//! the largest-first order refined from finished tasks and the speed-aware tail are the run's own
//! rules, not a copy), with workers that behave as the scheduler's: all ask at time 0 in rank
//! order, a worker asks for its next chunk when the last task of a multi-task chunk starts
//! (`asks_ahead`) or when a single-task chunk ends, and its output reaches rank 0 before that
//! request. Events at the same time are handled in the order they were made.
//!
//! A task's time on a rank is its recorded seconds times the threads model's ratio (the speedup
//! of the threads it ran on over the rank's, `thread_speedup`), divided by the rank's speed; on
//! the recorded run's own layout the ratio is exactly 1 and the seconds are the recorded ones.
//! Messages take no time, so the answer to a request is there when the rank needs it.

use std::collections::VecDeque;

use super::nodes::RankSpec;
use crate::runtime::costs::TaskCost;
use crate::runtime::scheduler::{asks_ahead, static_share, Book, Schedule};

/// Share of a task's one-thread time that its threads split (Amdahl's law): the SVC solver's
/// kernel rows and scans, a forest block's trees and a Monte Carlo block's paths spread; data
/// selection, the solver's serial steps and scoring set-up do not. 0.9 gives 1.82x on 2 threads
/// (`scripts/bench-threads` measures a C-chain task; the target is 1.7x or more), 3.1x
/// on 4, 4.7x on 7. An assumption for other thread counts than recorded: measure where you can.
pub const PARALLEL_FRACTION: f64 = 0.9;

/// How many times as fast a task runs on `threads` threads as on one, by Amdahl's law.
pub fn thread_speedup(threads: usize) -> f64 {
    let threads = threads.max(1) as f64;
    1.0 / ((1.0 - PARALLEL_FRACTION) + PARALLEL_FRACTION / threads)
}

/// The recorded tasks: seconds, the threads each ran on, and the predicted costs the dynamic
/// schedule orders by (all three in task order).
#[derive(Debug, Clone, Copy)]
pub struct Work<'a> {
    pub seconds: &'a [f64],
    pub threads: &'a [usize],
    pub predicted: &'a [TaskCost],
}

impl Work<'_> {
    fn len(&self) -> usize {
        self.seconds.len()
    }

    /// Task `task`'s seconds on a rank of `spec`.
    pub fn seconds_on(&self, task: usize, spec: RankSpec) -> f64 {
        let recorded = self.threads.get(task).copied().unwrap_or(1);
        let ratio = if recorded == spec.threads {
            1.0
        } else {
            thread_speedup(recorded) / thread_speedup(spec.threads)
        };
        self.seconds[task] * ratio / spec.speed
    }
}

/// One task's run in a simulated schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskRun {
    /// Position in the recording's task order.
    pub task: usize,
    pub rank: usize,
    pub start: f64,
    pub seconds: f64,
}

/// What one schedule does with the tasks on one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// When the last rank finishes its last task, counted from the first request.
    pub makespan: f64,
    /// Seconds each rank spends running tasks, in rank order.
    pub busy: Vec<f64>,
    /// Every task's run, in the order they started (ties: rank order for static, event order for
    /// dynamic).
    pub runs: Vec<TaskRun>,
}

impl Outcome {
    /// The rank with the most busy time (the first of equals).
    pub fn busiest(&self) -> usize {
        self.extreme(|a, b| b > a)
    }

    /// The rank with the least busy time (the first of equals).
    pub fn idlest(&self) -> usize {
        self.extreme(|a, b| b < a)
    }

    fn extreme(&self, better: impl Fn(f64, f64) -> bool) -> usize {
        (1..self.busy.len()).fold(0, |best, rank| {
            if better(self.busy[best], self.busy[rank]) {
                rank
            } else {
                best
            }
        })
    }
}

/// The static schedule: rank `r` runs the tasks `static_share(r, ranks, n)` in order, from time 0.
pub fn static_scatter(work: &Work, ranks: &[RankSpec]) -> Outcome {
    let mut runs = vec![];
    let busy: Vec<f64> = ranks
        .iter()
        .enumerate()
        .map(|(rank, &spec)| {
            let mut clock = 0.0;
            for task in static_share(rank, ranks.len(), work.len()) {
                let seconds = work.seconds_on(task, spec);
                runs.push(TaskRun {
                    task,
                    rank,
                    start: clock,
                    seconds,
                });
                clock += seconds;
            }
            clock
        })
        .collect();
    runs.sort_by(|a, b| a.start.total_cmp(&b.start));
    Outcome {
        makespan: busy.iter().copied().fold(0.0, f64::max),
        busy,
        runs,
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    /// A rank's request reaches rank 0.
    Request(usize),
    /// A rank's output reaches rank 0 (its task is done).
    Done(usize, usize),
}

/// A simulated worker: what it holds in its own queue, whether it runs a task, whether its last
/// request is unanswered.
#[derive(Debug, Clone, Default)]
struct Worker {
    queue: VecDeque<usize>,
    chunk_len: usize,
    running: bool,
    outstanding: bool,
}

struct Simulation<'a> {
    work: &'a Work<'a>,
    ranks: &'a [RankSpec],
    /// (time, order made, event), handled earliest first.
    events: Vec<(f64, usize, Event)>,
    made: usize,
    workers: Vec<Worker>,
    busy: Vec<f64>,
    runs: Vec<TaskRun>,
}

impl Simulation<'_> {
    fn push(&mut self, time: f64, event: Event) {
        self.events.push((time, self.made, event));
        self.made += 1;
    }

    fn pop(&mut self) -> Option<(f64, Event)> {
        let next = (0..self.events.len()).min_by(|&a, &b| {
            let (ta, oa, _) = self.events[a];
            let (tb, ob, _) = self.events[b];
            ta.total_cmp(&tb).then(oa.cmp(&ob))
        })?;
        let (time, _, event) = self.events.swap_remove(next);
        Some((time, event))
    }

    /// Rank 0's answer reaches `rank` at `time`.
    fn give(&mut self, rank: usize, chunk: Vec<usize>, time: f64) {
        let worker = &mut self.workers[rank];
        worker.chunk_len = chunk.len();
        worker.queue.extend(chunk);
        worker.outstanding = false;
        self.start_next(rank, time);
    }

    /// The worker loop of `scheduler::work`, from the moment `rank` is free at `time`.
    fn start_next(&mut self, rank: usize, time: f64) {
        let worker = &mut self.workers[rank];
        if worker.running {
            return;
        }
        let Some(task) = worker.queue.pop_front() else {
            if !worker.outstanding {
                worker.outstanding = true;
                self.push(time, Event::Request(rank));
            }
            return;
        };
        let ask_ahead = worker.queue.is_empty() && asks_ahead(worker.chunk_len);
        worker.running = true;
        if ask_ahead {
            worker.outstanding = true;
            self.push(time, Event::Request(rank));
        }
        let seconds = self.work.seconds_on(task, self.ranks[rank]);
        self.busy[rank] += seconds;
        self.runs.push(TaskRun {
            task,
            rank,
            start: time,
            seconds,
        });
        self.push(time + seconds, Event::Done(rank, task));
    }
}

/// The dynamic schedule, played by the scheduler's `Book` on simulated time (see the module
/// notes).
pub fn dynamic(work: &Work, ranks: &[RankSpec]) -> Outcome {
    let pending: Vec<usize> = (0..work.len()).collect();
    let mut book = Book::new(
        &pending,
        work.predicted.to_vec(),
        ranks.len(),
        Schedule::Dynamic,
    );
    let mut sim = Simulation {
        work,
        ranks,
        events: vec![],
        made: 0,
        workers: vec![Worker::default(); ranks.len()],
        busy: vec![0.0; ranks.len()],
        runs: vec![],
    };
    for rank in 0..ranks.len() {
        sim.workers[rank].outstanding = true;
        sim.push(0.0, Event::Request(rank));
    }
    while !book.all_done() {
        // The book never leaves work unassigned while a rank could take it, so events run out
        // only when everything is done.
        let (time, event) = sim
            .pop()
            .expect("the simulated schedule stalled with tasks left");
        book.at(time);
        match event {
            Event::Request(rank) => {
                if let Some(chunk) = book.request(rank) {
                    sim.give(rank, chunk, time);
                }
            }
            Event::Done(rank, task) => {
                book.complete(rank, task, work.seconds_on(task, ranks[rank]));
                sim.workers[rank].running = false;
            }
        }
        for (rank, chunk) in book.wake() {
            sim.give(rank, chunk, time);
        }
        if let Event::Done(rank, _) = event {
            sim.start_next(rank, time);
        }
    }
    let makespan = sim
        .runs
        .iter()
        .map(|run| run.start + run.seconds)
        .fold(0.0, f64::max);
    Outcome {
        makespan,
        busy: sim.busy,
        runs: sim.runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equal(costs: &[f64]) -> (Vec<usize>, Vec<TaskCost>) {
        (vec![1; costs.len()], vec![TaskCost::EQUAL; costs.len()])
    }

    fn specs(speeds: &[f64]) -> Vec<RankSpec> {
        speeds
            .iter()
            .map(|&speed| RankSpec { speed, threads: 1 })
            .collect()
    }

    fn static_scatter_(costs: &[f64], speeds: &[f64]) -> Outcome {
        let (threads, predicted) = equal(costs);
        let work = Work {
            seconds: costs,
            threads: &threads,
            predicted: &predicted,
        };
        static_scatter(&work, &specs(speeds))
    }

    fn dynamic_guided(costs: &[f64], speeds: &[f64]) -> Outcome {
        let (threads, predicted) = equal(costs);
        let work = Work {
            seconds: costs,
            threads: &threads,
            predicted: &predicted,
        };
        dynamic(&work, &specs(speeds))
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn equal_tasks_on_equal_ranks_split_evenly_under_both_schedules() {
        let costs = vec![0.5; 120];
        for ranks in [1, 2, 3, 4, 8] {
            let speeds = vec![1.0; ranks];
            let expected = 60.0 / ranks as f64;
            for outcome in [
                static_scatter_(&costs, &speeds),
                dynamic_guided(&costs, &speeds),
            ] {
                assert!(close(outcome.makespan, expected), "{ranks}: {outcome:?}");
                assert!(outcome.busy.iter().all(|&b| close(b, expected)));
            }
        }
    }

    #[test]
    fn speed_divides_every_cost() {
        let costs = [3.0, 1.0, 2.0];
        let one = dynamic_guided(&costs, &[4.0]);
        assert!(close(one.makespan, 1.5));
        assert!(close(static_scatter_(&costs, &[0.5]).makespan, 12.0));
    }

    #[test]
    fn static_shares_are_contiguous_with_the_larger_share_last() {
        // 5 tasks on 2 ranks: tasks 0..2 and 2..5.
        let outcome = static_scatter_(&[1.0, 2.0, 4.0, 8.0, 16.0], &[1.0, 1.0]);
        assert_eq!(outcome.busy, vec![3.0, 28.0]);
        assert_eq!(outcome.makespan, 28.0);
        assert_eq!((outcome.busiest(), outcome.idlest()), (1, 0));
        // More ranks than tasks: the first shares are empty.
        let outcome = static_scatter_(&[1.0, 1.0], &[1.0; 4]);
        assert_eq!(outcome.busy, vec![0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn one_slow_rank_holds_up_static_but_not_dynamic() {
        // 100 one-second tasks; three ranks at speed 1 and one at half speed.
        let costs = vec![1.0; 100];
        let speeds = [1.0, 1.0, 1.0, 0.5];
        let fixed = static_scatter_(&costs, &speeds);
        assert_eq!(fixed.makespan, 50.0);
        assert_eq!(fixed.busiest(), 3);
        let guided = dynamic_guided(&costs, &speeds);
        let ideal = 100.0 / 3.5;
        // At worst one task (2 s on the slow rank) past the perfect balance.
        assert!(
            guided.makespan >= ideal && guided.makespan <= ideal + 2.0,
            "{guided:?}"
        );
        let work: f64 = guided.busy.iter().zip(speeds).map(|(b, s)| b * s).sum();
        assert!(close(work, 100.0), "{guided:?}");
    }

    #[test]
    fn single_task_chunks_are_asked_for_only_when_done() {
        // 2 ranks, 4 tasks, chunks of 1. Rank 0 takes task 0 (10 s); rank 1 takes task 1 (1 s)
        // and, asking only when done, tasks 2 and 3 too. Had rank 0 asked ahead at t=0, task 2
        // would wait behind task 0 and the job end at 11.
        let outcome = dynamic_guided(&[10.0, 1.0, 1.0, 1.0], &[1.0, 1.0]);
        assert_eq!(outcome.makespan, 10.0);
        assert_eq!(outcome.busy, vec![10.0, 3.0]);
    }

    #[test]
    fn guided_chunks_go_to_ranks_in_request_order() {
        // 8 tasks on 2 ranks: rank 0 gets tasks 0-1, rank 1 tasks 2-3 (chunks of 2); rank 0 asks
        // again at t=1 (task 1 starts) and gets task 4, then one task per request; rank 1 asks
        // at t=100 (task 3 starts), after rank 0 has taken the rest.
        let costs = [1.0, 1.0, 100.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let outcome = dynamic_guided(&costs, &[1.0, 1.0]);
        assert_eq!(outcome.busy, vec![6.0, 101.0]);
        assert_eq!(outcome.makespan, 101.0);
    }

    #[test]
    fn near_the_end_the_slow_rank_leaves_the_last_tasks_to_the_fast_one() {
        // Eight 1 s tasks, a rank at full speed and one at a quarter. Rank 1 gets tasks 2-3 (4 s
        // each); when task 3 starts (t=4) it would ask ahead and, without the tail rule, draw
        // task 6 and end at 12 s. Rank 0, free at 4 s, runs both remaining tasks by 6 s.
        let outcome = dynamic_guided(&[1.0; 8], &[1.0, 0.25]);
        assert_eq!(outcome.busy, vec![6.0, 8.0]);
        assert_eq!(outcome.makespan, 8.0);
        let slow: Vec<usize> = outcome
            .runs
            .iter()
            .filter(|run| run.rank == 1)
            .map(|run| run.task)
            .collect();
        assert_eq!(slow, vec![2, 3]);
    }

    #[test]
    fn the_largest_predicted_task_goes_first() {
        let costs = [1.0, 1.0, 5.0, 1.0];
        let predicted: Vec<TaskCost> = [1.0, 1.0, 5.0, 1.0]
            .iter()
            .map(|&units| TaskCost { class: 0, units })
            .collect();
        let work = Work {
            seconds: &costs,
            threads: &[1; 4],
            predicted: &predicted,
        };
        // Two ranks: task 2 (5 s) starts at once instead of last, so the run takes 5 s, not 6.
        let outcome = dynamic(&work, &specs(&[1.0, 1.0]));
        assert_eq!(outcome.runs[0].task, 2);
        assert_eq!(outcome.makespan, 5.0);
        assert_eq!(dynamic_guided(&costs, &[1.0, 1.0]).makespan, 6.0);
    }

    #[test]
    fn threads_scale_recorded_seconds_by_the_speedup_ratio_and_replay_exactly() {
        assert_eq!(thread_speedup(1), 1.0);
        assert!((thread_speedup(2) - 1.0 / 0.55).abs() < 1e-12);
        let seconds = [3.3, 1.7];
        let work = Work {
            seconds: &seconds,
            threads: &[2, 2],
            predicted: &[TaskCost::EQUAL; 2],
        };
        let two = RankSpec {
            speed: 1.0,
            threads: 2,
        };
        // The recorded layout: the recorded seconds, bit for bit.
        assert_eq!(work.seconds_on(0, two), 3.3);
        let outcome = dynamic(&work, &[two]);
        assert_eq!(outcome.busy, vec![3.3 + 1.7]);
        let one = RankSpec {
            speed: 1.0,
            threads: 1,
        };
        assert!((work.seconds_on(1, one) - 1.7 * thread_speedup(2)).abs() < 1e-12);
        let four = RankSpec {
            speed: 0.5,
            threads: 4,
        };
        let expected = 1.7 * thread_speedup(2) / thread_speedup(4) / 0.5;
        assert!((work.seconds_on(1, four) - expected).abs() < 1e-12);
    }
}
