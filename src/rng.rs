//! Random streams for tasks. A task's stream is a pure function of the job seed and the task id,
//! never of the rank that runs it, so results do not depend on how tasks are spread over ranks.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The random number generator every task uses.
pub type TaskRng = Xoshiro256PlusPlus;

/// SplitMix64's output function: a bijective 64-bit mixer with full avalanche.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stream of task `task_id` under `seed`. The 256-bit Xoshiro state is hashed from
/// (seed, task id), in the spirit of numpy's SeedSequence spawning: O(1) per task, unlike jumping
/// `task_id` times, and independent of the order in which tasks run.
pub fn task_rng(seed: u64, task_id: u64) -> TaskRng {
    const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
    let key = mix64(seed ^ mix64(task_id.wrapping_add(GOLDEN)));
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_exact_mut(8).enumerate() {
        let word = mix64(key.wrapping_add(GOLDEN.wrapping_mul(i as u64 + 1)));
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    TaskRng::from_seed(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_depend_on_seed_and_task_only() {
        let a: u64 = task_rng(7, 3).next_u64();
        assert_eq!(a, task_rng(7, 3).next_u64());
        assert_ne!(a, task_rng(7, 4).next_u64());
        assert_ne!(a, task_rng(8, 3).next_u64());
    }
}
