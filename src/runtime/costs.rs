//! What the dynamic schedule knows about task sizes and rank speeds, as plain arithmetic (no MPI,
//! no clock: times are passed in), so that `simulate` replays the same rules on recorded runs.
//!
//! - A job predicts each task's cost ([`TaskCost`]): a class (for a grid search, the SVC kernel
//!   and shrinking; forest and Monte Carlo blocks are one class of equal cost) and units (rows,
//!   features, the C values of a chain). Units of different classes need not be comparable.
//! - [`CostModel`] turns units into seconds as tasks finish: per class, seconds per unit over that
//!   class's finished tasks (any rank), and per rank, a slowness (its seconds over what its tasks
//!   took on average). Until a task of a class has finished, the mean rate of all classes stands in.
//! - [`cost_chunk`] sizes a guided chunk in predicted seconds rather than in tasks: half the
//!   requester's share of the queue's estimated work, its share being in proportion to its speed
//!   once speeds are known (an even one before), so neither a Pi beside a desktop nor the first
//!   rank to ask, before anything is known, draws a chunk that alone outlasts the others' work (a
//!   grid's handful of C-chains ahead of its many single fits). Never larger than the even guided
//!   chunk in tasks; with equal tasks and speeds, exactly the guided chunk.
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
///
/// The two are fitted together (seconds ≈ units × rate(class) × slowness(rank)) by a few rounds
/// of alternating averages over the (rank, class) sums: a class run mostly by a Pi must not look
/// costly, nor that Pi fast on it. Slowness is scaled to a mean of 1 over the ranks that have
/// finished something, so a rank not yet heard from counts as average.
#[derive(Debug, Clone, Default)]
pub struct CostModel {
    /// Per rank, per class: (seconds, units) of its finished tasks.
    cells: Vec<Vec<(f64, f64)>>,
    /// Fitted from `cells` after every observation.
    rates: Vec<Option<f64>>,
    slowness: Vec<Option<f64>>,
    /// Seconds per unit over every finished task (a class not seen yet).
    mean_rate: Option<f64>,
}

/// Rounds of the alternating fit: plenty for a handful of classes and ranks (each round is a
/// pass over the (rank, class) sums).
const FIT_ROUNDS: usize = 12;

impl CostModel {
    pub fn new(ranks: usize) -> Self {
        CostModel {
            cells: vec![vec![]; ranks],
            ..CostModel::default()
        }
    }

    /// Whether any task has finished: before that, nothing is known about seconds or speeds.
    pub fn learned(&self) -> bool {
        self.mean_rate.is_some()
    }

    /// `rank` finished a task of `cost` in `seconds`.
    pub fn observe(&mut self, rank: usize, cost: TaskCost, seconds: f64) {
        if !(seconds.is_finite() && seconds > 0.0 && cost.units > 0.0) {
            return;
        }
        if self.cells.len() <= rank {
            self.cells.resize(rank + 1, vec![]);
        }
        let row = &mut self.cells[rank];
        if row.len() <= cost.class {
            row.resize(cost.class + 1, (0.0, 0.0));
        }
        row[cost.class].0 += seconds;
        row[cost.class].1 += cost.units;
        self.fit();
    }

    fn fit(&mut self) {
        let classes = self.cells.iter().map(Vec::len).max().unwrap_or(0);
        let cell = |rank: usize, class: usize| -> (f64, f64) {
            self.cells[rank].get(class).copied().unwrap_or((0.0, 0.0))
        };
        let mut slowness: Vec<Option<f64>> = self
            .cells
            .iter()
            .map(|row| row.iter().any(|&(_, u)| u > 0.0).then_some(1.0))
            .collect();
        let mut rates: Vec<Option<f64>> = vec![None; classes];
        for _ in 0..FIT_ROUNDS {
            for (class, rate) in rates.iter_mut().enumerate() {
                let (seconds, work) = (0..self.cells.len()).fold((0.0, 0.0), |(s, w), rank| {
                    let (cs, cu) = cell(rank, class);
                    (s + cs, w + cu * slowness[rank].unwrap_or(1.0))
                });
                *rate = (work > 0.0).then(|| seconds / work);
            }
            for (rank, slow) in slowness.iter_mut().enumerate() {
                if slow.is_none() {
                    continue;
                }
                let (seconds, expected) = (0..classes).fold((0.0, 0.0), |(s, e), class| {
                    let (cs, cu) = cell(rank, class);
                    (s + cs, e + cu * rates[class].unwrap_or(0.0))
                });
                *slow = Some(seconds / expected);
            }
            // Scale slowness to a mean of 1 (rates the other way): only their product is fixed.
            let known: Vec<f64> = slowness.iter().flatten().copied().collect();
            let mean = known.iter().sum::<f64>() / known.len().max(1) as f64;
            if mean > 0.0 && mean.is_finite() {
                for slow in slowness.iter_mut().flatten() {
                    *slow /= mean;
                }
                for rate in rates.iter_mut().flatten() {
                    *rate *= mean;
                }
            }
        }
        let (seconds, work) = (0..self.cells.len()).fold((0.0, 0.0), |(s, w), rank| {
            (0..classes).fold((s, w), |(s, w), class| {
                let (cs, cu) = cell(rank, class);
                (s + cs, w + cu * slowness[rank].unwrap_or(1.0))
            })
        });
        self.mean_rate = (work > 0.0).then(|| seconds / work);
        self.rates = rates;
        self.slowness = slowness;
    }

    /// Seconds per unit of `class`: its own finished tasks', else the mean over every finished
    /// task, else 1 (only the order of units matters then).
    fn rate(&self, class: usize) -> f64 {
        self.rates
            .get(class)
            .copied()
            .flatten()
            .or(self.mean_rate)
            .unwrap_or(1.0)
    }

    /// Predicted seconds of a task on a rank of average speed.
    pub fn estimate(&self, cost: TaskCost) -> f64 {
        cost.units * self.rate(cost.class)
    }

    /// How many times as long as average `rank` takes for a task. 1 for a rank that has
    /// finished nothing yet.
    pub fn slowness(&self, rank: usize) -> f64 {
        self.slowness.get(rank).copied().flatten().unwrap_or(1.0)
    }
}

/// How many of the queue's first tasks (`front`: their estimated seconds, in the order they go
/// out) make a rank's chunk: at most `guided` tasks, taken while the chunk's estimate is below
/// half of `share` of the queue's estimated seconds `remaining` (so at least one). Equal tasks
/// give the rounded-up share in tasks, and with an even share that is `guided` itself.
pub fn cost_chunk(
    front: impl IntoIterator<Item = f64>,
    guided: usize,
    remaining: f64,
    share: f64,
) -> usize {
    let budget = remaining * share / 2.0;
    if !budget.is_finite() {
        return guided.min(1);
    }
    let mut chunk = 0;
    let mut seconds = 0.0;
    for estimate in front.into_iter().take(guided) {
        if chunk > 0 && seconds >= budget {
            break;
        }
        chunk += 1;
        seconds += estimate;
    }
    chunk
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
        assert_eq!(model.slowness(5), 1.0, "a rank never seen is average");
        // Poly, seen on the fast rank only: 1 s there is 2.5 s on an average rank.
        model.observe(0, poly, 1.0);
        let poly_estimate = model.estimate(poly);
        assert!((poly_estimate - 2.5).abs() < 0.3, "{poly_estimate}");
    }

    #[test]
    fn a_class_run_only_by_a_slow_rank_does_not_make_it_look_fast() {
        // Rank 0 runs class 0 in 1 s a unit, rank 1 (four times as slow) class 0 at 4 s a unit
        // and class 1, which only it has run, at 8 s a unit.
        let mut model = CostModel::new(2);
        let task = |class| TaskCost { class, units: 1.0 };
        for _ in 0..3 {
            model.observe(0, task(0), 1.0);
        }
        model.observe(1, task(0), 4.0);
        model.observe(1, task(1), 8.0);
        let ratio = model.slowness(1) / model.slowness(0);
        assert!((ratio - 4.0).abs() < 1e-3, "{ratio}");
        let per_class = model.estimate(task(1)) / model.estimate(task(0));
        assert!((per_class - 2.0).abs() < 1e-3, "{per_class}");
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
    fn chunks_follow_cost_and_speed_and_never_exceed_the_guided_chunk() {
        // Three equal ranks, equal tasks: exactly the guided chunk, including exact integer shares.
        for remaining in 0..200 {
            let guided = crate::runtime::scheduler::guided_chunk(remaining, 3);
            let front = vec![0.7; remaining];
            let chunk = cost_chunk(front, guided, 0.7 * remaining as f64, 1.0 / 3.0);
            assert_eq!(chunk, guided, "{remaining}");
        }
        // A desktop (speed 4) beside two Pis (1 each), 12 equal tasks left: a Pi gets 1, not the
        // guided 2; the desktop the guided 2 (its proportional share would be 4).
        assert_eq!(cost_chunk([1.0; 12], 2, 12.0, 1.0 / 6.0), 1);
        assert_eq!(cost_chunk([1.0; 12], 2, 12.0, 4.0 / 6.0), 2);
        assert_eq!(cost_chunk([1.0], 1, 1.0, 0.01), 1);
        // Two large tasks ahead of 20 small ones on 2 equal ranks, nothing learned: the guided
        // chunk of 6 would hand one rank both large tasks and 4 more; by cost it takes one.
        let front = [10.0, 10.0].into_iter().chain([1.0; 20]);
        assert_eq!(crate::runtime::scheduler::guided_chunk(22, 2), 6);
        assert_eq!(cost_chunk(front.clone(), 6, 40.0, 0.5), 1);
        // Past the large ones, small tasks fill the budget: 20 s left, a share of 5 s.
        assert_eq!(cost_chunk([1.0; 20], 5, 20.0, 0.5), 5);
        assert_eq!(cost_chunk([1.0; 20], 5, 20.0, 0.25), 3);
        assert_eq!(cost_chunk(front, 0, 40.0, 0.5), 0);
        assert_eq!(cost_chunk([1.0], 1, 1.0, f64::NAN), 1);
    }

    #[test]
    fn a_rank_that_overran_its_estimate_counts_as_busy_as_long_again() {
        assert_eq!(free_in(0.0, 3.0), 0.0);
        assert_eq!(free_in(10.0, 4.0), 6.0);
        assert_eq!(free_in(10.0, 12.0), 12.0);
    }
}
