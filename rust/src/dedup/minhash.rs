//! MinHash signatures over token n-gram shingles. Permutation i of a shingle's hash x is
//! murmur3's 32-bit finaliser of `x ^ seed_i`: all-32-bit arithmetic, so the loop over the 256
//! permutations runs 8 lanes wide with AVX2 (datasketch's (a x + b) mod (2^61 - 1) needs 128-bit
//! products; over 2^31 - 1 it vectorised 4 wide and took twice as long).

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

/// The distinct shingle hashes of a token sequence, its tokens hashed with [`hash_token`]:
/// every run of `n` tokens (the whole sequence when it is shorter), reduced below 2^31 - 1.
pub fn shingles(hashes: &[u64], n: usize) -> Vec<u64> {
    let width = n.min(hashes.len()).max(1);
    let mut out: Vec<u64> = hashes
        .windows(width)
        .map(|window| {
            let mut state = 0x5348_494e_474c_4500u64;
            for &h in window {
                state ^= h;
                state = splitmix64(&mut state);
            }
            state % MERSENNE_31
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
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

/// The MinHash signature of a shingle set (`u32::MAX` everywhere for an empty one).
pub fn signature(shingles: &[u64], perms: &Permutations) -> Vec<u32> {
    let mut sig = vec![u32::MAX; perms.len()];
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { fill_avx2(&mut sig, shingles, perms) };
        return sig;
    }
    fill(&mut sig, shingles, perms);
    sig
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_avx2(sig: &mut [u32], shingles: &[u64], perms: &Permutations) {
    fill(sig, shingles, perms)
}

/// The permutation loop, written so that it vectorises: 32-bit lanes, a lane-wise min.
#[inline(always)]
fn fill(sig: &mut [u32], shingles: &[u64], perms: &Permutations) {
    for &x in shingles {
        let x = x as u32;
        for (slot, &seed) in sig.iter_mut().zip(&perms.seeds) {
            let mut h = x ^ seed;
            h ^= h >> 16;
            h = h.wrapping_mul(0x85eb_ca6b);
            h ^= h >> 13;
            h = h.wrapping_mul(0xc2b2_ae35);
            h ^= h >> 16;
            *slot = (*slot).min(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<u64> {
        text.split_whitespace().map(hash_token).collect()
    }

    /// Exact Jaccard similarity of two sorted, distinct shingle sets.
    fn jaccard(a: &[u64], b: &[u64]) -> f64 {
        if a.is_empty() && b.is_empty() {
            return 1.0;
        }
        let (mut i, mut j, mut both) = (0, 0, 0usize);
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
        both as f64 / (a.len() + b.len() - both) as f64
    }

    #[test]
    fn signature_agreement_estimates_jaccard() {
        let perms = Permutations::new(256, 1);
        let a = shingles(
            &tokens(
                &(0..200)
                    .map(|i| format!("t{i}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            1,
        );
        let b = shingles(
            &tokens(
                &(50..250)
                    .map(|i| format!("t{i}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            1,
        );
        let truth = jaccard(&a, &b);
        assert!((truth - 0.6).abs() < 1e-9);
        let (sa, sb) = (signature(&a, &perms), signature(&b, &perms));
        let agree = sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / 256.0;
        assert!((agree - truth).abs() < 0.1, "estimate {agree} vs {truth}");
    }

    #[test]
    fn short_sequences_have_one_shingle() {
        assert_eq!(shingles(&tokens("a b"), 5).len(), 1);
        assert_eq!(shingles(&tokens("a b c d e f"), 5).len(), 2);
    }
}
