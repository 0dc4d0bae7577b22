//! Where to connect: one server or a cluster's seeds, and a cluster's masters.

use std::fmt;

/// What [`crate::RedisConnection::connect`] connects to: `redis://` connection URLs,
/// credentials included. `Debug` shows how many seeds, never a URL.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One Redis server.
    Single(String),
    /// A Redis Cluster, reached through one or more of its nodes (the seeds); the client
    /// learns the rest from the cluster.
    Cluster(Vec<String>),
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisTarget::Single(_) => f.write_str("RedisTarget::Single(..)"),
            RedisTarget::Cluster(seeds) => {
                write!(f, "RedisTarget::Cluster({} seeds)", seeds.len())
            }
        }
    }
}

/// A master of a Redis Cluster: where to reach it and how many slots it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterNode {
    pub host: String,
    pub port: u16,
    /// Slots this master serves (0 for a master that serves none yet).
    pub slots: u32,
}

/// The masters listed in a `CLUSTER NODES` reply that are not marked failed, in the
/// order given. Lines that cannot be read are skipped.
///
/// A line is `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch>
/// <link> <slot or range>…`.
pub fn masters_from_cluster_nodes(text: &str) -> Vec<MasterNode> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let address = fields.get(1)?;
            let flags = fields.get(2)?;
            let flags: Vec<&str> = flags.split(',').collect();
            if !flags.contains(&"master") || flags.iter().any(|f| f.starts_with("fail")) {
                return None;
            }
            let host_port = address.split(['@', ',']).next()?;
            let (host, port) = host_port.rsplit_once(':')?;
            let port: u16 = port.parse().ok()?;
            if host.is_empty() || port == 0 {
                return None;
            }
            let slots = fields.iter().skip(8).map(|range| slot_count(range)).sum();
            Some(MasterNode {
                host: host.to_owned(),
                port,
                slots,
            })
        })
        .collect()
}

/// Slots in one `CLUSTER NODES` slot field: `N`, `A-B`, or a migration marker `[…]`.
fn slot_count(field: &str) -> u32 {
    if field.starts_with('[') {
        return 0;
    }
    match field.split_once('-') {
        Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
            (Ok(a), Ok(b)) if b >= a => b - a + 1,
            _ => 0,
        },
        None => u32::from(field.parse::<u16>().is_ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_and_their_slots_are_read_from_cluster_nodes() {
        let text = "\
07c3 127.0.0.1:7101@17101 master - 0 1 2 connected 5461-10922\n\
e7d1 127.0.0.1:7100@17100,host-a myself,master - 0 0 1 connected 0-5460 [93->-292f]\n\
292f 127.0.0.1:7102@17102 master - 0 1 3 connected 10923-16383\n\
6ec2 127.0.0.1:7103@17103 slave 07c3 0 1 2 connected\n\
dead 127.0.0.1:7104@17104 master,fail - 0 1 4 disconnected\n\
junk\n";
        let masters = masters_from_cluster_nodes(text);
        assert_eq!(
            masters,
            vec![
                MasterNode {
                    host: "127.0.0.1".into(),
                    port: 7101,
                    slots: 5462
                },
                MasterNode {
                    host: "127.0.0.1".into(),
                    port: 7100,
                    slots: 5461
                },
                MasterNode {
                    host: "127.0.0.1".into(),
                    port: 7102,
                    slots: 5461
                },
            ]
        );
        assert_eq!(masters.iter().map(|m| m.slots).sum::<u32>(), 16384);
    }

    #[test]
    fn debug_never_shows_a_url() {
        let t = RedisTarget::Cluster(vec!["redis://:secret@h:1".into()]);
        assert!(!format!("{t:?}").contains("secret"));
        let t = RedisTarget::Single("redis://:secret@h:1".into());
        assert!(!format!("{t:?}").contains("secret"));
    }
}
