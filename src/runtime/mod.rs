//! The MPI side of triton-batch, kept small and plain: start MPI, learn the ranks and hosts, share
//! the validated job from rank 0, hand out tasks and bring their results back (`scheduler`), and end
//! the whole job promptly when any rank fails (`failure`). Algorithms never see MPI.

pub mod failure;
pub mod progress;
pub mod scheduler;

use std::time::Duration;

use mpi::environment::Universe;
use mpi::point_to_point::{Destination, MatchedReceiveVec, Source};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Threading;
use serde::{de::DeserializeOwned, Serialize};

/// Message tags of the runtime's point-to-point traffic.
pub(crate) mod tag {
    pub const HOST: i32 = 1;
    pub const SHARE: i32 = 2;
    pub const REQUEST: i32 = 3;
    pub const ASSIGN: i32 = 4;
    pub const RESULT: i32 = 5;
}

/// How long a waiting rank sleeps between polls: short against any task, long enough that an idle
/// rank costs next to no CPU (a blocking MPI receive would spin a core).
pub(crate) const POLL_INTERVAL: Duration = Duration::from_micros(200);

/// This process's place in the job: MPI started, ranks and hosts known.
pub struct Cluster {
    _universe: Universe,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// Host of every rank, on rank 0; just this rank's own elsewhere.
    hosts: Vec<String>,
}

impl Cluster {
    /// Starts MPI (or a singleton without mpirun) and installs the abort-on-panic hook.
    pub fn init() -> anyhow::Result<Self> {
        let (universe, _) = mpi::initialize_with_threading(Threading::Funneled)
            .ok_or_else(|| anyhow::anyhow!("MPI was already initialised"))?;
        let world = universe.world();
        let rank = world.rank() as usize;
        let size = world.size() as usize;
        let host = mpi::environment::processor_name().unwrap_or_else(|_| "unknown".into());
        failure::install(rank, &host);
        let mut cluster = Cluster {
            _universe: universe,
            world,
            rank,
            size,
            hosts: vec![host],
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

    /// Rank to host; complete on rank 0 only.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    pub(crate) fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    fn gather_hosts(&mut self) {
        if self.is_root() {
            for rank in 1..self.size {
                let bytes = self.receive_polling(rank, tag::HOST);
                self.hosts
                    .push(String::from_utf8_lossy(&bytes).into_owned());
            }
        } else {
            self.send(0, tag::HOST, self.hosts[0].as_bytes());
        }
    }

    /// Rank 0 passes `value`; every rank returns rank 0's value. Waiting ranks poll with sleeps
    /// rather than spin in a broadcast, since rank 0 may read and validate input for a while.
    pub fn share_from_root<T: Serialize + DeserializeOwned>(&self, value: Option<&T>) -> T {
        if self.is_root() {
            let value = value.expect("rank 0 passes the value to share");
            let bytes = encode(value);
            for rank in 1..self.size {
                self.send(rank, tag::SHARE, &bytes);
            }
            decode(&bytes)
        } else {
            decode(&self.receive_polling(0, tag::SHARE))
        }
    }

    pub(crate) fn send(&self, rank: usize, tag: i32, bytes: &[u8]) {
        self.world
            .process_at_rank(rank as i32)
            .send_with_tag(bytes, tag);
    }

    /// Receives the next message with `tag` from `rank`, sleeping between polls.
    pub(crate) fn receive_polling(&self, rank: usize, tag: i32) -> Vec<u8> {
        let source = self.world.process_at_rank(rank as i32);
        loop {
            if let Some(message) = source.immediate_matched_probe_with_tag(tag) {
                return message.matched_receive_vec::<u8>().0;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Ends every rank of the job with `message` (prefixed with this rank and host) and `code`.
    pub fn abort(&self, message: &str, code: i32) -> ! {
        failure::abort_job(message, code)
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
