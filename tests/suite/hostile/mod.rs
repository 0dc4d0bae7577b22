//! Hostile inputs and conditions, one module per area: what trawl does when inputs are
//! empty, huge, malformed or racing, and when the services misbehave underneath it.

mod queue;
