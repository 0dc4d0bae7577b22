//! Hostile input per area: malformed, huge, odd characters, secrets in unusual places.

mod stack;
