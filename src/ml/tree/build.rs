//! Growing a tree: the best-split search (scikit-learn's `BestSplitter`) and the depth-first and
//! best-first builders.
//!
//! The node's samples (those of non-zero weight) sit in one index array, partitioned in place as
//! nodes split. For each candidate feature the node's samples are put in value order through their
//! precomputed ranks, then one pass accumulates weighted class counts on the left and scores every
//! boundary between distinct values (values closer than 1e-7 count as equal, as in scikit-learn).
//! Feature draws follow scikit-learn: without replacement, skipping features already known to be
//! constant in an ancestor, and going on past `max_features` while the drawn ones are constant.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rand::{Rng, RngExt};

use super::data::TrainingSet;
use super::model::{DecisionTree, NONE};
use super::params::{Criterion, Resolved, TreeParams};
use super::TreeError;

/// Values closer than this are the same value (scikit-learn's `FEATURE_THRESHOLD`).
const FEATURE_THRESHOLD: f64 = 1e-7;
/// Impurity at or below this is zero (scikit-learn's `EPSILON`, the double machine epsilon).
const EPSILON: f64 = f64::EPSILON;

/// Grows one tree on `set` with per-sample weights (`None`: all 1; zero-weight samples are left
/// out, so bootstrap counts work as weights), drawing features from `rng`.
pub fn fit_weighted<R: Rng + ?Sized>(
    params: &TreeParams,
    set: &TrainingSet,
    weights: Option<&[f64]>,
    rng: &mut R,
) -> Result<DecisionTree, TreeError> {
    let n = set.n_samples;
    let ones;
    let weights = match weights {
        Some(w) => {
            if w.len() != n {
                return Err(TreeError::InvalidData(format!(
                    "{} sample weights for {n} samples",
                    w.len()
                )));
            }
            if w.iter().any(|&v| !(v >= 0.0 && v.is_finite())) {
                return Err(TreeError::InvalidData(
                    "sample weights must be finite and non-negative".into(),
                ));
            }
            w
        }
        None => {
            ones = vec![1.0; n];
            &ones[..]
        }
    };
    let total: f64 = weights.iter().sum();
    if total.partial_cmp(&0.0) != Some(Ordering::Greater) {
        return Err(TreeError::InvalidData(
            "sample weights sum to zero: nothing to fit".into(),
        ));
    }
    let resolved = params.resolve(n, set.n_features, total)?;
    let mut builder = Builder::new(set, weights, resolved);
    match resolved.max_leaf_nodes {
        None => builder.grow_depth_first(rng),
        Some(max_leaves) => builder.grow_best_first(max_leaves, rng),
    }
    Ok(builder.finish())
}

/// A sample's class and weight, side by side for the scan.
#[derive(Clone, Copy)]
struct ClassWeight {
    weight: f64,
    class: u32,
}

/// The best split found at a node.
#[derive(Clone, Copy, Debug)]
struct Split {
    feature: usize,
    threshold: f64,
    /// Samples `start..pos` go left.
    pos: usize,
    /// Weighted impurity decrease, as a fraction of the root's weight (scikit-learn's
    /// `impurity_improvement`).
    improvement: f64,
}

struct Builder<'a> {
    set: &'a TrainingSet,
    p: Resolved,
    k: usize,
    cw: Vec<ClassWeight>,
    /// Two classes: per sample (weight, weight if class 1 else 0).
    w2: Vec<[f64; 2]>,
    total_weight: f64,
    samples: Vec<u32>,
    features: Vec<u32>,
    constant_features: Vec<u32>,
    ranks: Vec<u32>,
    bits: Vec<u64>,
    node_sum: Vec<f64>,
    left_sum: Vec<f64>,
    best_left: Vec<f64>,
    scan_left: Vec<f64>,
    tree: DecisionTree,
}

impl<'a> Builder<'a> {
    fn new(set: &'a TrainingSet, weights: &[f64], p: Resolved) -> Self {
        let n = set.n_samples;
        let k = set.n_classes;
        let samples: Vec<u32> = (0..n as u32)
            .filter(|&i| weights[i as usize] != 0.0)
            .collect();
        let cw = (0..n)
            .map(|i| ClassWeight {
                weight: weights[i],
                class: set.y[i],
            })
            .collect();
        let m = samples.len();
        let w2 = if k == 2 {
            (0..n)
                .map(|i| [weights[i], if set.y[i] == 1 { weights[i] } else { 0.0 }])
                .collect()
        } else {
            Vec::new()
        };
        Builder {
            set,
            p,
            k,
            cw,
            w2,
            total_weight: samples.iter().map(|&i| weights[i as usize]).sum(),
            samples,
            features: (0..set.n_features as u32).collect(),
            constant_features: vec![0; set.n_features],
            ranks: vec![0; m],
            bits: vec![0; n.div_ceil(64) + 1],
            node_sum: vec![0.0; k],
            left_sum: vec![0.0; k],
            best_left: vec![0.0; k],
            scan_left: vec![0.0; k],
            tree: DecisionTree {
                n_features: set.n_features,
                n_classes: k,
                feature: Vec::new(),
                threshold: Vec::new(),
                left: Vec::new(),
                right: Vec::new(),
                value: Vec::new(),
                impurity: Vec::new(),
                n_node_samples: Vec::new(),
                weighted_n_node_samples: Vec::new(),
            },
        }
    }

    fn finish(self) -> DecisionTree {
        self.tree
    }

    /// Weighted class counts of `samples[start..end]` into `node_sum`; returns their total.
    fn node_reset(&mut self, start: usize, end: usize) -> f64 {
        self.node_sum.fill(0.0);
        for &s in &self.samples[start..end] {
            let cw = self.cw[s as usize];
            self.node_sum[cw.class as usize] += cw.weight;
        }
        self.node_sum.iter().sum()
    }

    /// Appends a node (a leaf until `set_split`), linking it to its parent.
    fn add_node(
        &mut self,
        parent: u32,
        is_left: bool,
        impurity: f64,
        n_node: usize,
        wn: f64,
    ) -> u32 {
        let id = self.tree.feature.len() as u32;
        let t = &mut self.tree;
        t.feature.push(NONE);
        t.threshold.push(super::model::LEAF_THRESHOLD);
        t.left.push(NONE);
        t.right.push(NONE);
        t.value.extend(self.node_sum.iter().map(|&c| c / wn));
        t.impurity.push(impurity);
        t.n_node_samples.push(n_node as u32);
        t.weighted_n_node_samples.push(wn);
        if parent != NONE {
            if is_left {
                t.left[parent as usize] = id;
            } else {
                t.right[parent as usize] = id;
            }
        }
        id
    }

    fn grow_depth_first<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        struct Rec {
            start: usize,
            end: usize,
            depth: usize,
            parent: u32,
            is_left: bool,
            n_constant: usize,
        }
        let mut stack = vec![Rec {
            start: 0,
            end: self.samples.len(),
            depth: 0,
            parent: NONE,
            is_left: false,
            n_constant: 0,
        }];
        while let Some(rec) = stack.pop() {
            let (start, end) = (rec.start, rec.end);
            let n_node = end - start;
            let wn = self.node_reset(start, end);
            let impurity = impurity(self.p.criterion, &self.node_sum, wn);
            let mut is_leaf = rec.depth >= self.p.max_depth
                || n_node < self.p.min_samples_split
                || n_node < 2 * self.p.min_samples_leaf
                || wn < 2.0 * self.p.min_weight_leaf
                || impurity <= EPSILON;
            let mut split = None;
            let mut n_constant = rec.n_constant;
            if !is_leaf {
                let (found, n_total_constants) =
                    self.node_split(start, end, wn, impurity, rec.n_constant, rng);
                n_constant = n_total_constants;
                match found {
                    Some(s) if s.improvement + EPSILON >= self.p.min_impurity_decrease => {
                        split = Some(s)
                    }
                    _ => is_leaf = true,
                }
            }
            let id = self.add_node(rec.parent, rec.is_left, impurity, n_node, wn);
            if let (false, Some(s)) = (is_leaf, split) {
                self.tree.feature[id as usize] = s.feature as u32;
                self.tree.threshold[id as usize] = s.threshold;
                stack.push(Rec {
                    start: s.pos,
                    end,
                    depth: rec.depth + 1,
                    parent: id,
                    is_left: false,
                    n_constant,
                });
                stack.push(Rec {
                    start,
                    end: s.pos,
                    depth: rec.depth + 1,
                    parent: id,
                    is_left: true,
                    n_constant,
                });
            }
        }
    }

    /// Best-first growth (scikit-learn's `BestFirstTreeBuilder`): every node's best split is found
    /// when the node is made; the frontier node with the largest improvement is expanded next
    /// (ties: the older node) until `max_leaves` leaves exist.
    fn grow_best_first<R: Rng + ?Sized>(&mut self, max_leaves: usize, rng: &mut R) {
        #[derive(Clone, Copy)]
        struct Rec {
            node: u32,
            start: usize,
            end: usize,
            pos: usize,
            depth: usize,
            is_leaf: bool,
            improvement: f64,
        }
        impl PartialEq for Rec {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for Rec {}
        impl PartialOrd for Rec {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Rec {
            fn cmp(&self, other: &Self) -> Ordering {
                self.improvement
                    .total_cmp(&other.improvement)
                    .then(other.node.cmp(&self.node))
            }
        }
        let add = |b: &mut Self,
                   start: usize,
                   end: usize,
                   depth: usize,
                   parent: u32,
                   is_left: bool,
                   rng: &mut R| {
            let n_node = end - start;
            let wn = b.node_reset(start, end);
            let impurity = impurity(b.p.criterion, &b.node_sum, wn);
            let mut is_leaf = depth >= b.p.max_depth
                || n_node < b.p.min_samples_split
                || n_node < 2 * b.p.min_samples_leaf
                || wn < 2.0 * b.p.min_weight_leaf
                || impurity <= EPSILON;
            let mut split = None;
            if !is_leaf {
                // Best-first growth does not carry constant features from parent to child.
                match b.node_split(start, end, wn, impurity, 0, rng).0 {
                    Some(s) if s.improvement + EPSILON >= b.p.min_impurity_decrease => {
                        split = Some(s)
                    }
                    _ => is_leaf = true,
                }
            }
            let node = b.add_node(parent, is_left, impurity, n_node, wn);
            match split {
                Some(s) if !is_leaf => {
                    b.tree.feature[node as usize] = s.feature as u32;
                    b.tree.threshold[node as usize] = s.threshold;
                    Rec {
                        node,
                        start,
                        end,
                        pos: s.pos,
                        depth,
                        is_leaf: false,
                        improvement: s.improvement,
                    }
                }
                _ => Rec {
                    node,
                    start,
                    end,
                    pos: end,
                    depth,
                    is_leaf: true,
                    improvement: 0.0,
                },
            }
        };
        let mut frontier = BinaryHeap::new();
        let root = add(self, 0, self.samples.len(), 0, NONE, false, rng);
        frontier.push(root);
        let mut split_budget = max_leaves - 1;
        while let Some(rec) = frontier.pop() {
            if rec.is_leaf || split_budget == 0 {
                let i = rec.node as usize;
                self.tree.feature[i] = NONE;
                self.tree.threshold[i] = super::model::LEAF_THRESHOLD;
                continue;
            }
            split_budget -= 1;
            let l = add(self, rec.start, rec.pos, rec.depth + 1, rec.node, true, rng);
            let r = add(self, rec.pos, rec.end, rec.depth + 1, rec.node, false, rng);
            frontier.push(l);
            frontier.push(r);
        }
    }

    /// Finds the best split of `samples[start..end]` and partitions them by it. The first
    /// `n_known_constants` entries of `features` are the features known to be constant here;
    /// returns the split (if any boundary is admissible) and the number of constant features
    /// known for the children.
    fn node_split<R: Rng + ?Sized>(
        &mut self,
        start: usize,
        end: usize,
        wn: f64,
        impurity: f64,
        n_known_constants: usize,
        rng: &mut R,
    ) -> (Option<Split>, usize) {
        let n_features = self.set.n_features;
        let max_features = self.p.max_features;
        let mut n_visited = 0usize;
        let mut n_found_constants = 0usize;
        let mut n_drawn_constants = 0usize;
        let mut n_total_constants = n_known_constants;
        let mut f_i = n_features;
        let mut best: Option<(usize, usize, u32, f64)> = None; // feature, pos, rank at pos, proxy
        let mut best_proxy = f64::NEG_INFINITY;
        let mut best_threshold = 0.0;

        while f_i > n_total_constants
            && (n_visited < max_features || n_visited <= n_found_constants + n_drawn_constants)
        {
            n_visited += 1;
            let mut f_j = rng.random_range(n_drawn_constants..f_i - n_found_constants);
            if f_j < n_known_constants {
                self.features.swap(n_drawn_constants, f_j);
                n_drawn_constants += 1;
                continue;
            }
            f_j += n_found_constants;
            let feature = self.features[f_j] as usize;
            if !self.sort_by_feature(feature, start, end) {
                self.features.swap(f_j, n_total_constants);
                n_found_constants += 1;
                n_total_constants += 1;
                continue;
            }
            f_i -= 1;
            self.features.swap(f_i, f_j);
            if let Some((pos, rank_at_pos, proxy, threshold)) =
                self.scan(feature, end - start, wn, best_proxy)
            {
                best_proxy = proxy;
                best_threshold = threshold;
                best = Some((feature, start + pos, rank_at_pos, proxy));
                self.best_left.copy_from_slice(&self.left_sum);
            }
        }

        // Keep the constant-feature bookkeeping of scikit-learn: the known constants first, then
        // the ones found here.
        self.features[..n_known_constants]
            .copy_from_slice(&self.constant_features[..n_known_constants]);
        self.constant_features[n_known_constants..n_total_constants]
            .copy_from_slice(&self.features[n_known_constants..n_total_constants]);

        let Some((feature, pos, rank_at_pos, _)) = best else {
            return (None, n_total_constants);
        };
        // Partition: samples whose rank in `feature` is below the rank at the split go left.
        let n = self.set.n_samples;
        let rank_f = &self.set.rank[feature * n..(feature + 1) * n];
        let (mut p, mut e) = (start, end);
        while p < e {
            if rank_f[self.samples[p] as usize] < rank_at_pos {
                p += 1;
            } else {
                e -= 1;
                self.samples.swap(p, e);
            }
        }
        debug_assert_eq!(p, pos);
        let wl: f64 = self.best_left.iter().sum();
        let wr = wn - wl;
        let right = &mut self.scan_left;
        for ((r, t), l) in right.iter_mut().zip(&self.node_sum).zip(&self.best_left) {
            *r = (t - l).max(0.0);
        }
        let imp_left = impurity_of(self.p.criterion, &self.best_left, wl);
        let imp_right = impurity_of(self.p.criterion, right, wr);
        let improvement =
            (wn / self.total_weight) * (impurity - wr / wn * imp_right - wl / wn * imp_left);
        (
            Some(Split {
                feature,
                threshold: best_threshold,
                pos,
                improvement,
            }),
            n_total_constants,
        )
    }

    /// Puts the ranks (in `feature`) of `samples[start..end]` in ascending order in
    /// `ranks[..end - start]`. Returns false, leaving `ranks` unsorted, when the feature is
    /// constant on these samples.
    fn sort_by_feature(&mut self, feature: usize, start: usize, end: usize) -> bool {
        let n = self.set.n_samples;
        let rank_f = &self.set.rank[feature * n..(feature + 1) * n];
        let values_f = &self.set.values[feature * n..(feature + 1) * n];
        let m = end - start;
        let ranks = &mut self.ranks[..m];
        let samples = &self.samples[start..end];
        let (mut lo, mut hi) = (u32::MAX, 0u32);
        let constant = |lo: u32, hi: u32| {
            values_f[hi as usize] as f64 <= values_f[lo as usize] as f64 + FEATURE_THRESHOLD
        };
        if m < 64 {
            for (r, &s) in ranks.iter_mut().zip(samples) {
                let x = rank_f[s as usize];
                *r = x;
                lo = lo.min(x);
                hi = hi.max(x);
            }
            if constant(lo, hi) {
                return false;
            }
            ranks.sort_unstable();
            return true;
        }
        // Larger nodes: mark the ranks in a bitmap, then read them back in order (the ranks of a
        // feature are distinct integers below n).
        let bits = &mut self.bits;
        for &s in samples {
            let x = rank_f[s as usize];
            bits[(x >> 6) as usize] |= 1u64 << (x & 63);
            lo = lo.min(x);
            hi = hi.max(x);
        }
        let (w_lo, w_hi) = ((lo >> 6) as usize, (hi >> 6) as usize);
        if constant(lo, hi) {
            bits[w_lo..=w_hi].fill(0);
            return false;
        }
        let mut k = 0;
        for (w, slot) in bits[w_lo..=w_hi].iter_mut().enumerate() {
            let base = ((w_lo + w) as u32) << 6;
            let mut word = std::mem::take(slot);
            while word != 0 {
                ranks[k] = base | word.trailing_zeros();
                k += 1;
                word &= word - 1;
            }
        }
        debug_assert_eq!(k, m);
        true
    }

    /// Scans the `m` sorted samples of a node along `feature`; returns the best boundary that
    /// beats `best_proxy` as (position, rank at position, proxy, threshold), leaving the left
    /// class counts at that boundary in `left_sum`.
    fn scan(
        &mut self,
        feature: usize,
        m: usize,
        wn: f64,
        best_proxy: f64,
    ) -> Option<(usize, u32, f64, f64)> {
        let n = self.set.n_samples;
        let order_f = &self.set.order[feature * n..(feature + 1) * n];
        let values_f = &self.set.values[feature * n..(feature + 1) * n];
        let ranks = &self.ranks[..m];
        let (msl, mwl) = (self.p.min_samples_leaf, self.p.min_weight_leaf);
        let criterion = self.p.criterion;
        let mut best_proxy = best_proxy;
        let mut found = None;
        let threshold_between = |value: f64, next: f64| {
            let t = value / 2.0 + next / 2.0;
            if t == next || t.is_infinite() {
                value
            } else {
                t
            }
        };

        if self.k == 2 {
            // Two classes: running totals in registers; class 1's weight is `w1`.
            let t1 = self.node_sum[1];
            let (mut wl, mut l1) = (0.0, 0.0);
            let mut best_l1 = 0.0;
            let mut best_wl = 0.0;
            let mut next_value = values_f[ranks[0] as usize] as f64;
            for p in 0..m - 1 {
                let [w, w1] = self.w2[order_f[ranks[p] as usize] as usize];
                wl += w;
                l1 += w1;
                let value = next_value;
                let r_next = ranks[p + 1];
                next_value = values_f[r_next as usize] as f64;
                if next_value <= value + FEATURE_THRESHOLD {
                    continue;
                }
                let n_left = p + 1;
                if n_left < msl || m - n_left < msl {
                    continue;
                }
                let wr = wn - wl;
                if wl < mwl || wr < mwl {
                    continue;
                }
                let (l0, r1) = (wl - l1, t1 - l1);
                let r0 = wr - r1;
                match criterion {
                    Criterion::Gini => {
                        // proxy = sl / wl + sr / wr, compared without dividing.
                        let (sl, sr) = (l0 * l0 + l1 * l1, r0 * r0 + r1 * r1);
                        let (num, den) = (sl * wr + sr * wl, wl * wr);
                        if num > best_proxy * den {
                            best_proxy = num / den;
                            found = Some((
                                n_left,
                                r_next,
                                best_proxy,
                                threshold_between(value, next_value),
                            ));
                            best_l1 = l1;
                            best_wl = wl;
                        }
                    }
                    Criterion::Entropy => {
                        let proxy =
                            -wl * entropy_of(&[l0, l1], wl) - wr * entropy_of(&[r0, r1], wr);
                        if proxy > best_proxy {
                            best_proxy = proxy;
                            found =
                                Some((n_left, r_next, proxy, threshold_between(value, next_value)));
                            best_l1 = l1;
                            best_wl = wl;
                        }
                    }
                }
            }
            if found.is_some() {
                self.left_sum[0] = best_wl - best_l1;
                self.left_sum[1] = best_l1;
            }
            return found;
        }

        let left = &mut self.scan_left;
        left.fill(0.0);
        let mut wl = 0.0;
        let mut next_value = values_f[ranks[0] as usize] as f64;
        for p in 0..m - 1 {
            let cw = self.cw[order_f[ranks[p] as usize] as usize];
            left[cw.class as usize] += cw.weight;
            wl += cw.weight;
            let value = next_value;
            let r_next = ranks[p + 1];
            next_value = values_f[r_next as usize] as f64;
            if next_value <= value + FEATURE_THRESHOLD {
                continue;
            }
            let n_left = p + 1;
            if n_left < msl || m - n_left < msl {
                continue;
            }
            let wr = wn - wl;
            if wl < mwl || wr < mwl {
                continue;
            }
            let proxy = proxy_improvement(criterion, left, &self.node_sum, wl, wr);
            if proxy > best_proxy {
                best_proxy = proxy;
                found = Some((n_left, r_next, proxy, threshold_between(value, next_value)));
                self.left_sum.copy_from_slice(left);
            }
        }
        found
    }
}

/// Entropy (base 2) of weighted class counts summing to `total`.
#[inline]
fn entropy_of(counts: &[f64], total: f64) -> f64 {
    let mut h = 0.0;
    for &c in counts {
        if c > 0.0 {
            let p = c / total;
            h -= p * p.log2();
        }
    }
    h
}

/// Node impurity from weighted class counts summing to `wn`.
fn impurity(criterion: Criterion, counts: &[f64], wn: f64) -> f64 {
    impurity_of(criterion, counts, wn)
}

fn impurity_of(criterion: Criterion, counts: &[f64], wn: f64) -> f64 {
    if wn <= 0.0 {
        return 0.0;
    }
    match criterion {
        Criterion::Gini => {
            let sq: f64 = counts.iter().map(|c| c * c).sum();
            1.0 - sq / (wn * wn)
        }
        Criterion::Entropy => entropy_of(counts, wn),
    }
}

/// A quantity that orders splits as the impurity decrease does:
/// `-(w_left * impurity_left + w_right * impurity_right)` up to a constant of the node.
#[inline]
fn proxy_improvement(criterion: Criterion, left: &[f64], total: &[f64], wl: f64, wr: f64) -> f64 {
    match criterion {
        Criterion::Gini => {
            let mut sl = 0.0;
            let mut sr = 0.0;
            for (&l, &t) in left.iter().zip(total) {
                let r = t - l;
                sl += l * l;
                sr += r * r;
            }
            sl / wl + sr / wr
        }
        Criterion::Entropy => {
            let mut hl = 0.0;
            let mut hr = 0.0;
            for (&l, &t) in left.iter().zip(total) {
                let r = t - l;
                if l > 0.0 {
                    let p = l / wl;
                    hl -= p * p.log2();
                }
                if r > 0.0 {
                    let p = r / wr;
                    hr -= p * p.log2();
                }
            }
            -wl * hl - wr * hr
        }
    }
}
