//! Linearizability under faults (placeholder while the checker is built).

mod checker;
