//! Redis is real: a sorted set round trip, the structure the update queue is built on.

use trawl_tests::{require_services, unique_name};

#[tokio::test]
async fn sorted_set_round_trip() {
    let services = require_services!();
    let mut conn = trawl_tests::redis(&services.redis).await.unwrap();
    let key = unique_name("zset");

    let added: i64 = redis::cmd("ZADD")
        .arg(&key)
        .arg(3)
        .arg("repo:3")
        .arg(1)
        .arg("repo:1")
        .arg(2)
        .arg("repo:2")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(added, 3);
    // Re-adding a member updates its score instead of duplicating it: refs coalesce.
    let added_again: i64 = redis::cmd("ZADD")
        .arg(&key)
        .arg(4)
        .arg("repo:1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(added_again, 0);

    let ordered: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(&key)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        ordered,
        [
            ("repo:2".to_owned(), 2.0),
            ("repo:3".to_owned(), 3.0),
            ("repo:1".to_owned(), 4.0)
        ]
    );

    let popped: Vec<(String, f64)> = redis::cmd("ZPOPMIN")
        .arg(&key)
        .arg(2)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        popped,
        [("repo:2".to_owned(), 2.0), ("repo:3".to_owned(), 3.0)]
    );
    let left: i64 = redis::cmd("ZCARD")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 1);

    let deleted: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
}
