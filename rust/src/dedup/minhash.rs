//! MinHash signatures over token n-gram shingles. Permutation i of a shingle's hash x is
//! murmur3's 32-bit finaliser of `x ^ seed_i`: all-32-bit arithmetic, so the loop over the 256
//! permutations runs 16 lanes wide with AVX-512, 8 with AVX2 (datasketch's (a x + b) mod
//! (2^61 - 1) needs 128-bit products; over 2^31 - 1 it vectorised 4 wide and took twice as long).

use rustc_hash::FxHasher;
use std::hash::Hasher;

const MERSENNE_31: u64 = (1 << 31) - 1;

/// The permutations' coefficients, from a seed.
pub struct Permutations {
    seeds: Vec<u32>,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Permutations {
    pub fn new(count: usize, seed: u64) -> Self {
        let mut state = seed;
        let seeds = (0..count).map(|_| splitmix64(&mut state) as u32).collect();
        Permutations { seeds }
    }

    pub fn len(&self) -> usize {
        self.seeds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seeds.is_empty()
    }
}

pub fn hash_token(text: &str) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(text.as_bytes());
    let mut state = hasher.finish();
    splitmix64(&mut state)
}

/// The distinct shingles of one function after another, in reused buffers.
#[derive(Default)]
pub struct Shingles {
    /// Open addressing, [`EMPTY`] where free: deduplicates without sorting (a quarter of
    /// real functions' shingles repeat one another).
    table: Vec<u32>,
    distinct: Vec<u32>,
}

/// Free slot marker: shingle hashes are below 2^31 - 1.
const EMPTY: u32 = u32::MAX;

impl Shingles {
    /// The distinct shingle hashes of a token sequence, its tokens hashed with [`hash_token`]:
    /// every run of `n` tokens (the whole sequence when it is shorter), reduced below
    /// 2^31 - 1; in no particular order.
    pub fn of(&mut self, hashes: &[u64], n: usize) -> &[u32] {
        let width = n.min(hashes.len()).max(1);
        let windows = hashes.len().saturating_sub(width) + 1;
        let mask = (2 * windows).next_power_of_two().max(16) - 1;
        self.table.clear();
        self.table.resize(mask + 1, EMPTY);
        self.distinct.clear();
        let (table, distinct) = (&mut self.table, &mut self.distinct);
        shingle_hashes(hashes, width, |shingle| {
            let mut slot = shingle as usize & mask;
            while table[slot] != EMPTY && table[slot] != shingle {
                slot = (slot + 1) & mask;
            }
            if table[slot] == EMPTY {
                table[slot] = shingle;
                distinct.push(shingle);
            }
        });
        &self.distinct
    }
}

/// The hash of every run of `width` token hashes: a polynomial in them, rolled along the
/// sequence (a multiply and an add per token; a hash chain over each window took 5), then
/// mixed and reduced below 2^31 - 1.
fn shingle_hashes(hashes: &[u64], width: usize, mut each: impl FnMut(u32)) {
    const BASE: u64 = 0x9e37_79b9_7f4a_7c15;
    let oldest = BASE.wrapping_pow(width as u32 - 1);
    let mut window = 0u64;
    for (k, &h) in hashes.iter().enumerate() {
        window = window.wrapping_mul(BASE).wrapping_add(h);
        if k + 1 >= width {
            let mut state = window ^ 0x5348_494e_474c_4500;
            each((splitmix64(&mut state) % MERSENNE_31) as u32);
            window = window.wrapping_sub(hashes[k + 1 - width].wrapping_mul(oldest));
        }
    }
}

/// A 128-bit fingerprint of a token sequence (two independent 64-bit chains): the exact-match
/// key. Not cryptographic; sha256 over the token texts took a third of dedup's time.
pub fn fingerprint(hashes: &[u64]) -> u128 {
    let (mut high, mut low) = (0x6578_6163_745f_6869u64, 0x6c6f_775f_6b65_7921u64);
    for &h in hashes {
        high ^= h;
        high = splitmix64(&mut high);
        low = low.rotate_left(23) ^ h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        low = splitmix64(&mut low);
    }
    let mut length = hashes.len() as u64;
    ((splitmix64(&mut high) ^ splitmix64(&mut length)) as u128) << 64 | splitmix64(&mut low) as u128
}

/// The MinHash signature of a shingle set into `sig` (`u32::MAX` everywhere for an empty
/// set).
pub fn signature(shingles: &[u32], perms: &Permutations, sig: &mut [u32]) {
    assert_eq!(sig.len(), perms.len());
    sig.fill(u32::MAX);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, checked just above.
        unsafe { fill_avx512(sig, shingles, &perms.seeds) };
        return;
    } else if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { fill_avx2(sig, shingles, &perms.seeds) };
        return;
    }
    fill::<16>(sig, shingles, &perms.seeds);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fill_avx512(sig: &mut [u32], shingles: &[u32], seeds: &[u32]) {
    fill::<64>(sig, shingles, seeds)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_avx2(sig: &mut [u32], shingles: &[u32], seeds: &[u32]) {
    fill::<32>(sig, shingles, seeds)
}

/// The permutation loop, `BLOCK` permutations at a time: their running minima stay in vector
/// registers while every shingle streams past, instead of a load and a store of the whole
/// signature per shingle. A block is four registers' worth (of 16 lanes with AVX-512, 8 with
/// AVX2, 4 with SSE2), leaving registers for the seeds and the arithmetic.
#[inline(always)]
fn fill<const BLOCK: usize>(sig: &mut [u32], shingles: &[u32], seeds: &[u32]) {
    let whole = sig.len() / BLOCK * BLOCK;
    let blocks = sig[..whole].chunks_exact_mut(BLOCK);
    for (slots, seeds) in blocks.zip(seeds.chunks_exact(BLOCK)) {
        let mut minima: [u32; BLOCK] = (&*slots).try_into().expect("a whole block");
        let seeds: &[u32; BLOCK] = seeds.try_into().expect("a whole block");
        for &x in shingles {
            for (minimum, &seed) in minima.iter_mut().zip(seeds) {
                *minimum = (*minimum).min(permute(x ^ seed));
            }
        }
        slots.copy_from_slice(&minima);
    }
    for &x in shingles {
        for (slot, &seed) in sig[whole..].iter_mut().zip(&seeds[whole..]) {
            *slot = (*slot).min(permute(x ^ seed));
        }
    }
}

/// murmur3's 32-bit finaliser.
#[inline(always)]
fn permute(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustc_hash::FxHashSet;

    fn shingles(text: &str, n: usize) -> Vec<u32> {
        let hashes: Vec<u64> = text.split_whitespace().map(hash_token).collect();
        Shingles::default().of(&hashes, n).to_vec()
    }

    fn words(range: std::ops::Range<usize>) -> String {
        range.map(|i| format!("t{i} ")).collect()
    }

    fn jaccard(a: &[u32], b: &[u32]) -> f64 {
        let (a, b): (FxHashSet<u32>, FxHashSet<u32>) =
            (a.iter().copied().collect(), b.iter().copied().collect());
        a.intersection(&b).count() as f64 / a.union(&b).count() as f64
    }

    #[test]
    fn signature_agreement_estimates_jaccard() {
        let perms = Permutations::new(256, 1);
        let (a, b) = (shingles(&words(0..200), 1), shingles(&words(50..250), 1));
        let truth = jaccard(&a, &b);
        assert!((truth - 0.6).abs() < 1e-9);
        let (mut sa, mut sb) = (vec![0; 256], vec![0; 256]);
        signature(&a, &perms, &mut sa);
        signature(&b, &perms, &mut sb);
        let agree = sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / 256.0;
        assert!((agree - truth).abs() < 0.1, "estimate {agree} vs {truth}");
    }

    #[test]
    fn the_vector_loop_gives_each_permutations_minimum() {
        // 100 permutations: one whole block and a tail.
        let perms = Permutations::new(100, 7);
        let set = shingles(&words(0..300), 5);
        let mut sig = vec![0; 100];
        signature(&set, &perms, &mut sig);
        for (k, &seed) in perms.seeds.iter().enumerate() {
            let minimum = set.iter().map(|&x| permute(x ^ seed)).min().unwrap();
            assert_eq!(sig[k], minimum);
        }
    }

    #[test]
    fn shingles_are_distinct_and_short_sequences_have_one() {
        assert_eq!(shingles("a b", 5).len(), 1);
        assert_eq!(shingles("a b c d e f", 5).len(), 2);
        assert_eq!(shingles("a b a b a b a b", 2).len(), 2);
        assert_eq!(shingles(&words(0..200), 1).len(), 200);
    }
}
