//! The signature store, LSH candidate search and union-find clustering.

use rayon::prelude::*;
use rustc_hash::FxHasher;
use std::hash::Hasher;

use super::lexer;
use super::minhash::{self, Permutations};
use super::spill::Records;
use super::{DedupConfig, DedupError};

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

/// Functions' dedup signatures, function by function: the exact hash of the normalised tokens,
/// the LSH band keys (`bands` per function), the MinHash sketch (the low byte of each of the
/// `permutations` values) and the sorted shingle set (`lengths[i]` values of `shingles`).
/// Computed per partition anywhere ([`Deduper::sign`]); clustered where they are gathered
/// ([`Deduper::add_signatures`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signatures {
    pub exact: Vec<u128>,
    pub bands: Vec<u64>,
    pub sketches: Vec<u8>,
    pub lengths: Vec<u32>,
    pub shingles: Vec<u32>,
}

impl Signatures {
    pub fn len(&self) -> usize {
        self.exact.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// Whether the columns fit `bands` keys and `permutations` sketch bytes per function.
    fn check(&self, bands: usize, permutations: usize) -> Result<(), DedupError> {
        let n = self.len();
        let total: usize = self.lengths.iter().map(|&l| l as usize).sum();
        let shape = [
            ("band keys", self.bands.len(), n * bands),
            ("sketch bytes", self.sketches.len(), n * permutations),
            ("shingle sets", self.lengths.len(), n),
            ("shingles", self.shingles.len(), total),
        ];
        match shape.into_iter().find(|(_, got, want)| got != want) {
            Some((what, got, want)) => Err(DedupError::SignatureShape(format!(
                "{got} {what} for {n} functions, expected {want} (signed with other settings?)"
            ))),
            None => Ok(()),
        }
    }
}

/// Functions are known by their position in the order they were added (the row of the table
/// they come from): function ids are no key, exact copies share one.
pub struct Deduper {
    config: DedupConfig,
    perms: Permutations,
    exact: Vec<u128>,
    /// The LSH keys (finish reads one band at a time) and the low byte of every MinHash value
    /// (enough to estimate Jaccard: b-bit MinHash), on disk.
    records: Records,
    /// Lower ranks win a cluster; ties go to the earlier function.
    rank: Vec<f64>,
    reference: Vec<bool>,
}

/// One thread's reused buffers for hashing functions.
struct Scratch<'a> {
    tokens: Vec<lexer::Token<'a>>,
    normalizer: lexer::Normalizer<'a>,
    hashes: Vec<u64>,
    shingled: Vec<u64>,
    /// `hash_token("$n")` of placeholder n, computed once.
    placeholders: Vec<u64>,
    shingles: minhash::Shingles,
    signature: Vec<u32>,
    /// A string literal's canonical form (code view).
    literal: String,
}

impl Scratch<'_> {
    fn new(permutations: usize) -> Self {
        Scratch {
            tokens: Vec::new(),
            normalizer: lexer::Normalizer::default(),
            hashes: Vec::new(),
            shingled: Vec::new(),
            placeholders: Vec::new(),
            shingles: minhash::Shingles::default(),
            signature: vec![0; permutations],
            literal: String::new(),
        }
    }
}

/// Where one function's record goes.
struct Slots<'s> {
    exact: &'s mut u128,
    bands: &'s mut [u64],
    sketch: &'s mut [u8],
}

impl Deduper {
    /// Fixed bytes of one function's record with the default configuration (42 bands, 256
    /// permutations): 16 (exact hash) + 42 × 8 (band keys) + 256 (sketch) + 8 (rank) + 1
    /// (reference flag) + 8 (where its shingles start); the band keys and the sketch are on
    /// disk ([`Records`]), and so are its shingles, 4 bytes each (not counted here).
    pub const BYTES_PER_FUNCTION: usize = 16 + 42 * 8 + 256 + 8 + 1 + 8;
    /// Of those, the bytes held in RAM per function: exact hash, rank, reference flag, start
    /// of its shingles.
    pub const RAM_BYTES_PER_FUNCTION: usize = 16 + 8 + 1 + 8;
    /// Functions hashed between writes of their shingle sets: bounds the sets held in RAM.
    const SHINGLE_CHUNK: usize = 4096;

    pub fn new(config: DedupConfig) -> Result<Self, DedupError> {
        config.validate()?;
        let perms = Permutations::new(config.permutations, config.seed);
        Ok(Deduper {
            records: Records::new(config.bands, config.permutations)?,
            config,
            perms,
            exact: Vec::new(),
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

    pub fn bands(&self) -> usize {
        self.config.bands
    }

    pub fn permutations(&self) -> usize {
        self.config.permutations
    }

    pub fn bytes_per_function(&self) -> usize {
        16 + self.config.bands * 8 + self.config.permutations + 8 + 1 + 8
    }

    /// Token hashes into `scratch.hashes`, and (structural mode) the hashes shingles see,
    /// every placeholder alike, into `scratch.shingled`. String literals hash as their
    /// canonical form, except in the raw-text view.
    fn hash_tokens<'a>(&self, source: &'a str, scratch: &mut Scratch<'a>) {
        let raw_text = self.config.raw_text;
        lexer::tokens_into(source, &mut scratch.tokens, raw_text);
        let Scratch {
            tokens,
            normalizer,
            hashes,
            shingled,
            placeholders,
            literal,
            ..
        } = scratch;
        hashes.clear();
        shingled.clear();
        let structural = self.config.structural;
        let placeholder_shingle = minhash::hash_token("$");
        normalizer.run(tokens, structural, |token| match token {
            lexer::Normal::Text(text) | lexer::Normal::Literal(text) => {
                let hash = if raw_text || matches!(token, lexer::Normal::Text(_)) {
                    minhash::hash_token(text)
                } else {
                    lexer::canonical_string(text, literal);
                    minhash::hash_token(literal)
                };
                hashes.push(hash);
                if structural {
                    shingled.push(hash);
                }
            }
            lexer::Normal::Placeholder(n) => {
                while placeholders.len() <= n {
                    let next = lexer::Normal::Placeholder(placeholders.len());
                    placeholders.push(minhash::hash_token(&next.to_string()));
                }
                hashes.push(placeholders[n]);
                shingled.push(placeholder_shingle);
            }
        });
    }

    /// Hashes one function into its slots; returns its shingle set, sorted.
    fn record<'a>(&self, source: &'a str, scratch: &mut Scratch<'a>, out: Slots<'_>) -> Vec<u32> {
        self.hash_tokens(source, scratch);
        *out.exact = minhash::fingerprint(&scratch.hashes);
        let shingled = if self.config.structural {
            &scratch.shingled
        } else {
            &scratch.hashes
        };
        let shingles = scratch.shingles.of(shingled, self.config.ngram);
        minhash::signature(shingles, &self.perms, &mut scratch.signature);
        let (sig, rows) = (&scratch.signature, self.config.rows);
        for (band, key) in out.bands.iter_mut().enumerate() {
            let mut hasher = FxHasher::default();
            hasher.write_usize(band);
            for value in &sig[band * rows..(band + 1) * rows] {
                hasher.write_u32(*value);
            }
            let mut state = hasher.finish();
            state ^= state >> 33;
            *key = state.wrapping_mul(0xff51_afd7_ed55_8ccd);
        }
        for (byte, value) in out.sketch.iter_mut().zip(sig) {
            *byte = *value as u8;
        }
        let mut sorted = shingles.to_vec();
        sorted.sort_unstable();
        sorted
    }

    /// Hashes a block of sources in parallel: each one's exact hash, band keys, sketch and
    /// shingle set, function by function (what a partition of the dedup step computes).
    pub fn sign(&self, sources: &[&str]) -> Signatures {
        let (n, b, k) = (sources.len(), self.config.bands, self.config.permutations);
        let mut exact = vec![0u128; n];
        let mut bands = vec![0u64; n * b];
        let mut sketches = vec![0u8; n * k];
        let sets: Vec<Vec<u32>> = sources
            .par_iter()
            .zip(exact.par_iter_mut())
            .zip(bands.par_chunks_mut(b))
            .zip(sketches.par_chunks_mut(k))
            .map_init(
                || Scratch::new(k),
                |scratch, (((source, exact), bands), sketch)| {
                    let slots = Slots {
                        exact,
                        bands,
                        sketch,
                    };
                    self.record(source, scratch, slots)
                },
            )
            .collect();
        Signatures {
            exact,
            bands,
            sketches,
            lengths: sets.iter().map(|set| set.len() as u32).collect(),
            shingles: sets.concat(),
        }
    }

    /// Hashes a block of sources (in parallel) and appends them. `ranks` orders candidates for
    /// keeping (e.g. length for "shortest"); reference functions are never kept. Fails when
    /// `ranks` is not one per source, or the records cannot be written to the temporary
    /// directory.
    pub fn add(
        &mut self,
        sources: &[&str],
        ranks: &[f64],
        reference: bool,
    ) -> Result<(), DedupError> {
        if sources.len() != ranks.len() {
            return Err(DedupError::LengthMismatch {
                sources: sources.len(),
                ranks: ranks.len(),
            });
        }
        // A chunk at a time: bounds the shingle sets held in RAM.
        for (sources, ranks) in sources
            .chunks(Self::SHINGLE_CHUNK)
            .zip(ranks.chunks(Self::SHINGLE_CHUNK))
        {
            let signatures = self.sign(sources);
            self.add_signatures(&signatures, ranks, reference)?;
        }
        Ok(())
    }

    /// Appends functions signed before (by [`sign`](Self::sign), here or in another process
    /// with the same settings), one rank each. Fails when the signatures do not have this
    /// configuration's shape, or the records cannot be written.
    pub fn add_signatures(
        &mut self,
        signatures: &Signatures,
        ranks: &[f64],
        reference: bool,
    ) -> Result<(), DedupError> {
        let (b, k) = (self.config.bands, self.config.permutations);
        signatures.check(b, k)?;
        let n = signatures.len();
        if n != ranks.len() {
            return Err(DedupError::LengthMismatch {
                sources: n,
                ranks: ranks.len(),
            });
        }
        let start = self.len();
        self.records
            .append_shingles(&signatures.lengths, &signatures.shingles)?;
        // Band keys by function in, band-major for the file.
        let mut band_major = vec![0u64; n * b];
        for (i, function) in signatures.bands.chunks_exact(b).enumerate() {
            for (band, &key) in function.iter().enumerate() {
                band_major[band * n + i] = key;
            }
        }
        if let Err(error) = self.records.append(&band_major, &signatures.sketches) {
            self.records.truncate_shingles(start);
            return Err(error);
        }
        self.exact.extend_from_slice(&signatures.exact);
        self.rank.extend_from_slice(ranks);
        self.reference.resize(start + n, reference);
        Ok(())
    }

    /// Estimated Jaccard of two functions from their b-bit sketches.
    pub fn similarity(&self, i: usize, j: usize) -> Result<f64, DedupError> {
        let len = self.len();
        if let Some(index) = [i, j].into_iter().find(|&index| index >= len) {
            return Err(DedupError::NoSuchFunction { index, len });
        }
        let k = self.config.permutations;
        self.similarity_into(i, j, &mut SketchPair::new(k))
    }

    /// Exact Jaccard of two functions' shingle sets (what verification checks).
    pub fn jaccard(&self, i: usize, j: usize) -> Result<f64, DedupError> {
        let len = self.len();
        if let Some(index) = [i, j].into_iter().find(|&index| index >= len) {
            return Err(DedupError::NoSuchFunction { index, len });
        }
        self.jaccard_into(i, j, &mut SketchPair::new(self.config.permutations))
    }

    fn jaccard_into(&self, i: usize, j: usize, pair: &mut SketchPair) -> Result<f64, DedupError> {
        self.records.shingles(i, &mut pair.bytes, &mut pair.set_a)?;
        self.records.shingles(j, &mut pair.bytes, &mut pair.set_b)?;
        Ok(sorted_jaccard(&pair.set_a, &pair.set_b))
    }

    /// Whether a candidate pair is a near duplicate: its exact Jaccard reaches the threshold.
    /// The sketches' estimate first turns away pairs far below it (a 256-permutation estimate
    /// is within 0.15 of the truth but for one pair in millions), which saves reading the
    /// shingle sets of most chance collisions.
    fn verified(&self, i: usize, j: usize, pair: &mut SketchPair) -> Result<bool, DedupError> {
        let threshold = self.config.threshold;
        if !estimate_reaches(self.similarity_into(i, j, pair)?, threshold) {
            return Ok(false);
        }
        Ok(self.jaccard_into(i, j, pair)? >= threshold)
    }

    /// `similarity`, reading the sketches into reused buffers.
    fn similarity_into(
        &self,
        i: usize,
        j: usize,
        pair: &mut SketchPair,
    ) -> Result<f64, DedupError> {
        self.records.sketch(i, &mut pair.a)?;
        self.records.sketch(j, &mut pair.b)?;
        Ok(estimated_jaccard(&pair.a, &pair.b))
    }

    /// Clusters everything added so far.
    pub fn finish(&self) -> Result<Outcome, DedupError> {
        let n = self.len();
        let mut sets = exact_unions(&self.exact);
        // Near duplicates, one band at a time so only one band's keys are in memory at once.
        let mut band = SortedBand::default();
        let mut column = Vec::new();
        let mut pair = SketchPair::new(self.config.permutations);
        for b in 0..self.config.bands {
            self.records.band(b, &mut column)?;
            let keys = band.sort(&column);
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
                    join_candidate(&mut sets, head, prev, this, |a, b| {
                        Ok(!self.config.verify || self.verified(a, b, &mut pair)?)
                    })?;
                }
                start = end;
            }
        }
        drop((column, band));
        Ok(self.assign(&mut sets))
    }

    /// Every pair sharing an LSH bucket (and, with `verify`, an estimated Jaccard at the
    /// threshold), smaller index first, sorted: for measuring recall and precision.
    pub fn candidate_pairs(&self, verify: bool) -> Result<Vec<(u32, u32)>, DedupError> {
        let per_band: Result<Vec<Vec<(u32, u32)>>, DedupError> = (0..self.config.bands)
            .into_par_iter()
            .map_init(SortedBand::default, |band, b| {
                let mut column = Vec::new();
                self.records.band(b, &mut column)?;
                self.bucket_pairs(band.sort(&column), verify)
            })
            .collect();
        let mut pairs: Vec<(u32, u32)> = per_band?.into_iter().flatten().collect();
        pairs.par_sort_unstable();
        pairs.dedup();
        Ok(pairs)
    }

    /// The pairs sharing a bucket of one band's sorted keys, smaller index first.
    fn bucket_pairs(
        &self,
        keys: &[(u64, u32)],
        verify: bool,
    ) -> Result<Vec<(u32, u32)>, DedupError> {
        let mut pairs = Vec::new();
        let mut sketches = SketchPair::new(self.config.permutations);
        for bucket in keys.chunk_by(|x, y| x.0 == y.0).filter(|c| c.len() > 1) {
            for (k, &(_, i)) in bucket.iter().enumerate() {
                for &(_, j) in &bucket[k + 1..] {
                    if !verify || self.verified(i as usize, j as usize, &mut sketches)? {
                        pairs.push((i, j));
                    }
                }
            }
        }
        Ok(pairs)
    }

    fn assign(&self, sets: &mut UnionFind) -> Outcome {
        assign(&self.exact, &self.rank, &self.reference, sets)
    }
}

/// Exact duplicates joined: functions with the same exact hash (the first step of clustering).
pub(super) fn exact_unions(exact: &[u128]) -> UnionFind {
    let mut sets = UnionFind::new(exact.len());
    let mut order: Vec<u32> = (0..exact.len() as u32).collect();
    order.par_sort_unstable_by_key(|&i| (exact[i as usize], i));
    for pair in order.windows(2) {
        if exact[pair[0] as usize] == exact[pair[1] as usize] {
            sets.union(pair[0] as usize, pair[1] as usize);
        }
    }
    sets
}

/// One position of an LSH bucket (members in index order: `this` at position k, `prev` at
/// k - 1, `head` at 0), the rule clustering applies in band, key and position order: nothing
/// when `prev` and `this` are joined already; else `this` joins `prev` when `near(prev,
/// this)`, else `head` when `near(head, this)`. Which pairs get asked depends on what was
/// joined before: the outcome depends on the order, which [`super::replay`] follows too.
pub(super) fn join_candidate(
    sets: &mut UnionFind,
    head: usize,
    prev: usize,
    this: usize,
    mut near: impl FnMut(usize, usize) -> Result<bool, DedupError>,
) -> Result<(), DedupError> {
    if sets.find(prev) == sets.find(this) {
        return Ok(());
    }
    if near(prev, this)? {
        sets.union(prev, this);
    } else if head != prev && near(head, this)? {
        sets.union(head, this);
    }
    Ok(())
}

/// Each function's cluster and reason from the joined sets: per cluster the best-ranked
/// non-reference member is kept (ties: the earlier one), and a cluster holding a reference
/// function is contaminated by its first one.
pub(super) fn assign(
    exact: &[u128],
    rank: &[f64],
    reference: &[bool],
    sets: &mut UnionFind,
) -> Outcome {
    let n = exact.len();
    // u32 indices with NONE for "no member" (not Option<usize>): 4 bytes per function each.
    const NONE: u32 = u32::MAX;
    let roots: Vec<u32> = (0..n).map(|i| sets.find(i) as u32).collect();
    // Per root: the best non-reference member, and any reference member.
    let mut best: Vec<u32> = vec![NONE; n];
    let mut referenced: Vec<u32> = vec![NONE; n];
    for (i, &root) in roots.iter().enumerate() {
        let root = root as usize;
        if reference[i] {
            if referenced[root] == NONE {
                referenced[root] = i as u32;
            }
            continue;
        }
        let j = best[root];
        if j == NONE || rank[i] < rank[j as usize] {
            best[root] = i as u32;
        }
    }
    let mut cluster = Vec::with_capacity(n);
    let mut reason = Vec::with_capacity(n);
    for (i, &root) in roots.iter().enumerate() {
        let root = root as usize;
        if reference[i] {
            cluster.push(i as u32);
            reason.push(Reason::Reference);
        } else if referenced[root] != NONE {
            cluster.push(referenced[root]);
            reason.push(Reason::Contaminated);
        } else {
            assert_ne!(best[root], NONE, "every cluster has a member");
            let keep = best[root] as usize;
            cluster.push(keep as u32);
            reason.push(if keep == i {
                Reason::Kept
            } else if exact[keep] == exact[i] {
                Reason::Exact
            } else {
                Reason::Near
            });
        }
    }
    Outcome {
        cluster,
        reason,
        exact_hash: exact.to_vec(),
    }
}

/// How far below the threshold a pair's estimated Jaccard may be and still be checked exactly:
/// 5 standard deviations of a 256-permutation estimate at Jaccard 0.7.
const ESTIMATE_MARGIN: f64 = 0.15;

/// Jaccard estimated from two b-bit sketches (the low byte of each MinHash value).
pub fn estimated_jaccard(a: &[u8], b: &[u8]) -> f64 {
    let same = equal_bytes(a, b) as f64 / a.len() as f64;
    // Unrelated values agree on their low byte 1 time in 256.
    ((same - 1.0 / 256.0) / (1.0 - 1.0 / 256.0)).max(0.0)
}

/// Whether an estimate is close enough to the threshold for the exact Jaccard to be checked.
fn estimate_reaches(estimate: f64, threshold: f64) -> bool {
    estimate >= threshold - ESTIMATE_MARGIN
}

/// The verification of a candidate pair from its signatures, wherever they are (what
/// [`Deduper::finish`] asks of its records): the sketches' estimate near the threshold, then
/// the exact Jaccard of the sorted shingle sets at or above it.
pub fn near_duplicates(threshold: f64, sketches: [&[u8]; 2], sets: [&[u32]; 2]) -> bool {
    estimate_reaches(estimated_jaccard(sketches[0], sketches[1]), threshold)
        && sorted_jaccard(sets[0], sets[1]) >= threshold
}

/// Two sketches and two shingle sets read back from the records, in reused buffers.
struct SketchPair {
    a: Vec<u8>,
    b: Vec<u8>,
    bytes: Vec<u8>,
    set_a: Vec<u32>,
    set_b: Vec<u32>,
}

impl SketchPair {
    fn new(width: usize) -> Self {
        SketchPair {
            a: vec![0; width],
            b: vec![0; width],
            bytes: Vec::new(),
            set_a: Vec::new(),
            set_b: Vec::new(),
        }
    }
}

/// Jaccard of two sorted sets without repeats (1 for two empty sets).
fn sorted_jaccard(a: &[u32], b: &[u32]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - both;
    if union == 0 {
        1.0
    } else {
        both as f64 / union as f64
    }
}

/// One band's (key, function) pairs in order, in reused buffers.
#[derive(Default)]
struct SortedBand {
    keys: Vec<(u64, u32)>,
    /// Per slot of the counting pass: where its pairs start, then where they end.
    slots: Vec<u32>,
}

impl SortedBand {
    /// The pairs of `column` sorted. Band keys are uniformly random, so a counting pass on
    /// their top bits leaves one or two pairs per slot to sort (a comparison sort of all of
    /// them took most of `finish`).
    fn sort(&mut self, column: &[u64]) -> &[(u64, u32)] {
        let bits = column.len().max(2).ilog2().min(24);
        let slot = |key: u64| (key >> (64 - bits)) as usize;
        self.slots.clear();
        self.slots.resize((1 << bits) + 1, 0);
        for &key in column {
            self.slots[slot(key) + 1] += 1;
        }
        for s in 1..self.slots.len() {
            self.slots[s] += self.slots[s - 1];
        }
        self.keys.clear();
        self.keys.resize(column.len(), (0, 0));
        for (&key, i) in column.iter().zip(0..) {
            let at = &mut self.slots[slot(key)];
            self.keys[*at as usize] = (key, i);
            *at += 1;
        }
        let mut start = 0;
        for &end in &self.slots[..1 << bits] {
            self.keys[start..end as usize].sort_unstable();
            start = end as usize;
        }
        &self.keys
    }
}

/// How many positions of `a` and `b` hold the same byte; in chunks short enough for 8-bit
/// counts, so that it vectorises.
fn equal_bytes(a: &[u8], b: &[u8]) -> usize {
    a.chunks(255)
        .zip(b.chunks(255))
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| u8::from(x == y)).sum::<u8>() as usize)
        .sum()
}

pub(super) struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    pub(super) fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    pub(super) fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] as usize != i {
            let grandparent = self.parent[self.parent[i] as usize];
            self.parent[i] = grandparent;
            i = grandparent as usize;
        }
        i
    }

    pub(super) fn union(&mut self, a: usize, b: usize) {
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
        d.add(sources, &ranks, false).unwrap();
        d.add(reference, &vec![0.0; reference.len()], true).unwrap();
        d.finish().unwrap()
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
        d.add(&[A, A, B], &[0.0, 1.0, 2.0], false).unwrap();
        assert!((d.similarity(0, 1).unwrap() - 1.0).abs() < 1e-9);
        assert!(d.similarity(0, 2).unwrap() < 0.2);
        assert_eq!(d.bytes_per_function(), Deduper::BYTES_PER_FUNCTION);
    }

    #[test]
    fn reformatted_quotes_make_an_exact_copy() {
        let double = A.replace("'negative'", "\"negative\"");
        let out = run(&[A, &double], &[]);
        assert_eq!(out.reason, vec![Reason::Kept, Reason::Exact]);
        let mut raw = Deduper::new(DedupConfig {
            raw_text: true,
            ..DedupConfig::default()
        })
        .unwrap();
        raw.add(&[A, &double, A_COMMENTED], &[0.0, 1.0, 2.0], false)
            .unwrap();
        let raw = raw.finish().unwrap();
        assert_ne!(raw.exact_hash[0], raw.exact_hash[1]);
        assert_ne!(raw.exact_hash[0], raw.exact_hash[2]);
    }

    #[test]
    fn candidates_are_verified_by_their_exact_jaccard() {
        // 20 distinct statements; a copy with one changed: 5-token shingles differ near it.
        let body: Vec<String> = (0..20)
            .map(|i| format!("    v{i} = w{i} + {i}\n"))
            .collect();
        let original = format!("def f():\n{}", body.concat());
        let mut edited = body.clone();
        edited[10] = "    v10 = w10 - 10\n".to_string();
        let copy = format!("def f():\n{}", edited.concat());
        let mut d = Deduper::new(DedupConfig::default()).unwrap();
        d.add(&[&original, &copy, B], &[0.0, 1.0, 2.0], false)
            .unwrap();
        let set = |s: &str| -> std::collections::BTreeSet<String> {
            super::super::inspect::shingle_texts(s, 5, false, false)
                .into_iter()
                .collect()
        };
        let (a, b) = (set(&original), set(&copy));
        let truth = a.intersection(&b).count() as f64 / a.union(&b).count() as f64;
        let exact = d.jaccard(0, 1).unwrap();
        assert!((exact - truth).abs() < 1e-12, "{exact} vs {truth}");
        assert!(exact > 0.7 && exact < 1.0);
        assert_eq!(d.candidate_pairs(true).unwrap(), vec![(0, 1)]);
        let out = d.finish().unwrap();
        assert_eq!(out.reason, vec![Reason::Kept, Reason::Near, Reason::Kept]);
        assert_eq!(sorted_jaccard(&[], &[]), 1.0);
        assert_eq!(sorted_jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
    }

    #[test]
    fn signatures_signed_apart_cluster_as_sources_added() {
        let sources = [B, A_COMMENTED, A];
        let ranks = [0.0, 1.0, 2.0];
        let direct = run(&sources, &[]);
        let mut d = Deduper::new(DedupConfig::default()).unwrap();
        // Signed in two partitions, by another Deduper with the same settings.
        let signer = Deduper::new(DedupConfig::default()).unwrap();
        d.add_signatures(&signer.sign(&sources[..1]), &ranks[..1], false)
            .unwrap();
        d.add_signatures(&signer.sign(&sources[1..]), &ranks[1..], false)
            .unwrap();
        let apart = d.finish().unwrap();
        assert_eq!(apart.cluster, direct.cluster);
        assert_eq!(apart.reason, direct.reason);
        assert_eq!(apart.exact_hash, direct.exact_hash);
        let narrow = Deduper::new(DedupConfig {
            bands: 10,
            ..DedupConfig::default()
        })
        .unwrap();
        assert!(matches!(
            d.add_signatures(&narrow.sign(&[A]), &[0.0], false),
            Err(DedupError::SignatureShape(_))
        ));
    }

    #[test]
    fn a_band_is_sorted_by_key_then_function() {
        let mut state = 3u64;
        let column: Vec<u64> = (0..1000)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                // Every seventh function shares a bucket; some keys differ in low bits only.
                if i % 7 == 0 { 42 } else { state >> (i % 3) }
            })
            .collect();
        let mut expected: Vec<(u64, u32)> = column.iter().zip(0..).map(|(&k, i)| (k, i)).collect();
        expected.sort_unstable();
        assert_eq!(SortedBand::default().sort(&column), expected);
    }
}
