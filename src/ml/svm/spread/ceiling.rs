//! How far two threads can speed up one solve on this machine: the solver's two scans of an
//! iteration (the gradient update with its argmax, then the second index), run for many
//! iterations on one thread, on two threads each running a solve of its own (what two ranks do),
//! on two threads splitting one solve in lockstep (each a fixed half, one exchange of partial
//! results per scan, no hand-off of work: the fastest split a solver could make), and on the
//! shipped team. Every way must reach the serial loop's indices and F bit for bit, so these
//! benchmarks also check that the splits are exact. Ignored (they time); `scripts/bench-threads`
//! runs them: `cargo test --release --lib ceiling -- --ignored --nocapture --test-threads=1`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_utils::CachePadded;

use super::*;
use crate::par::{with_team, Pool};

/// One iteration's scans as the solver sees them (row values f32, as the solver's cold fits).
struct Scans {
    f: Vec<f64>,
    ki: Vec<f32>,
    kj: Vec<f32>,
    kd: Vec<f64>,
    up: Vec<bool>,
    low: Vec<bool>,
}

impl Scans {
    fn new(n: usize) -> Scans {
        Scans {
            f: (0..n)
                .map(|t| ((t * 7919) % 1000) as f64 / 1000.0 - 0.5)
                .collect(),
            ki: (0..n).map(|t| ((t * 31) % 97) as f32 / 97.0).collect(),
            kj: (0..n).map(|t| ((t * 17) % 89) as f32 / 89.0).collect(),
            kd: vec![1.0; n],
            up: (0..n).map(|t| t % 3 != 0).collect(),
            low: (0..n).map(|t| t % 3 != 1).collect(),
        }
    }
}

const KII: f64 = 1.0;
const TAU: f64 = 1e-12;

/// The step of iteration `r`: small, of alternating sign, so that F stays bounded while the
/// maxima move.
fn step(r: usize) -> f64 {
    if r % 2 == 0 {
        1e-9
    } else {
        -1e-9
    }
}

/// What a run of iterations reached: a hash of every (i, j) chosen and F's bits at the end.
#[derive(Debug, PartialEq)]
struct Outcome {
    choices: u64,
    f: Vec<u64>,
}

fn mix(hash: u64, i: usize, j: usize) -> u64 {
    (hash ^ (i as u64) << 32 ^ j as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// `reps` iterations of the serial loops, on the calling thread.
fn serial(mut s: Scans, reps: usize) -> Outcome {
    let mut choices = 0;
    for r in 0..reps {
        let a = step(r);
        let (gmax, i) = lanes::update_argmax(&mut s.f, &s.ki, &s.kj, a, -a, &s.up);
        let (j, _) = lanes::select_j(&s.f, &s.low, &s.kd, &s.ki, KII, gmax, TAU);
        choices = mix(choices, i, j);
    }
    Outcome {
        choices,
        f: s.f.iter().map(|v| v.to_bits()).collect(),
    }
}

/// The same iterations through the shipped spread loops, on a team of two.
fn team(mut s: Scans, reps: usize) -> Outcome {
    let choices = Pool::new(2).unwrap().install(|| {
        with_team(|| {
            let mut choices = 0;
            for r in 0..reps {
                let a = step(r);
                let (gmax, i) = update_argmax(2, &mut s.f, &s.ki, &s.kj, a, -a, &s.up);
                let (j, _) = select_j(2, &s.f, &s.low, &s.kd, &s.ki, KII, gmax, TAU);
                choices = mix(choices, i, j);
            }
            choices
        })
    });
    Outcome {
        choices,
        f: s.f.iter().map(|v| v.to_bits()).collect(),
    }
}

/// A thread's partial result of one scan, in a line of its own: `(value, index, extra)`, then
/// the scan's number, which publishes them.
#[derive(Default)]
struct Partial {
    words: [AtomicU64; 3],
    scan: AtomicU64,
}

/// Two threads splitting one solve in lockstep: thread k owns half k of every vector for the
/// whole run, scans it, publishes its partial result and merges both (so both know i, then j).
/// A thread writes the partial of scan k into slot k mod 2: it reaches scan k + 2 only after the
/// other has published scan k + 1, that is, after the other has read scan k's.
fn lockstep(s: Scans, reps: usize) -> Outcome {
    let n = s.f.len();
    let half = (n / 2).next_multiple_of(8);
    let partials: [[CachePadded<Partial>; 2]; 2] = Default::default();
    let mut f = s.f.clone();
    let (f0, f1) = f.split_at_mut(half);
    let run = |me: usize, f: &mut [f64], lo: usize| -> u64 {
        let hi = lo + f.len();
        let (ki, kj, kd) = (&s.ki[lo..hi], &s.kj[lo..hi], &s.kd[lo..hi]);
        let (up, low) = (&s.up[lo..hi], &s.low[lo..hi]);
        let mut scan = 0u64;
        let mut exchange = |words: [u64; 3]| -> [[u64; 3]; 2] {
            scan += 1;
            let slot = (scan % 2) as usize;
            let mine = &partials[me][slot];
            for (word, value) in mine.words.iter().zip(words) {
                word.store(value, Ordering::Relaxed);
            }
            mine.scan.store(scan, Ordering::Release);
            let theirs = &partials[1 - me][slot];
            while theirs.scan.load(Ordering::Acquire) < scan {
                std::hint::spin_loop();
            }
            let theirs = theirs.words.each_ref().map(|w| w.load(Ordering::Relaxed));
            if me == 0 {
                [words, theirs]
            } else {
                [theirs, words]
            }
        };
        let mut choices = 0;
        for r in 0..reps {
            let a = step(r);
            let (v, i) = lanes::update_argmax(f, ki, kj, a, -a, up);
            let both = exchange([v.to_bits(), offset(i, lo) as u64, 0]);
            let (gmax, i) = merge_max(both.map(|w| (f64::from_bits(w[0]), w[1] as usize)));
            let (j, g2) = lanes::select_j(f, low, kd, ki, KII, gmax, TAU);
            let gain = match j {
                usize::MAX => 0.0,
                j => gain(f, kd, ki, KII, gmax, TAU, j),
            };
            let both = exchange([gain.to_bits(), offset(j, lo) as u64, g2.to_bits()]);
            let j = merge_max(both.map(|w| (f64::from_bits(w[0]), w[1] as usize))).1;
            choices = mix(choices, i, j);
        }
        choices
    };
    let choices = std::thread::scope(|scope| {
        let run = &run;
        let other = scope.spawn(move || run(1, f1, half));
        let choices = run(0, f0, 0);
        assert_eq!(other.join().unwrap(), choices, "the threads chose alike");
        choices
    });
    Outcome {
        choices,
        f: f.iter().map(|v| v.to_bits()).collect(),
    }
}

/// Nanoseconds per iteration of `work` (which runs `iterations`), and what it reached.
fn timed(work: impl FnOnce() -> Outcome, iterations: usize) -> (f64, Outcome) {
    let start = Instant::now();
    let outcome = work();
    (
        start.elapsed().as_nanos() as f64 / iterations as f64,
        outcome,
    )
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Sizes of the solver's scans on the notebook's grid: a fold's 13,333 rows (shrinking off), and
/// the active sets most iterations of a shrinking fit scan (1,024–2,047 rows).
fn sizes() -> Vec<usize> {
    std::env::var("CEILING_ROWS").map_or(vec![13_333, 4096, 1536], |rows| {
        rows.split(',').map(|n| n.parse().unwrap()).collect()
    })
}

/// Rounds of the four ways, taken in turn so that the machine's other load falls on all alike;
/// each way's median is reported.
const ROUNDS: usize = 7;

#[test]
#[ignore]
fn two_threads_on_one_solve_against_two_solves() {
    for n in sizes() {
        // About a third of a second of the serial loops per way and round.
        let reps = 400_000_000 / n;
        let mut times: [Vec<f64>; 4] = Default::default();
        for _ in 0..ROUNDS {
            let (one, want) = timed(|| serial(Scans::new(n), reps), reps);
            // Two solves at once, one a thread: iterations of both over the time they took.
            let (side_by_side, _) = timed(
                || {
                    std::thread::scope(|scope| {
                        let other = scope.spawn(|| serial(Scans::new(n), reps));
                        let mine = serial(Scans::new(n), reps);
                        assert_eq!(other.join().unwrap(), mine);
                        mine
                    })
                },
                2 * reps,
            );
            let (split, got) = timed(|| lockstep(Scans::new(n), reps), reps);
            assert_eq!(got, want, "lockstep, {n} rows");
            let (shipped, got) = timed(|| team(Scans::new(n), reps), reps);
            assert_eq!(got, want, "team, {n} rows");
            for (way, time) in times.iter_mut().zip([one, side_by_side, split, shipped]) {
                way.push(time);
            }
        }
        let [one, side_by_side, split, shipped] = times.map(median);
        println!(
            "{n:>6} rows: one thread {one:.0} ns/iteration; speed-up on 2 threads (medians of \
             {ROUNDS}): two solves side by side {:.2}x, one solve in lockstep {:.2}x, one solve \
             on the team {:.2}x",
            one / side_by_side,
            one / split,
            one / shipped
        );
    }
}
