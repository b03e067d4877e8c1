//! Who is still there: when each peer was last heard from, when to send the next heartbeat, and
//! which peers have been silent for longer than the node timeout. Plain bookkeeping over instants
//! the caller passes in (so tests drive it with a made-up clock); the MPI thread does the sending.
//!
//! Rank 0's peers are every other rank; a worker's only peer is rank 0. A peer silent for the
//! timeout is declared lost once and for good: rank 0 never gives it work again, even if it is
//! heard from later (a link that comes back), but it is then sent heartbeats again so that it
//! waits quietly for the end instead of giving up on rank 0.

use std::time::{Duration, Instant};

pub(crate) struct Liveness {
    timeout: Duration,
    beat_every: Duration,
    last_beat: Option<Instant>,
    /// When `newly_lost` last looked: silence only counts while this rank was listening.
    last_check: Instant,
    /// Per rank: when it was last heard from; `None` for ranks that are not peers.
    last_heard: Vec<Option<Instant>>,
    /// Per rank: declared lost (for good).
    lost: Vec<bool>,
    /// Per rank: silent right now (no heartbeats go to it); a lost rank heard again is not.
    silent: Vec<bool>,
}

impl Liveness {
    /// `peers` of a rank in a job of `size` ranks, all taken as heard from at `now`.
    pub(crate) fn new(
        size: usize,
        peers: impl IntoIterator<Item = usize>,
        timeout: Duration,
        now: Instant,
    ) -> Self {
        let mut last_heard = vec![None; size];
        for peer in peers {
            last_heard[peer] = Some(now);
        }
        Liveness {
            timeout,
            // Several beats per timeout, so one late beat never looks like a lost node.
            beat_every: (timeout / 4).min(Duration::from_secs(1)),
            last_beat: None,
            last_check: now,
            last_heard,
            lost: vec![false; size],
            silent: vec![false; size],
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Any message from `rank` is a sign of life. Returns true when `rank` was declared lost
    /// before (its message is to be ignored).
    pub(crate) fn heard(&mut self, rank: usize, now: Instant) -> bool {
        if let Some(last) = self.last_heard.get_mut(rank).and_then(Option::as_mut) {
            *last = now;
        }
        self.silent[rank] = false;
        self.lost[rank]
    }

    /// Whether a round of heartbeats is due at `now` (and, if so, counts it as sent).
    pub(crate) fn beat_due(&mut self, now: Instant) -> bool {
        let due = self
            .last_beat
            .is_none_or(|last| now.duration_since(last) >= self.beat_every);
        if due {
            self.last_beat = Some(now);
        }
        due
    }

    /// Peers that are not silent: the ones to send heartbeats (and the end) to.
    pub(crate) fn reachable(&self) -> Vec<usize> {
        (0..self.last_heard.len())
            .filter(|&r| self.last_heard[r].is_some() && !self.silent[r])
            .collect()
    }

    /// Peers silent for longer than the timeout at `now` that were not declared lost yet, each
    /// with the instant it was last heard from; they are lost from now on.
    ///
    /// A rank that was itself not running for half the timeout (stopped, or starved of CPU)
    /// cannot tell silent peers from its own deafness: every peer gets a fresh timeout then.
    pub(crate) fn newly_lost(&mut self, now: Instant) -> Vec<(usize, Instant)> {
        let away = now.duration_since(self.last_check) > self.timeout / 2;
        self.last_check = now;
        if away {
            for last in self.last_heard.iter_mut().flatten() {
                *last = now;
            }
        }
        let mut found = vec![];
        for rank in 0..self.last_heard.len() {
            let Some(last) = self.last_heard[rank] else {
                continue;
            };
            if !self.silent[rank] && now.duration_since(last) > self.timeout {
                self.silent[rank] = true;
                if !self.lost[rank] {
                    self.lost[rank] = true;
                    found.push((rank, last));
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_silent_past_the_timeout_is_lost_once_and_heard_again_is_reachable() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut live = Liveness::new(4, 1..4, s(30), t0);
        // Looks every second up to `until`, as the polling main thread does (more often in truth).
        let mut clock = 0;
        let mut look = |live: &mut Liveness, until: u64| {
            let mut found = vec![];
            while clock < until {
                clock += 1;
                found.extend(live.newly_lost(t0 + s(clock)));
            }
            found
        };
        assert_eq!(live.reachable(), vec![1, 2, 3]);
        look(&mut live, 20);
        live.heard(1, t0 + s(20));
        look(&mut live, 25);
        live.heard(3, t0 + s(25));
        assert!(
            look(&mut live, 30).is_empty(),
            "exactly the timeout is not yet lost"
        );
        assert_eq!(look(&mut live, 31), vec![(2, t0)]);
        look(&mut live, 50);
        live.heard(3, t0 + s(50));
        assert_eq!(look(&mut live, 51), vec![(1, t0 + s(20))]);
        assert!(look(&mut live, 52).is_empty(), "declared once");
        assert_eq!(live.reachable(), vec![3]);
        assert!(
            live.heard(2, t0 + s(52)),
            "a lost rank stays lost when heard again"
        );
        assert!(!live.heard(3, t0 + s(52)));
        assert!(live.heard(1, t0 + s(52)), "rank 1 too");
        assert_eq!(
            live.reachable(),
            vec![1, 2, 3],
            "but they get heartbeats again"
        );
        assert_eq!(
            look(&mut live, 90),
            vec![(3, t0 + s(52))],
            "silent again: only rank 3 is new"
        );
        assert!(live.reachable().is_empty());
    }

    #[test]
    fn a_rank_that_was_not_running_gives_its_peers_a_fresh_timeout() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut live = Liveness::new(2, [0], s(4), t0);
        assert!(live.newly_lost(t0 + s(1)).is_empty());
        // Stopped for a minute: rank 0's heartbeats wait in the socket, unread.
        assert!(
            live.newly_lost(t0 + s(61)).is_empty(),
            "its own absence is not rank 0's"
        );
        assert!(live.newly_lost(t0 + s(63)).is_empty());
        assert!(live.newly_lost(t0 + s(65)).is_empty());
        assert_eq!(live.newly_lost(t0 + s(66)), vec![(0, t0 + s(61))]);
    }

    #[test]
    fn heartbeats_are_due_several_times_per_timeout() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut live = Liveness::new(2, [0], ms(2000), t0);
        assert!(live.beat_due(t0), "the first round goes at once");
        assert!(!live.beat_due(t0 + ms(400)));
        assert!(live.beat_due(t0 + ms(500)));
        let mut long = Liveness::new(2, [0], Duration::from_secs(30), t0);
        assert!(long.beat_due(t0));
        assert!(long.beat_due(t0 + ms(1000)), "at most a second apart");
    }
}
