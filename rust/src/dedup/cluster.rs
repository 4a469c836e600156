//! The signature store, LSH candidate search and union-find clustering.

use rayon::prelude::*;
use rustc_hash::FxHasher;
use std::hash::Hasher;

use super::DedupConfig;
use super::lexer;
use super::minhash::{self, Permutations};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The representative of its cluster (or alone): kept.
    Kept,
    /// Same normalised tokens as the representative.
    Exact,
    /// Near-duplicate of a cluster member.
    Near,
    /// In a cluster with a reference function (benchmark decontamination).
    Contaminated,
    /// A reference function itself (never output).
    Reference,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Kept => "kept",
            Reason::Exact => "exact",
            Reason::Near => "near",
            Reason::Contaminated => "contaminated",
            Reason::Reference => "reference",
        }
    }
}

/// What one function got: its cluster (the index of the cluster's representative, or of a
/// reference function for a contaminated cluster), why it is kept or dropped, and its
/// normalised-token hash.
pub struct Outcome {
    pub cluster: Vec<u32>,
    pub reason: Vec<Reason>,
    pub exact_hash: Vec<u128>,
}

pub struct Deduper {
    config: DedupConfig,
    perms: Permutations,
    exact: Vec<u128>,
    /// `bands` LSH keys per function.
    bands: Vec<u64>,
    /// The low byte of every MinHash value: enough to estimate Jaccard (b-bit MinHash).
    sketches: Vec<u8>,
    /// Lower ranks win a cluster; ties go to the earlier function.
    rank: Vec<f64>,
    reference: Vec<bool>,
}

struct Record {
    exact: u128,
    bands: Vec<u64>,
    sketch: Vec<u8>,
}

impl Deduper {
    /// Bytes held per function with the default configuration (42 bands, 256 permutations):
    /// 16 (exact hash) + 42 × 8 (band keys) + 256 (sketch) + 8 (rank) + 1 (reference flag).
    pub const BYTES_PER_FUNCTION: usize = 16 + 42 * 8 + 256 + 8 + 1;

    pub fn new(config: DedupConfig) -> Result<Self, String> {
        config.validate()?;
        let perms = Permutations::new(config.permutations, config.seed);
        Ok(Deduper {
            config,
            perms,
            exact: Vec::new(),
            bands: Vec::new(),
            sketches: Vec::new(),
            rank: Vec::new(),
            reference: Vec::new(),
        })
    }

    pub fn len(&self) -> usize {
        self.exact.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    pub fn bytes_per_function(&self) -> usize {
        16 + self.config.bands * 8 + self.config.permutations + 8 + 1
    }

    fn record(&self, source: &str) -> Record {
        let tokens = lexer::normalized(source, self.config.structural);
        let hashes: Vec<u64> = tokens.iter().map(|t| minhash::hash_token(t)).collect();
        let exact = minhash::fingerprint(&hashes);
        let shingled: Vec<u64> = if self.config.structural {
            tokens
                .iter()
                .map(|t| minhash::hash_token(lexer::shingle_text(t)))
                .collect()
        } else {
            hashes
        };
        let shingles = minhash::shingles(&shingled, self.config.ngram);
        let sig = minhash::signature(&shingles, &self.perms);
        let rows = self.config.rows;
        let bands = (0..self.config.bands)
            .map(|band| {
                let mut hasher = FxHasher::default();
                hasher.write_usize(band);
                for value in &sig[band * rows..(band + 1) * rows] {
                    hasher.write_u32(*value);
                }
                let mut state = hasher.finish();
                state ^= state >> 33;
                state.wrapping_mul(0xff51_afd7_ed55_8ccd)
            })
            .collect();
        let sketch = sig.iter().map(|v| *v as u8).collect();
        Record {
            exact,
            bands,
            sketch,
        }
    }

    /// Hashes a block of sources (in parallel) and appends them. `ranks` orders candidates for
    /// keeping (e.g. length for "shortest"); reference functions are never kept.
    pub fn add(&mut self, sources: &[&str], ranks: &[f64], reference: bool) {
        assert_eq!(sources.len(), ranks.len());
        let records: Vec<Record> = sources.par_iter().map(|s| self.record(s)).collect();
        for (record, &rank) in records.into_iter().zip(ranks) {
            self.exact.push(record.exact);
            self.bands.extend(record.bands);
            self.sketches.extend(record.sketch);
            self.rank.push(rank);
            self.reference.push(reference);
        }
    }

    /// Estimated Jaccard of two functions from their b-bit sketches.
    pub fn similarity(&self, i: usize, j: usize) -> f64 {
        let k = self.config.permutations;
        let (a, b) = (
            &self.sketches[i * k..(i + 1) * k],
            &self.sketches[j * k..(j + 1) * k],
        );
        let same = a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / k as f64;
        // Unrelated values agree on their low byte 1 time in 256.
        ((same - 1.0 / 256.0) / (1.0 - 1.0 / 256.0)).max(0.0)
    }

    /// Clusters everything added so far.
    pub fn finish(&self) -> Outcome {
        let n = self.len();
        let mut sets = UnionFind::new(n);
        // Exact duplicates.
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.par_sort_unstable_by_key(|&i| (self.exact[i as usize], i));
        for pair in order.windows(2) {
            if self.exact[pair[0] as usize] == self.exact[pair[1] as usize] {
                sets.union(pair[0] as usize, pair[1] as usize);
            }
        }
        // Near duplicates, one band at a time so only one band's keys are sorted at once.
        let b = self.config.bands;
        let mut keys: Vec<(u64, u32)> = Vec::with_capacity(n);
        for band in 0..b {
            keys.clear();
            keys.extend((0..n).map(|i| (self.bands[i * b + band], i as u32)));
            keys.par_sort_unstable();
            let mut start = 0;
            while start < n {
                let mut end = start + 1;
                while end < n && keys[end].0 == keys[start].0 {
                    end += 1;
                }
                for k in start + 1..end {
                    let (head, prev, this) = (
                        keys[start].1 as usize,
                        keys[k - 1].1 as usize,
                        keys[k].1 as usize,
                    );
                    if sets.find(prev) == sets.find(this) {
                        continue;
                    }
                    if !self.config.verify || self.similarity(prev, this) >= self.config.threshold {
                        sets.union(prev, this);
                    } else if head != prev && self.similarity(head, this) >= self.config.threshold {
                        sets.union(head, this);
                    }
                }
                start = end;
            }
        }
        self.assign(&mut sets)
    }

    /// Every pair sharing an LSH bucket (and, with `verify`, an estimated Jaccard at the
    /// threshold), smaller index first, sorted: for measuring recall and precision.
    pub fn candidate_pairs(&self, verify: bool) -> Vec<(u32, u32)> {
        let n = self.len();
        let b = self.config.bands;
        let mut pairs = Vec::new();
        let mut keys: Vec<(u64, u32)> = Vec::with_capacity(n);
        for band in 0..b {
            keys.clear();
            keys.extend((0..n).map(|i| (self.bands[i * b + band], i as u32)));
            keys.par_sort_unstable();
            for bucket in keys.chunk_by(|x, y| x.0 == y.0).filter(|c| c.len() > 1) {
                for (k, &(_, i)) in bucket.iter().enumerate() {
                    for &(_, j) in &bucket[k + 1..] {
                        if !verify
                            || self.similarity(i as usize, j as usize) >= self.config.threshold
                        {
                            pairs.push((i.min(j), i.max(j)));
                        }
                    }
                }
            }
        }
        pairs.par_sort_unstable();
        pairs.dedup();
        pairs
    }

    fn assign(&self, sets: &mut UnionFind) -> Outcome {
        let n = self.len();
        let roots: Vec<usize> = (0..n).map(|i| sets.find(i)).collect();
        // Per root: the best non-reference member, and any reference member.
        let mut best: Vec<Option<usize>> = vec![None; n];
        let mut reference: Vec<Option<usize>> = vec![None; n];
        for (i, &root) in roots.iter().enumerate() {
            if self.reference[i] {
                reference[root].get_or_insert(i);
                continue;
            }
            let better = match best[root] {
                None => true,
                Some(j) => self.rank[i] < self.rank[j],
            };
            if better {
                best[root] = Some(i);
            }
        }
        let mut cluster = Vec::with_capacity(n);
        let mut reason = Vec::with_capacity(n);
        for (i, &root) in roots.iter().enumerate() {
            if self.reference[i] {
                cluster.push(i as u32);
                reason.push(Reason::Reference);
            } else if let Some(r) = reference[root] {
                cluster.push(r as u32);
                reason.push(Reason::Contaminated);
            } else {
                let keep = best[root].expect("every cluster has a member");
                cluster.push(keep as u32);
                reason.push(if keep == i {
                    Reason::Kept
                } else if self.exact[keep] == self.exact[i] {
                    Reason::Exact
                } else {
                    Reason::Near
                });
            }
        }
        Outcome {
            cluster,
            reason,
            exact_hash: self.exact.clone(),
        }
    }
}

struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] as usize != i {
            let grandparent = self.parent[self.parent[i] as usize];
            self.parent[i] = grandparent;
            i = grandparent as usize;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller index is the root: deterministic whatever the merge order.
            let (low, high) = (ra.min(rb), ra.max(rb));
            self.parent[high] = low as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "def area(width, height):\n    if width < 0 or height < 0:\n        raise ValueError('negative')\n    return width * height\n";
    const A_COMMENTED: &str = "def area(width, height):\n    # checks\n    if width < 0 or height < 0:\n        raise ValueError('negative')\n    return width * height  # done\n";
    const B: &str = "def greet(name):\n    return 'hello ' + name.title()\n";

    fn run(sources: &[&str], reference: &[&str]) -> Outcome {
        let mut d = Deduper::new(DedupConfig::default()).unwrap();
        let ranks: Vec<f64> = (0..sources.len()).map(|i| i as f64).collect();
        d.add(sources, &ranks, false);
        d.add(reference, &vec![0.0; reference.len()], true);
        d.finish()
    }

    #[test]
    fn exact_duplicates_keep_the_lowest_rank() {
        let out = run(&[B, A_COMMENTED, A], &[]);
        assert_eq!(out.reason, vec![Reason::Kept, Reason::Kept, Reason::Exact]);
        assert_eq!(out.cluster, vec![0, 1, 1]);
    }

    #[test]
    fn reference_hits_are_contaminated() {
        let out = run(&[A, B], &[A_COMMENTED]);
        assert_eq!(
            out.reason,
            vec![Reason::Contaminated, Reason::Kept, Reason::Reference]
        );
        assert_eq!(out.cluster[0], 2);
    }

    #[test]
    fn estimated_similarity_of_a_function_with_itself_is_one() {
        let mut d = Deduper::new(DedupConfig::default()).unwrap();
        d.add(&[A, A, B], &[0.0, 1.0, 2.0], false);
        assert!((d.similarity(0, 1) - 1.0).abs() < 1e-9);
        assert!(d.similarity(0, 2) < 0.2);
        assert_eq!(d.bytes_per_function(), Deduper::BYTES_PER_FUNCTION);
    }
}
