//! Clustering from candidates found and verified elsewhere (a distributed dedup), with the very
//! outcome of [`Deduper::finish`](super::Deduper::finish).
//!
//! `finish` depends on the order it meets candidates in: it skips a bucket position whose two
//! functions are joined already, and asks about (head, this) only when (prev, this) is not a
//! near duplicate. So the components of every candidate pair verified are not its clusters.
//! A distributed run instead hands over every bucket position (band, key, position order) and
//! the verdict on each pair a position may ask about, and [`Replay::cluster`] walks them as
//! `finish` does, with the same exact-hash unions first and the same keep rule after
//! ([`cluster::exact_unions`], [`cluster::join_candidate`], [`cluster::assign`]).

use super::DedupError;
use super::cluster::{self, Outcome};

/// The LSH bucket positions in the order `finish` visits them: by band, then bucket key, then
/// position in the bucket (members in index order). Position k of a bucket is
/// (`head` = member 0, `prev` = member k - 1, `this` = member k), k >= 1.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Candidates {
    pub head: Vec<u32>,
    pub prev: Vec<u32>,
    pub this: Vec<u32>,
}

impl Candidates {
    pub fn len(&self) -> usize {
        self.this.len()
    }

    pub fn is_empty(&self) -> bool {
        self.this.is_empty()
    }
}

/// What clustering needs of each function besides its candidates: its exact hash, its rank
/// (lower wins) and whether it is a reference (benchmark) function, in index order.
#[derive(Default)]
pub struct Replay {
    exact: Vec<u128>,
    rank: Vec<f64>,
    reference: Vec<bool>,
}

impl Replay {
    pub fn new() -> Self {
        Replay::default()
    }

    pub fn len(&self) -> usize {
        self.exact.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// Appends functions: one exact hash and one rank each.
    pub fn add(
        &mut self,
        exact: &[u128],
        ranks: &[f64],
        reference: bool,
    ) -> Result<(), DedupError> {
        if exact.len() != ranks.len() {
            return Err(DedupError::LengthMismatch {
                sources: exact.len(),
                ranks: ranks.len(),
            });
        }
        self.exact.extend_from_slice(exact);
        self.rank.extend_from_slice(ranks);
        self.reference.resize(self.exact.len(), reference);
        Ok(())
    }

    /// Clusters the functions added from their bucket positions, in order. `near`: the pairs
    /// (earlier index, later index) that are near duplicates among those the positions may
    /// ask about, in any order; `None` when candidates are not verified (every one is near).
    /// Fails on an index past the functions added.
    pub fn cluster(
        &self,
        candidates: &Candidates,
        near: Option<Vec<(u32, u32)>>,
    ) -> Result<Outcome, DedupError> {
        self.check(candidates, near.as_deref())?;
        let near = near.map(|mut pairs| {
            pairs.sort_unstable();
            pairs.dedup();
            pairs
        });
        let is_near = |a: usize, b: usize| match &near {
            None => true,
            Some(pairs) => pairs.binary_search(&(a as u32, b as u32)).is_ok(),
        };
        let mut sets = cluster::exact_unions(&self.exact);
        for k in 0..candidates.len() {
            let (head, prev, this) = (
                candidates.head[k] as usize,
                candidates.prev[k] as usize,
                candidates.this[k] as usize,
            );
            cluster::join_candidate(&mut sets, head, prev, this, |a, b| Ok(is_near(a, b)))?;
        }
        Ok(cluster::assign(
            &self.exact,
            &self.rank,
            &self.reference,
            &mut sets,
        ))
    }

    /// Every column of the same length and every index one of a function added.
    fn check(
        &self,
        candidates: &Candidates,
        near: Option<&[(u32, u32)]>,
    ) -> Result<(), DedupError> {
        let c = candidates;
        if c.head.len() != c.len() || c.prev.len() != c.len() {
            return Err(DedupError::SignatureShape(format!(
                "candidate columns of {}, {} and {} rows",
                c.head.len(),
                c.prev.len(),
                c.len()
            )));
        }
        let pairs = near.unwrap_or(&[]);
        let indices = c.head.iter().chain(&c.prev).chain(&c.this);
        let paired = pairs.iter().flat_map(|&(a, b)| [a, b]);
        match indices
            .copied()
            .chain(paired)
            .find(|&i| i as usize >= self.len())
        {
            Some(index) => Err(DedupError::NoSuchFunction {
                index: index as usize,
                len: self.len(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::cluster::near_duplicates;
    use super::super::{DedupConfig, Deduper, Reason, Signatures};
    use super::*;
    use std::collections::BTreeSet;

    /// The bucket positions of signed functions, as a distributed run finds them: every
    /// (band, key, index) row, grouped by (band, key), members in index order.
    fn positions(signatures: &Signatures, bands: usize) -> Candidates {
        let mut rows: Vec<(usize, u64, u32)> = Vec::new();
        for (i, keys) in signatures.bands.chunks_exact(bands).enumerate() {
            rows.extend(keys.iter().enumerate().map(|(b, &key)| (b, key, i as u32)));
        }
        rows.sort_unstable();
        let mut out = Candidates::default();
        for bucket in rows.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)) {
            for k in 1..bucket.len() {
                out.head.push(bucket[0].2);
                out.prev.push(bucket[k - 1].2);
                out.this.push(bucket[k].2);
            }
        }
        out
    }

    /// The near pairs among those the positions may ask about, verified from the signatures.
    fn verified(signatures: &Signatures, candidates: &Candidates, k: usize) -> Vec<(u32, u32)> {
        let mut starts = vec![0usize];
        for &len in &signatures.lengths {
            starts.push(starts.last().unwrap() + len as usize);
        }
        let set = |i: u32| &signatures.shingles[starts[i as usize]..starts[i as usize + 1]];
        let sketch = |i: u32| &signatures.sketches[i as usize * k..(i as usize + 1) * k];
        let asked: BTreeSet<(u32, u32)> = (0..candidates.len())
            .flat_map(|p| {
                let this = candidates.this[p];
                [(candidates.prev[p], this), (candidates.head[p], this)]
            })
            .collect();
        asked
            .into_iter()
            .filter(|&(a, b)| near_duplicates(0.7, [sketch(a), sketch(b)], [set(a), set(b)]))
            .collect()
    }

    fn variants() -> Vec<String> {
        let body: Vec<String> = (0..16)
            .map(|i| format!("    v{i} = w{i} * {i} + 1\n"))
            .collect();
        let mut sources = Vec::new();
        for copy in 0..12 {
            let mut lines = body.clone();
            // Each copy differs from the original in a line or two: a chain of near copies.
            lines[copy % 16] = format!("    v{copy} = w{copy} - {copy}\n");
            if copy % 3 == 0 {
                lines[(copy + 5) % 16] = format!("    z{copy} = {copy}\n");
            }
            sources.push(format!("def f():\n{}", lines.concat()));
        }
        sources.push("def g(x):\n    return x + 1\n".to_string());
        sources.push(sources[0].replace("def f():", "def f():\n    # a comment"));
        sources
    }

    #[test]
    fn replaying_signed_candidates_gives_finishs_outcome() {
        let sources = variants();
        let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
        let config = DedupConfig::default();
        let (bands, k) = (config.bands, config.permutations);
        let mut d = Deduper::new(config).unwrap();
        let ranks: Vec<f64> = (0..refs.len()).map(|i| ((i * 7) % 5) as f64).collect();
        let signatures = d.sign(&refs);
        d.add_signatures(&signatures, &ranks, false).unwrap();
        let local = d.finish().unwrap();
        assert!(local.reason.contains(&Reason::Near) && local.reason.contains(&Reason::Exact));

        let mut replay = Replay::new();
        replay.add(&signatures.exact, &ranks, false).unwrap();
        let candidates = positions(&signatures, bands);
        let near = verified(&signatures, &candidates, k);
        let out = replay.cluster(&candidates, Some(near)).unwrap();
        assert_eq!(out.cluster, local.cluster);
        assert_eq!(out.reason, local.reason);
        assert_eq!(out.exact_hash, local.exact_hash);
    }

    #[test]
    fn a_position_whose_pair_is_joined_never_asks_about_its_head() {
        // Buckets [1, 3], [2, 3], then [0, 1, 2]; near pairs (1, 3), (2, 3), (0, 2). At the
        // last position (1, 2) is joined already (through 3), so (0, 2) is never asked: 0 stays
        // alone, where the components of the near pairs would join all four.
        let mut replay = Replay::new();
        replay.add(&[10, 11, 12, 13], &[0.0; 4], false).unwrap();
        let chained = Candidates {
            head: vec![1, 2, 0, 0],
            prev: vec![1, 2, 0, 1],
            this: vec![3, 3, 1, 2],
        };
        let near = vec![(2, 3), (0, 2), (1, 3)];
        let out = replay.cluster(&chained, Some(near.clone())).unwrap();
        assert_eq!(out.cluster, vec![0, 1, 1, 1]);
        // Without bucket [2, 3], (1, 2) is not joined: (0, 2) is asked and joins 0 and 2.
        let candidates = Candidates {
            head: vec![1, 0, 0],
            prev: vec![1, 0, 1],
            this: vec![3, 1, 2],
        };
        let out = replay.cluster(&candidates, Some(near)).unwrap();
        assert_eq!(out.cluster, vec![0, 1, 0, 1]);
        // Unverified, every position asked joins.
        let out = replay.cluster(&candidates, None).unwrap();
        assert_eq!(out.cluster, vec![0, 0, 0, 0]);
        let bad = Candidates {
            head: vec![0],
            prev: vec![0],
            this: vec![4],
        };
        assert!(matches!(
            replay.cluster(&bad, None),
            Err(DedupError::NoSuchFunction { index: 4, len: 4 })
        ));
    }
}
