//! How a bench learns that it should stop and clean up: Ctrl-C (SIGINT) or SIGTERM, what a
//! terminal and a process supervisor (or `kill`) send. Either way the bench removes its
//! indices, registrations and keys before it exits.

/// Resolves at the first SIGINT or SIGTERM; never when neither handler can be installed
/// (the bench then runs to its end).
pub(crate) async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let int = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = term => {}
        _ = int => {}
    }
}
