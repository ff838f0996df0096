//! Deterministic payloads: the same bytes for the same seed on every run, with no pattern short
//! enough for a codec or a buffer boundary to hide a lost or repeated chunk.

/// `len` pseudo-random bytes from `seed` (xorshift64).
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_others() {
        assert_eq!(payload(7, 4096), payload(7, 4096));
        assert_eq!(payload(7, 10), payload(7, 4096)[..10]);
        assert_ne!(payload(7, 4096), payload(8, 4096));
        let data = payload(0, 1 << 16);
        let distinct = data.iter().collect::<std::collections::BTreeSet<_>>().len();
        assert_eq!(distinct, 256, "every byte value occurs");
    }
}
