//! The execution's deterministic random number generator.
//!
//! Randomness (retry jitter, `States.UUID`, unseeded `States.MathRandom`) comes from a seed
//! stored with the execution, so replaying an execution's inputs reproduces it exactly.
//! SplitMix64 is small, fast and statistically good enough for these uses; none needs
//! cryptographic strength.

/// A SplitMix64 generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Random {
    state: u64,
}

impl Random {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Random {
        Random { state: seed }
    }

    /// The next uniformly distributed u64.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniformly distributed float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Random;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Random::new(42);
        let mut b = Random::new(42);
        let first: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..4).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(first[0], first[1]);
        let f = Random::new(7).next_f64();
        assert!((0.0..1.0).contains(&f));
    }
}
