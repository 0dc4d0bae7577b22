//! Inputs nobody here wrote, against the real services: users doing things in any order
//! (registrations, visibility flips, removals), hostile repositories, queries and
//! arguments, service URLs and processes. Each module is one area.

mod queries;
