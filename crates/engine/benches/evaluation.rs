//! Evaluation benchmarks (being written).
fn main() {}
