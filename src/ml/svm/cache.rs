//! [`KernelCache`]: the training rows of one binary problem with their kernel, and a
//! least-recently-used cache of kernel rows bounded in MB, as in libsvm: a row is cached over a
//! prefix `[0, len)` of the current order, the solver permutes positions to keep its active
//! (unshrunk) set in front, and only the missing tail of a row is ever computed. Each cached row
//! owns room for a full row, so the bound is exact and the heap does not fragment. The cache owns
//! that order, so it survives from one fit to the next: fits on the same rows with the same kernel
//! (other C, shrinking on or off) reuse every row still cached. A cold solve first puts the rows
//! back in their given order ([`KernelCache::restore_order`]), so that it takes libsvm's path.
//!
//! A `KernelCache<f32>` keeps its values in single precision, as libsvm does (its `Qfloat` is
//! `float`; the diagonal, `QD`, stays double): the solver's gradients, working-set choices and
//! steps then see the kernel values libsvm's do, the cache holds twice the rows of an f64 one,
//! and the solver's scans read half the bytes per row (they are bound by memory on fits that
//! mostly reuse cached rows). Cold fits use it; warm-started workspace fits keep f64 values in a
//! `KernelCache<f64>` (see `workspace`). Where the solution depends on the path (the sigmoid
//! kernel is not positive semi-definite; a poly fit stopped at tol), that rounding decides which
//! answer the solver ends at: with f64 values, fresh fits of the notebook's grid ended 2–3 test
//! samples off scikit-learn's (sigmoid, C = 1, 2, 5, shrinking on;
//! tests/reference/svc_grid_splits.h5); with f32 values they score as scikit-learn's, in the
//! same number of iterations.

use ndarray::ArrayView2;

use super::kernel::{diagonal, FeatureMajor, KernelSpec};
use super::lanes::KernelValue;
use super::spread::kernel_row_spread;

const NONE: u32 = u32::MAX;
/// Cached rows per piece when exchanges are applied to every cached row.
const SWAP_PIECE: usize = 64;

/// Kernel rows of a fixed set of training rows under a fixed kernel, cached within a memory bound.
#[derive(Debug, Clone)]
pub(crate) struct KernelCache<V: KernelValue> {
    spec: KernelSpec,
    x: FeatureMajor,
    diag: Vec<f64>,
    /// Position -> index of the row in the problem as it was given.
    perm: Vec<usize>,
    /// Cached row data per position; `rows[p].len()` is the cached prefix length (0 = absent).
    rows: Vec<Vec<V>>,
    /// Circular doubly linked LRU list over positions; index `n` is the sentinel.
    prev: Vec<u32>,
    next: Vec<u32>,
    /// Free value slots within the bound.
    free: usize,
    /// A buffer of an evicted row, for the next new row.
    spare: Option<Vec<V>>,
    capacity: usize,
    query: Vec<f64>,
    computed: u64,
}

impl<V: KernelValue> KernelCache<V> {
    /// The rows `rows` of `x` (all rows when `None`) under `spec`, with `cache_mb` MB for rows.
    pub(crate) fn new(
        spec: KernelSpec,
        x: ArrayView2<f64>,
        rows: Option<&[usize]>,
        cache_mb: f64,
    ) -> Self {
        let x = FeatureMajor::from_rows(x, rows);
        let n = x.n;
        let diag = diagonal(&spec, &x);
        let capacity = Self::slots(cache_mb, n);
        KernelCache {
            spec,
            query: vec![0.0; x.d],
            x,
            diag,
            perm: (0..n).collect(),
            rows: vec![Vec::new(); n],
            prev: vec![n as u32; n + 1],
            next: vec![n as u32; n + 1],
            free: capacity,
            spare: None,
            capacity,
            computed: 0,
        }
    }

    fn slots(cache_mb: f64, n: usize) -> usize {
        let bytes = (cache_mb * (1u64 << 20) as f64) as usize;
        // Row headers count against the bound too; never less than two full rows.
        let header = n * (std::mem::size_of::<Vec<V>>() + 8);
        (bytes.saturating_sub(header) / std::mem::size_of::<V>()).max(2 * n)
    }

    /// Number of training rows.
    pub(crate) fn len(&self) -> usize {
        self.x.n
    }

    /// The kernel.
    pub(crate) fn spec(&self) -> &KernelSpec {
        &self.spec
    }

    /// Kernel values computed so far (a measure of the work the cache did not save).
    pub(crate) fn computed_values(&self) -> u64 {
        self.computed
    }

    /// Changes the memory bound, evicting rows if needed.
    pub(crate) fn set_cache_mb(&mut self, cache_mb: f64) {
        let capacity = Self::slots(cache_mb, self.x.n);
        let mut used = self.capacity - self.free;
        while used > capacity {
            let old = self.next[self.x.n] as usize;
            used -= self.rows[old].capacity();
            self.evict(old);
        }
        self.capacity = capacity;
        self.free = capacity - used;
    }

    pub(crate) fn perm(&self) -> &[usize] {
        &self.perm
    }

    pub(crate) fn diag(&self) -> &[f64] {
        &self.diag
    }

    fn unlink(&mut self, p: usize) {
        let (a, b) = (self.prev[p], self.next[p]);
        self.next[a as usize] = b;
        self.prev[b as usize] = a;
        self.prev[p] = NONE;
        self.next[p] = NONE;
    }

    fn push_mru(&mut self, p: usize) {
        let s = self.x.n;
        let last = self.prev[s];
        self.next[last as usize] = p as u32;
        self.prev[p] = last;
        self.next[p] = s as u32;
        self.prev[s] = p as u32;
    }

    /// Drops row p; its buffer is kept as the spare (still counted as used) if there is none.
    fn evict(&mut self, p: usize) {
        self.unlink(p);
        let buf = std::mem::take(&mut self.rows[p]);
        if self.spare.is_none() {
            self.spare = Some(buf);
        } else {
            self.free += buf.capacity();
        }
    }

    /// Makes row `p` valid on `[0, len)` and most recently used, never evicting `pin`.
    pub(crate) fn ensure(&mut self, p: usize, len: usize, pin: Option<usize>) {
        let have = self.rows[p].len();
        if have > 0 {
            self.unlink(p);
        }
        if len > have {
            let n = self.x.n;
            if have == 0 {
                // Every row gets room for all n values (and is counted so): buffers of one size
                // leave no heap fragmentation, so the bound holds for the process's memory. An
                // evicted row's buffer is reused as it is, without clearing it first.
                let mut buf = loop {
                    if let Some(buf) = self.spare.take() {
                        break buf;
                    }
                    if self.free >= n {
                        self.free -= n;
                        break Vec::with_capacity(n);
                    }
                    let s = self.x.n;
                    let mut old = self.next[s] as usize;
                    if Some(old) == pin {
                        old = self.next[old] as usize;
                    }
                    debug_assert!(old != s, "cache smaller than two rows");
                    self.evict(old);
                };
                if buf.len() >= len {
                    buf.truncate(len);
                } else {
                    buf.resize(len, V::default());
                }
                self.rows[p] = buf;
            } else {
                self.rows[p].resize(len, V::default());
            }
            let row = &mut self.rows[p];
            self.x.row_into(p, &mut self.query);
            kernel_row_spread(
                crate::par::threads(),
                &self.spec,
                &self.query,
                self.x.sq[p],
                &self.x,
                (have, len),
                &mut row[have..len],
            );
            self.computed += (len - have) as u64;
        }
        self.push_mru(p);
    }

    /// Row `p` as cached (call [`ensure`](Self::ensure) first).
    #[inline]
    pub(crate) fn row(&self, p: usize) -> &[V] {
        &self.rows[p]
    }

    /// Puts every row back at its position in the problem as given, undoing the exchanges of
    /// earlier solves. A cold solve must start from that order: at α = 0 many rows tie for the
    /// maximal violating pair and the first position wins, and shrinking moves rows in position
    /// order, so the order steers the solver's path. With a kernel that is not positive
    /// semi-definite (sigmoid), another path can end at another stationary point (measured: a
    /// sigmoid fit after a shrinking fit on the same cache scored 0.8179 where libsvm and a
    /// fresh cache score 0.7884). Full cached rows are kept, with their values and LRU rank;
    /// partial rows are dropped.
    pub(crate) fn restore_order(&mut self) {
        let n = self.x.n;
        // Exchanges that sort the order: each puts one row at its own position.
        let mut order = self.perm.clone();
        let mut swaps = Vec::new();
        for p in 0..n {
            while order[p] != p {
                let q = order[p];
                order.swap(p, q);
                swaps.push((p, q));
            }
        }
        if swaps.is_empty() {
            return;
        }
        let mut lru = Vec::new();
        let mut h = self.next[n] as usize;
        while h != n {
            let nxt = self.next[h] as usize;
            if self.rows[h].len() == n {
                lru.push(self.perm[h]);
                for &(a, b) in &swaps {
                    self.rows[h].swap(a, b);
                }
            } else {
                self.evict(h);
            }
            h = nxt;
        }
        for &(a, b) in &swaps {
            self.rows.swap(a, b);
            self.x.swap(a, b);
            self.diag.swap(a, b);
        }
        self.perm = order;
        self.prev[n] = n as u32;
        self.next[n] = n as u32;
        for p in lru {
            self.push_mru(p);
        }
    }

    /// Exchanges positions for each pair (pairs must be disjoint): data, order and every cached
    /// row. Rows are visited once each, applying all exchanges while the row is hot in cache, and
    /// spread over the rank's threads (these scattered reads were the largest serial part of a
    /// shrinking solve); a row that covers only one side of an exchange is dropped.
    pub(crate) fn swap_many(&mut self, pairs: &[(usize, usize)]) {
        if pairs.is_empty() {
            return;
        }
        let spans: Vec<(usize, usize)> = pairs.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
        // Cut by cached rows, not by positions: the rows cached are mostly those of the active
        // positions, at the front, and cut by positions they fell to one thread.
        let mut cached: Vec<(usize, &mut Vec<V>)> = self
            .rows
            .iter_mut()
            .enumerate()
            .filter(|(_, row)| !row.is_empty())
            .collect();
        let straddling = crate::par::map_chunks_mut(&mut cached, SWAP_PIECE, |_, rows| {
            let mut straddling = vec![];
            for (p, row) in rows {
                let len = row.len();
                for &(lo, hi) in &spans {
                    if len > hi {
                        row.swap(lo, hi);
                    } else if len > lo {
                        straddling.push(*p);
                        break;
                    }
                }
            }
            straddling
        });
        for p in straddling.into_iter().flatten() {
            self.evict(p);
        }
        for &(a, b) in pairs {
            if a == b {
                continue;
            }
            let (a_in, b_in) = (!self.rows[a].is_empty(), !self.rows[b].is_empty());
            if a_in {
                self.unlink(a);
            }
            if b_in {
                self.unlink(b);
            }
            self.rows.swap(a, b);
            if b_in {
                self.push_mru(a);
            }
            if a_in {
                self.push_mru(b);
            }
            self.x.swap(a, b);
            self.diag.swap(a, b);
            self.perm.swap(a, b);
        }
    }
}
