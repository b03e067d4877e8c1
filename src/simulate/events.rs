//! The scheduler's two schedules replayed on recorded task costs, as plain arithmetic (no MPI, no
//! clock): the static scatter (each rank runs its even, contiguous share) and the dynamic one
//! (guided chunks answered in the order requests are sent; a worker sends its next request when
//! the last task of a multi-task chunk starts, or when a single-task chunk ends; all ranks ask at
//! time 0 in rank order). The rules themselves, `static_share`, `guided_chunk` and `asks_ahead`,
//! are the scheduler's own functions.
//!
//! A task's time on a rank is its recorded cost divided by the rank's speed. Messages take no
//! time, so the answer to a request is there when the rank needs it.

use crate::runtime::scheduler::{asks_ahead, guided_chunk, static_share};

/// What one schedule does with the tasks on one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// When the last rank finishes its last task, counted from the first request.
    pub makespan: f64,
    /// Seconds each rank spends running tasks, in rank order.
    pub busy: Vec<f64>,
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

/// The static schedule: rank `r` runs the tasks `static_share(r, ranks, n)`, from time 0.
pub fn static_scatter(costs: &[f64], speeds: &[f64]) -> Outcome {
    let busy: Vec<f64> = (0..speeds.len())
        .map(|rank| {
            let share = static_share(rank, speeds.len(), costs.len());
            costs[share].iter().map(|c| c / speeds[rank]).sum()
        })
        .collect();
    Outcome {
        makespan: busy.iter().copied().fold(0.0, f64::max),
        busy,
    }
}

/// The dynamic schedule: requests are answered in the order they are sent, each with the next
/// `guided_chunk` of the queue; a rank runs its chunk once its current one is done and asks again
/// as `asks_ahead` says: when the last task of a multi-task chunk starts, or when a single-task
/// chunk ends. An empty answer stops the rank.
pub fn dynamic_guided(costs: &[f64], speeds: &[f64]) -> Outcome {
    let ranks = speeds.len();
    let mut busy = vec![0.0; ranks];
    // When each rank's current work ends.
    let mut free_at = vec![0.0; ranks];
    // Each rank's unanswered request: (time sent, send order), the order breaking ties.
    let mut requests: Vec<Option<(f64, usize)>> = (0..ranks).map(|r| Some((0.0, r))).collect();
    let mut sent = ranks;
    let mut next_task = 0;
    while let Some(rank) = first_request(&requests) {
        requests[rank] = None;
        let chunk = guided_chunk(costs.len() - next_task, ranks);
        let mut clock = free_at[rank];
        for (i, cost) in costs[next_task..next_task + chunk].iter().enumerate() {
            if i + 1 == chunk && asks_ahead(chunk) {
                requests[rank] = Some((clock, sent));
                sent += 1;
            }
            clock += cost / speeds[rank];
        }
        if chunk > 0 && !asks_ahead(chunk) {
            requests[rank] = Some((clock, sent));
            sent += 1;
        }
        busy[rank] += clock - free_at[rank];
        free_at[rank] = clock;
        next_task += chunk;
    }
    Outcome {
        makespan: free_at.iter().copied().fold(0.0, f64::max),
        busy,
    }
}

/// The rank whose request the coordinator sees first.
fn first_request(requests: &[Option<(f64, usize)>]) -> Option<usize> {
    requests
        .iter()
        .enumerate()
        .filter_map(|(rank, request)| request.map(|(time, order)| (time, order, rank)))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, _, rank)| rank)
}

#[cfg(test)]
mod tests {
    use super::*;

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
                static_scatter(&costs, &speeds),
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
        assert!(close(static_scatter(&costs, &[0.5]).makespan, 12.0));
    }

    #[test]
    fn static_shares_are_contiguous_with_the_larger_share_last() {
        // 5 tasks on 2 ranks: tasks 0..2 and 2..5.
        let outcome = static_scatter(&[1.0, 2.0, 4.0, 8.0, 16.0], &[1.0, 1.0]);
        assert_eq!(outcome.busy, vec![3.0, 28.0]);
        assert_eq!(outcome.makespan, 28.0);
        assert_eq!((outcome.busiest(), outcome.idlest()), (1, 0));
        // More ranks than tasks: the first shares are empty.
        let outcome = static_scatter(&[1.0, 1.0], &[1.0; 4]);
        assert_eq!(outcome.busy, vec![0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn one_slow_rank_holds_up_static_but_not_dynamic() {
        // 100 one-second tasks; three ranks at speed 1 and one at half speed.
        let costs = vec![1.0; 100];
        let speeds = [1.0, 1.0, 1.0, 0.5];
        let fixed = static_scatter(&costs, &speeds);
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
}
