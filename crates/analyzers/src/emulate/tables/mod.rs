//! Character tables generated from the running engine by `emulate::tablegen`.

#[rustfmt::skip]
pub(super) mod ascii_folding;
#[rustfmt::skip]
pub(super) mod code_tokens;
#[rustfmt::skip]
pub(super) mod unicode;
