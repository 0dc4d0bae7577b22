//! Free ports on the loopback interface.

use std::net::{Ipv4Addr, TcpListener};

use crate::StackError;

/// Whether nothing listens on `127.0.0.1:port` (and it can be bound).
pub(crate) fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        && std::net::TcpStream::connect_timeout(
            &(Ipv4Addr::LOCALHOST, port).into(),
            std::time::Duration::from_millis(200),
        )
        .is_err()
}

/// A port the OS considers free right now.
pub(crate) fn any_free() -> Result<u16, StackError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| StackError::io("cannot find a free port on", "127.0.0.1", e))
}

/// One of `ports` at random (`None` when there is none).
pub(crate) fn pick_one(ports: &[u16]) -> Option<u16> {
    let n = u64::try_from(ports.len()).ok().filter(|&n| n > 0)?;
    ports
        .get(usize::try_from(random(b"port") % n).ok()?)
        .copied()
}

/// A number that differs between processes, calls and moments (not for cryptography):
/// std's randomly keyed hasher over `salt`, the pid and the time.
pub(crate) fn random(salt: &[u8]) -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(salt);
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// A free port that is none of `tried`.
pub(crate) fn any_free_except(tried: &[u16]) -> Result<u16, StackError> {
    for _ in 0..20 {
        let port = any_free()?;
        if !tried.contains(&port) {
            return Ok(port);
        }
    }
    any_free()
}

/// `count` distinct free ports.
pub(crate) fn distinct_free(count: usize) -> Result<Vec<u16>, StackError> {
    // Hold the listeners until all are chosen so the OS does not hand one out twice.
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<_, _>>()
        .map_err(|e| StackError::io("cannot find a free port on", "127.0.0.1", e))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| StackError::io("cannot find a free port on", "127.0.0.1", e))
}

/// Checks a port the user asked for.
pub(crate) fn require_free(
    service: &'static str,
    port: u16,
    flag: &'static str,
) -> Result<u16, StackError> {
    if is_free(port) {
        Ok(port)
    } else {
        Err(StackError::PortInUse {
            service,
            port,
            flag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_spread_over_the_candidates() {
        assert_eq!(pick_one(&[]), None);
        assert_eq!(pick_one(&[9205]), Some(9205));
        let candidates: Vec<u16> = (9201..9300).collect();
        let picked: std::collections::HashSet<u16> =
            (0..50).filter_map(|_| pick_one(&candidates)).collect();
        assert!(picked.len() > 10, "{picked:?}");
    }
}
