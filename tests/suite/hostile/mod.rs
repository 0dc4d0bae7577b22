//! Hostile input: every area's tests with input built to break it (huge, malformed,
//! non-UTF-8, control characters, limits), one module per area.

mod repos;
