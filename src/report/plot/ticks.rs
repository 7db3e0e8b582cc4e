//! Number formats of the figures and tables: counts with thousands
//! separators, and ticks at round values (1, 2, 5 × 10^k) with their labels
//! for linear and log axes. Round ticks are what a reader expects
//! (20, 40, 60 %; 10k, 100k), not the even splits of the data range that a
//! plotting library picks by default.

/// The round step (1, 2 or 5 × 10^k) that cuts `span` into the number of
/// parts nearest `target` (the larger step on a tie).
pub fn nice_step(span: f64, target: usize) -> f64 {
    let target = target.max(1) as f64;
    let magnitude = 10f64.powf((span / target).log10().floor());
    let miss = |s: f64| (span / s - target).abs();
    [10.0, 5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * magnitude)
        .fold(10.0 * magnitude, |best, s| {
            if miss(s) < miss(best) - 1e-9 {
                s
            } else {
                best
            }
        })
}

/// Multiples of the round step inside `[lo, hi]`.
pub fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if lo.is_nan() || hi.is_nan() || hi <= lo {
        return vec![lo];
    }
    let step = nice_step(hi - lo, 5);
    // Rounded to the label's decimals so 3 × 0.2 prints and compares as 0.6.
    let scale = 10f64.powi(decimals(step) as i32);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|i| (i as f64 * step * scale).round() / scale)
        .collect()
}

/// Decimals a label at `step` needs (0 for steps of 1 and more).
pub fn decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

/// Ticks of a log axis, in log10 units, inside `[lo, hi]` (log10 units):
/// powers of ten when the axis spans over two decades, else 1, 2, 5 × 10^k,
/// else (under about half a decade) every integer multiple of 10^k.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    let mantissas: &[f64] = if span > 2.0 {
        &[1.0]
    } else if span > 0.6 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    };
    let mut ticks = Vec::new();
    for k in (lo.floor() as i32)..=(hi.ceil() as i32) {
        for m in mantissas {
            let t = (m * 10f64.powi(k)).log10();
            if t >= lo - 1e-9 && t <= hi + 1e-9 {
                ticks.push(t);
            }
        }
    }
    ticks
}

/// A round count as a short label: 20000 → "20k", 1500000 → "1.5M".
pub fn si_label(v: f64) -> String {
    let (scaled, suffix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let text = format!("{scaled:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{suffix}")
}

/// A count with thousands separators: 158,000.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_fall_on_round_values() {
        assert_eq!(
            linear_ticks(11.3, 42.0),
            vec![15.0, 20.0, 25.0, 30.0, 35.0, 40.0]
        );
        assert_eq!(linear_ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(
            linear_ticks(-3.0, 62.0),
            vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        );
        assert_eq!(decimals(0.2), 1);
        assert_eq!(decimals(5.0), 0);
        assert_eq!(decimals(0.05), 2);
    }

    #[test]
    fn log_ticks_are_round_counts() {
        let labels = |lo: f64, hi: f64| -> Vec<String> {
            log_ticks(lo.log10(), hi.log10())
                .into_iter()
                .map(|t| si_label(10f64.powf(t).round()))
                .collect()
        };
        // The quick zoo's parameter counts: 20k to 470k.
        assert_eq!(labels(18e3, 520e3), ["20k", "50k", "100k", "200k", "500k"]);
        // Pre-training corpora 2k to 32k.
        assert_eq!(labels(1.8e3, 36e3), ["2k", "5k", "10k", "20k"]);
        // Four decades: powers of ten only.
        assert_eq!(labels(900.0, 2e7), ["1k", "10k", "100k", "1M", "10M"]);
        // Under half a decade: every multiple.
        assert_eq!(labels(4.5e6, 8.2e6), ["5M", "6M", "7M", "8M"]);
    }

    #[test]
    fn si_labels_drop_trailing_zeros() {
        assert_eq!(si_label(20_000.0), "20k");
        assert_eq!(si_label(1_500_000.0), "1.5M");
        assert_eq!(si_label(322_311.0), "322.31k");
        assert_eq!(si_label(500.0), "500");
    }
}
