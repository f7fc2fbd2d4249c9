//! Subcommands of the `syncscope` binary that need more than a few lines of glue, one
//! module each. The binary's own modules: the library (lib.rs) does not see them.

pub mod replay;
