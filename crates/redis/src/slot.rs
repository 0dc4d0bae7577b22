//! The Redis Cluster key-slot rule: CRC16 (XMODEM) of the key's hash tag, modulo 16384.
//!
//! A script or `MULTI` on a cluster may only touch keys of one slot; trawl keeps that
//! true by giving every key set one hash tag (`{…}`). This is the rule the server applies
//! (`CLUSTER KEYSLOT`), so tests can check the key builders without a cluster.

/// Slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The slot of `key`: the hash tag (the text between the first `{` and the next `}`,
/// when not empty) decides, otherwise the whole key.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) % SLOTS
}

fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    match key[open + 1..].iter().position(|&b| b == b'}') {
        Some(0) | None => key,
        Some(len) => &key[open + 1..open + 1 + len],
    }
}

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster uses.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_the_redis_cluster_specification() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"{user1000}.followers"), key_slot(b"user1000"));
    }

    #[test]
    fn the_first_non_empty_tag_decides() {
        // An empty tag hashes the whole key; only the first `{` opens a tag.
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"a{}x"), key_slot(b"b{}x"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"no-close{tag"), key_slot(b"no-close{tag"));
        assert_eq!(key_slot(b""), 0);
    }

    proptest::proptest! {
        #[test]
        fn every_key_lands_in_a_slot_and_a_tag_binds_keys(
            tag in "[a-z0-9]{1,12}",
            a in "[^{}]{0,20}",
            b in "[^{}]{0,20}",
        ) {
            let one = format!("{a}{{{tag}}}{b}");
            let two = format!("{b}{{{tag}}}{a}");
            proptest::prop_assert!(key_slot(one.as_bytes()) < SLOTS);
            proptest::prop_assert_eq!(key_slot(one.as_bytes()), key_slot(two.as_bytes()));
        }
    }
}
