//! Removing a benchmark deployment's Redis keys: exact names it owns, checked one by one
//! (prefixes nest, so no pattern alone decides).

use trawl_indexer::{IndexNames, RedisKeys};
use trawl_redis::RedisConnection;

/// Deletes every Redis key the deployment `names` owns; every master of a cluster is
/// scanned, deletion goes slot by slot.
pub(crate) async fn remove_owned_keys(
    redis: &RedisConnection,
    names: &IndexNames,
) -> Result<(), redis::RedisError> {
    let keys = RedisKeys::new(names);
    let mut redis = redis.clone();
    let owned: Vec<String> = redis
        .scan_match(&keys.scan_pattern())
        .await?
        .into_iter()
        .filter(|k| keys.owns(k))
        .collect();
    redis.delete(&owned).await?;
    Ok(())
}
