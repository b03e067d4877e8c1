//! What the dynamic schedule knows about task sizes and rank speeds, as plain arithmetic (no MPI,
//! no clock: times are passed in), so that `simulate` replays the same rules on recorded runs.
//!
//! - A job predicts each task's cost ([`TaskCost`]): a class (for a grid search, the SVC kernel
//!   and shrinking; forest and Monte Carlo blocks are one class of equal cost) and units (rows,
//!   features, the C values of a chain). Units of different classes need not be comparable.
//! - [`CostModel`] turns units into seconds as tasks finish: per class, seconds per unit over that
//!   class's finished tasks (any rank), and per rank, a slowness (its seconds over what its tasks
//!   took on average). Until a task of a class has finished, the mean rate of all classes stands in.
//! - [`tail_pick`] is the speed-aware tail: which queued task (if any) a requesting rank gets when
//!   the queue is down to single-task chunks. It plays the rest of the queue out greedily, largest
//!   task first, each to the rank that would finish it first; the requester gets the first task
//!   that no other rank would finish clearly sooner (by more than [`TAIL_SLACK`] of the
//!   requester's time). Giving nothing parks the request; the scheduler asks again at each event
//!   (an output, a request, a lost rank), so a faster rank that was expected to take the work and
//!   then did not (it went on longer, or was lost) leaves it to the requester at the next event.

use serde::{Deserialize, Serialize};

/// A task's predicted cost, from the job alone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TaskCost {
    /// Tasks of one class share a seconds-per-unit rate (learned as they finish).
    pub class: usize,
    /// Predicted work in the class's units, > 0.
    pub units: f64,
}

impl TaskCost {
    /// Blocks of a forest or of a Monte Carlo run: all alike, so their order stays the task order.
    pub const EQUAL: TaskCost = TaskCost {
        class: 0,
        units: 1.0,
    };
}

/// How much sooner another rank must finish a task (as a share of the requester's own time for
/// it) to keep the task from the requester: estimates are rough, and a rank that is idle now is
/// a sure thing while another's finish is a guess.
pub const TAIL_SLACK: f64 = 0.1;

/// Seconds per unit per class and slowness per rank, from the tasks finished so far.
#[derive(Debug, Clone, Default)]
pub struct CostModel {
    /// Per class: (seconds, units) of its finished tasks.
    classes: Vec<(f64, f64)>,
    /// Per rank: seconds of its finished tasks, and their units per class.
    ranks: Vec<(f64, Vec<f64>)>,
}

impl CostModel {
    pub fn new(ranks: usize) -> Self {
        CostModel {
            classes: vec![],
            ranks: vec![(0.0, vec![]); ranks],
        }
    }

    /// Whether any task has finished: before that, nothing is known about seconds or speeds.
    pub fn learned(&self) -> bool {
        self.classes.iter().any(|&(_, units)| units > 0.0)
    }

    /// `rank` finished a task of `cost` in `seconds`.
    pub fn observe(&mut self, rank: usize, cost: TaskCost, seconds: f64) {
        if !(seconds.is_finite() && cost.units > 0.0) {
            return;
        }
        if self.classes.len() <= cost.class {
            self.classes.resize(cost.class + 1, (0.0, 0.0));
        }
        self.classes[cost.class].0 += seconds;
        self.classes[cost.class].1 += cost.units;
        if self.ranks.len() <= rank {
            self.ranks.resize(rank + 1, (0.0, vec![]));
        }
        let (rank_seconds, units) = &mut self.ranks[rank];
        *rank_seconds += seconds;
        if units.len() <= cost.class {
            units.resize(cost.class + 1, 0.0);
        }
        units[cost.class] += cost.units;
    }

    /// Seconds per unit of `class`: its own finished tasks', else the mean over every class
    /// finished so far, else 1 (only the order of units matters then).
    fn rate(&self, class: usize) -> f64 {
        match self.classes.get(class) {
            Some(&(seconds, units)) if units > 0.0 => seconds / units,
            _ => {
                let (seconds, units) = self
                    .classes
                    .iter()
                    .fold((0.0, 0.0), |(s, u), &(cs, cu)| (s + cs, u + cu));
                if units > 0.0 {
                    seconds / units
                } else {
                    1.0
                }
            }
        }
    }

    /// Predicted seconds of a task on a rank of average speed.
    pub fn estimate(&self, cost: TaskCost) -> f64 {
        cost.units * self.rate(cost.class)
    }

    /// How many times as long as average `rank` takes for a task: its finished tasks' seconds
    /// over what they took on average. 1 for a rank that has finished nothing yet.
    pub fn slowness(&self, rank: usize) -> f64 {
        let Some((seconds, units)) = self.ranks.get(rank) else {
            return 1.0;
        };
        let expected: f64 = units
            .iter()
            .enumerate()
            .map(|(class, &u)| u * self.rate(class))
            .sum();
        if expected > 0.0 && *seconds > 0.0 {
            seconds / expected
        } else {
            1.0
        }
    }
}

/// A rank as the tail rule sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lane {
    /// Lost ranks take nothing.
    pub live: bool,
    /// `CostModel::slowness`.
    pub slowness: f64,
    /// Seconds until the work it holds is done (0 when it holds none).
    pub free_in: f64,
}

/// Seconds until a rank is done with the work it holds: `held` (seconds on it, as estimated),
/// of which the current task has run `elapsed`. One that has overrun the estimate is taken to
/// need as long again as it has run so far (the estimate was wrong, by an unknown amount).
pub fn free_in(held: f64, elapsed: f64) -> f64 {
    if held <= 0.0 {
        0.0
    } else if elapsed < held {
        held - elapsed
    } else {
        elapsed
    }
}

/// Which of the queued tasks (their estimated seconds on an average rank, in the order they go
/// out: largest first) `requester` gets, by position; `None` parks its request. See the module
/// notes. Always `Some` while the requester is the only live rank, so a task is never left
/// waiting for a rank that cannot come.
pub fn tail_pick(estimates: &[f64], lanes: &[Lane], requester: usize) -> Option<usize> {
    let mut free: Vec<f64> = lanes.iter().map(|lane| lane.free_in).collect();
    let own = lanes[requester];
    for (position, &estimate) in estimates.iter().enumerate() {
        let mine = own.free_in + estimate * own.slowness;
        let other = lanes
            .iter()
            .enumerate()
            .filter(|&(rank, lane)| rank != requester && lane.live)
            .map(|(rank, lane)| (free[rank] + estimate * lane.slowness, rank))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        match other {
            Some((finish, rank)) if finish < mine - TAIL_SLACK * estimate * own.slowness => {
                free[rank] = finish;
            }
            _ => return Some(position),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(slowness: f64, free_in: f64) -> Lane {
        Lane {
            live: true,
            slowness,
            free_in,
        }
    }

    #[test]
    fn rates_are_learned_per_class_and_slowness_per_rank() {
        let mut model = CostModel::new(2);
        assert!(!model.learned());
        let rbf = TaskCost {
            class: 1,
            units: 2.0,
        };
        let poly = TaskCost {
            class: 3,
            units: 2.0,
        };
        assert_eq!(model.estimate(rbf), 2.0, "units until something finishes");
        // Rank 0 runs an rbf task in 4 s, rank 1 (four times as slow) another in 16 s.
        model.observe(0, rbf, 4.0);
        model.observe(1, rbf, 16.0);
        assert!(model.learned());
        assert_eq!(model.estimate(rbf), 10.0, "5 s per unit");
        assert_eq!(
            model.estimate(poly),
            10.0,
            "an unseen class takes the mean rate"
        );
        assert_eq!(model.slowness(0), 0.4);
        assert_eq!(model.slowness(1), 1.6);
        model.observe(0, poly, 1.0);
        assert_eq!(model.estimate(poly), 1.0);
        assert_eq!(model.slowness(5), 1.0, "a rank never seen is average");
    }

    #[test]
    fn the_tail_keeps_a_task_from_a_slow_rank_when_a_fast_one_is_free_sooner() {
        // Rank 0 fast (slowness 0.5) and busy for 1 s more; rank 1 slow (2.0), asking now.
        let lanes = [lane(0.5, 1.0), lane(2.0, 0.0)];
        // One 4 s task: rank 1 would finish at 8 s, rank 0 at 3 s: it waits for rank 0.
        assert_eq!(tail_pick(&[4.0], &lanes, 1), None);
        // Two: rank 0 takes the first (3 s), the second would end at 5 s there, 8 s here: wait.
        assert_eq!(tail_pick(&[4.0, 4.0], &lanes, 1), None);
        // The third would end at 7 s there: still clearly (by more than the slack) before 8 s.
        assert_eq!(tail_pick(&[4.0; 3], &lanes, 1), None);
        // Four: the fourth would end at 9 s there, 8 s here: the slow rank takes it now.
        assert_eq!(tail_pick(&[4.0; 4], &lanes, 1), Some(3));
        // A small task after a large one: the slow rank takes the small one now.
        assert_eq!(tail_pick(&[8.0, 0.5], &lanes, 1), Some(1));
        // The fast rank asking takes the first.
        assert_eq!(tail_pick(&[4.0], &lanes, 0), Some(0));
    }

    #[test]
    fn the_only_live_rank_always_gets_a_task() {
        let mut lanes = [lane(0.1, 0.0), lane(5.0, 0.0)];
        assert_eq!(tail_pick(&[4.0], &lanes, 1), None);
        lanes[0].live = false;
        assert_eq!(tail_pick(&[4.0], &lanes, 1), Some(0));
        assert_eq!(tail_pick(&[4.0], &lanes[1..], 0), Some(0));
    }

    #[test]
    fn a_rank_that_overran_its_estimate_counts_as_busy_as_long_again() {
        assert_eq!(free_in(0.0, 3.0), 0.0);
        assert_eq!(free_in(10.0, 4.0), 6.0);
        assert_eq!(free_in(10.0, 12.0), 12.0);
    }
}
