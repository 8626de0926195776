//! The Claude Code adapter: what its hooks and status line send, and the
//! session-chain policy that follows from them (DESIGN.md §6).

pub mod hook;
pub mod observed;
pub mod statusline;
