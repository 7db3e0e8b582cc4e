//! Training until held-out accuracy stops improving, then cooling down.
//!
//! A fixed step count under-trains a large corpus and over-trains a small one,
//! so an axis that compares corpora would compare budgets too. A [`Plateau`]
//! run instead keeps its learning rate constant (after warm-up), measures the
//! accuracy on monitor images after every `every` steps, and once `patience`
//! measurements in a row have not beaten the best before them by `min_gain`
//! points, decays the rate linearly to zero over a cool-down of `cooldown` times
//! the steps so far (the warm-up, stable, decay schedule of Hägele et al.,
//! 2024). `steps` of the run caps the stable phase: a run that reaches it
//! without a plateau cools down there and says so.

use serde::{Deserialize, Serialize};

/// When a run has stopped improving, and how it ends.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plateau {
    /// Measure the monitor accuracy after every `every` steps.
    pub every: usize,
    /// Measurements in a row without a gain of `min_gain` that make a plateau.
    pub patience: usize,
    /// Percentage points the best accuracy must rise by to count as progress.
    pub min_gain: f64,
    /// Cool-down length as a fraction of the steps before it.
    pub cooldown: f64,
    /// No plateau before this many steps: early training can sit still
    /// (at chance) before it takes off.
    #[serde(default, skip_serializing_if = "is_zero_steps")]
    pub min_steps: usize,
    /// No plateau before the monitor accuracy (percent) has reached this:
    /// a network can sit near chance for thousands of steps before it
    /// takes off, which no gain rule tells from the end of learning.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_accuracy: f64,
}

fn is_zero_steps(n: &usize) -> bool {
    *n == 0
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Plateau {
    /// What is wrong with the rule, by field name.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.every == 0 {
            return Some(("every", "must be at least 1".into()));
        }
        if self.patience == 0 {
            return Some(("patience", "must be at least 1".into()));
        }
        if !(self.min_gain.is_finite() && self.min_gain >= 0.0) {
            return Some(("min_gain", format!("{} is not ≥ 0", self.min_gain)));
        }
        if !(self.cooldown > 0.0 && self.cooldown <= 1.0) {
            return Some(("cooldown", format!("{} is not in (0, 1]", self.cooldown)));
        }
        if !(0.0..100.0).contains(&self.min_accuracy) {
            return Some((
                "min_accuracy",
                format!("{} is not in [0, 100)", self.min_accuracy),
            ));
        }
        None
    }

    /// Steps of the cool-down that starts after `from` steps (at least one).
    pub fn cooldown_steps(&self, from: usize) -> usize {
        ((from as f64 * self.cooldown).ceil() as usize).max(1)
    }

    /// Whether the last `patience` measurements of `curve` all failed to beat
    /// the best one before them by `min_gain` points.
    pub fn reached(&self, curve: &[(usize, f64)]) -> bool {
        if curve.len() <= self.patience {
            return false;
        }
        let (before, recent) = curve.split_at(curve.len() - self.patience);
        let best = |points: &[(usize, f64)]| {
            points
                .iter()
                .map(|&(_, a)| a)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        best(recent) < best(before) + self.min_gain
    }
}

/// How far a plateau run has got: carried in its checkpoints, so a resumed
/// run decides exactly as an uninterrupted one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// `(step, monitor accuracy in percent)` of every measurement.
    pub curve: Vec<(usize, f64)>,
    /// The step the cool-down starts after, once decided.
    pub cooldown_from: Option<usize>,
    /// Whether the cool-down started at a plateau (`false`: at the cap).
    pub plateaued: bool,
}

impl PlateauState {
    /// Records the measurement after `step` and starts the cool-down at a
    /// plateau or at the stable phase's cap.
    pub fn observe(&mut self, rule: &Plateau, step: usize, accuracy: f64, cap: usize) {
        self.curve.push((step, accuracy));
        if self.cooldown_from.is_none() {
            let best = self
                .curve
                .iter()
                .map(|&(_, a)| a)
                .fold(f64::NEG_INFINITY, f64::max);
            self.plateaued =
                step >= rule.min_steps && best >= rule.min_accuracy && rule.reached(&self.curve);
            if self.plateaued || step >= cap {
                self.cooldown_from = Some(step);
            }
        }
    }

    /// Whether the monitor is measured after `step`: on the stable phase's
    /// cadence, and at its cap.
    pub fn measures_after(&self, rule: &Plateau, step: usize, cap: usize) -> bool {
        self.cooldown_from.is_none() && (step.is_multiple_of(rule.every) || step == cap)
    }

    /// The run's last step: unknown (the cap's cool-down, the latest it can
    /// be) until the cool-down is decided.
    pub fn end(&self, rule: &Plateau, cap: usize) -> usize {
        let from = self.cooldown_from.unwrap_or(cap);
        from + rule.cooldown_steps(from)
    }

    /// Factor on the stable learning rate for the 0-based `step`: 1 until the
    /// cool-down, then falling linearly to reach 0 one step after the last.
    pub fn lr_factor(&self, rule: &Plateau, step: usize) -> f64 {
        match self.cooldown_from {
            Some(from) if step >= from => {
                let span = rule.cooldown_steps(from);
                (from + span - step) as f64 / span as f64
            }
            _ => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Plateau {
        Plateau {
            every: 10,
            patience: 2,
            min_gain: 1.0,
            cooldown: 0.2,
            min_steps: 0,
            min_accuracy: 0.0,
        }
    }

    #[test]
    fn plateau_needs_patience_measurements_without_min_gain() {
        let r = rule();
        assert!(
            !r.reached(&[(10, 20.0), (20, 20.0)]),
            "too few measurements"
        );
        assert!(
            !r.reached(&[(10, 20.0), (20, 30.0), (30, 30.5)]),
            "gained 10"
        );
        assert!(r.reached(&[(10, 20.0), (20, 30.0), (30, 30.5), (40, 30.9)]));
        // A dip and a recovery by less than min_gain is still a plateau.
        assert!(r.reached(&[(10, 30.0), (20, 25.0), (30, 30.9)]));
        assert!(!r.reached(&[(10, 30.0), (20, 25.0), (30, 31.0)]));
    }

    #[test]
    fn cooldown_starts_at_the_plateau_and_decays_to_zero() {
        let r = rule();
        let mut s = PlateauState::default();
        for (step, acc) in [(10, 10.0), (20, 40.0), (30, 40.2)] {
            s.observe(&r, step, acc, 1000);
        }
        assert_eq!(s.cooldown_from, None);
        assert_eq!(s.end(&r, 1000), 1200, "the cap's cool-down until decided");
        s.observe(&r, 40, 40.5, 1000);
        assert_eq!((s.cooldown_from, s.plateaued), (Some(40), true));
        assert_eq!(s.end(&r, 1000), 48);
        assert!(!s.measures_after(&r, 50, 1000));
        assert_eq!(s.lr_factor(&r, 39), 1.0);
        assert_eq!(s.lr_factor(&r, 40), 1.0);
        assert_eq!(s.lr_factor(&r, 44), 0.5);
        assert_eq!(s.lr_factor(&r, 47), 0.125);
    }

    #[test]
    fn no_plateau_before_min_steps() {
        let r = Plateau {
            min_steps: 40,
            ..rule()
        };
        let mut s = PlateauState::default();
        for step in [10, 20, 30] {
            s.observe(&r, step, 1.0, 1000);
        }
        assert_eq!(
            s.cooldown_from, None,
            "flat at chance, but too early to tell"
        );
        s.observe(&r, 40, 1.0, 1000);
        assert_eq!(s.cooldown_from, Some(40));
    }

    #[test]
    fn no_plateau_below_min_accuracy() {
        let r = Plateau {
            min_accuracy: 10.0,
            ..rule()
        };
        let mut s = PlateauState::default();
        for (step, acc) in [(10, 2.0), (20, 2.1), (30, 2.2), (40, 2.0)] {
            s.observe(&r, step, acc, 1000);
        }
        assert_eq!(s.cooldown_from, None, "flat near chance: not taken off yet");
        for (step, acc) in [(50, 30.0), (60, 30.2), (70, 30.1)] {
            s.observe(&r, step, acc, 1000);
        }
        assert_eq!(s.cooldown_from, Some(70));
    }

    #[test]
    fn the_cap_starts_the_cooldown_without_a_plateau() {
        let r = rule();
        let mut s = PlateauState::default();
        assert!(
            s.measures_after(&r, 25, 25),
            "the cap is measured off-cadence"
        );
        s.observe(&r, 10, 10.0, 25);
        s.observe(&r, 20, 20.0, 25);
        s.observe(&r, 25, 30.0, 25);
        assert_eq!((s.cooldown_from, s.plateaued), (Some(25), false));
        assert_eq!(s.end(&r, 25), 30);
    }

    #[test]
    fn bad_rules_name_their_field() {
        let bad = |f: fn(&mut Plateau)| {
            let mut r = rule();
            f(&mut r);
            r.problem().map(|(field, _)| field)
        };
        assert_eq!(rule().problem(), None);
        assert_eq!(bad(|r| r.every = 0), Some("every"));
        assert_eq!(bad(|r| r.patience = 0), Some("patience"));
        assert_eq!(bad(|r| r.min_gain = f64::NAN), Some("min_gain"));
        assert_eq!(bad(|r| r.cooldown = 0.0), Some("cooldown"));
        assert_eq!(bad(|r| r.min_accuracy = 100.0), Some("min_accuracy"));
    }
}
