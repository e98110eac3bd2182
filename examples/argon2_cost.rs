//! The cost of one password check: `cargo run --release --example argon2_cost [N]` prints the
//! median, p10 and p90 of N argon2id verifications (Haven's parameters), in milliseconds.

fn main() -> anyhow::Result<()> {
    haven::memory::tune();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let stored = haven::auth::password::hash("Correct-Horse-Battery-9")?;
    let mut ms: Vec<f64> = (0..n)
        .map(|_| {
            let t = std::time::Instant::now();
            let ok = haven::auth::password::verify("Correct-Horse-Battery-9", &stored);
            assert!(ok, "the password verifies");
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "argon2id m=19MiB t=2 p=1, {n} verifications: median {:.1} ms, p10 {:.1} ms, p90 {:.1} ms",
        at(0.5),
        at(0.1),
        at(0.9)
    );
    Ok(())
}
