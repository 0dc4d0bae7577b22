//! trawl-migrations: versioned index migrations and zero-downtime reindexing.
//!
//! Its job (issue 7): timestamped migrations with stored state that batch, throttle,
//! halt and resume, and reindexing that swaps aliases atomically once the copy checks out.
