//! Native timing of the core pipeline: prints one JSON line with nanoseconds per event and per
//! 100-event batch (median of several rounds).

use edgesoc_bench::{batch_body, run_batch, BATCH};
use std::time::Instant;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let batches_per_round = 40;
    let body = batch_body();
    let mut sink = 0usize;
    for _ in 0..5 {
        sink = sink.wrapping_add(run_batch(&body)); // warm up
    }
    let mut per_batch: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batches_per_round {
                sink = sink.wrapping_add(run_batch(&body));
            }
            t.elapsed().as_nanos() as f64 / batches_per_round as f64
        })
        .collect();
    per_batch.sort_by(f64::total_cmp);
    let median = per_batch[per_batch.len() / 2];
    println!(
        "{{\"target\":\"native\",\"ns_per_batch\":{median:.0},\"ns_per_event\":{:.0},\"batch\":{BATCH},\"checksum\":{sink}}}",
        median / BATCH as f64
    );
}
