//! Comparing a reproduction with a reference report at the level of findings.
//!
//! Single runs do not carry across machines (GPU arithmetic is never
//! bit-identical, and 60 SGD steps amplify another summation order by several
//! points), but the claims should. A finding is **reproduced** when the
//! verdict is the same and each estimate lies inside the other report's 95%
//! interval (two untested claims, with no estimate, agree when both are
//! untested).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::aggregate::ClaimResult;
use crate::checksum::sha256_file;

/// The claims file of a report folder.
pub const CLAIMS_FILE: &str = "claims.csv";

/// One claim of the reference report, as its `claims.csv` has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceClaim {
    #[serde(rename = "claim_id")]
    pub id: String,
    pub estimate: Option<f64>,
    #[serde(rename = "ci95_lower")]
    pub lower: Option<f64>,
    #[serde(rename = "ci95_upper")]
    pub upper: Option<f64>,
    pub verdict: String,
}

/// A reference report: where it is, its claims file's digest, its claims.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceReport {
    pub shown: String,
    pub sha256: String,
    pub claims: Vec<ReferenceClaim>,
}

impl ReferenceReport {
    /// Reads `dir/claims.csv` (a committed report, or one built from a
    /// colleague's records); errors name the file and line.
    pub fn read(dir: &Path) -> Result<ReferenceReport> {
        let path = dir.join(CLAIMS_FILE);
        let sha256 = sha256_file(&path).with_context(|| {
            format!(
                "{}: cannot read (is {} a report folder?)",
                path.display(),
                dir.display()
            )
        })?;
        let mut reader = csv::Reader::from_path(&path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        let mut claims = Vec::new();
        for (i, row) in reader.deserialize().enumerate() {
            let claim: ReferenceClaim = row
                .with_context(|| format!("{}: line {}: not a claim row", path.display(), i + 2))?;
            claims.push(claim);
        }
        Ok(ReferenceReport {
            shown: dir.display().to_string(),
            sha256,
            claims,
        })
    }
}

/// One claim in both reports, and whether they agree.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: String,
    pub ours: String,
    pub reference: String,
    pub reproduced: bool,
    pub why: String,
}

fn shown(estimate: Option<f64>, lower: Option<f64>, upper: Option<f64>, verdict: &str) -> String {
    match (estimate, lower, upper) {
        (Some(e), Some(l), Some(u)) => format!("{e:.3} [{l:.3}, {u:.3}] {verdict}"),
        (Some(e), _, _) => format!("{e:.3} {verdict}"),
        _ => format!("– {verdict}"),
    }
}

fn inside(v: f64, lower: Option<f64>, upper: Option<f64>) -> bool {
    matches!((lower, upper), (Some(l), Some(u)) if v >= l - 1e-9 && v <= u + 1e-9)
}

/// Why the two rows agree or not (empty when they agree).
fn disagreement(ours: &ClaimResult, theirs: &ReferenceClaim) -> String {
    if ours.verdict.text() != theirs.verdict {
        return format!(
            "verdict {} here, {} in the reference",
            ours.verdict.text(),
            theirs.verdict
        );
    }
    match (ours.estimate, theirs.estimate) {
        (None, None) => String::new(),
        (Some(_), None) | (None, Some(_)) => "tested in one report only".to_string(),
        (Some(a), Some(b)) => {
            let mut why = Vec::new();
            if !inside(a, theirs.lower, theirs.upper) {
                why.push("this estimate lies outside the reference's interval");
            }
            if !inside(b, ours.lower, ours.upper) {
                why.push("the reference's estimate lies outside this interval");
            }
            why.join("; ")
        }
    }
}

/// Every claim of either report, in this report's order, then the
/// reference's claims this one lacks.
pub fn compare(ours: &[ClaimResult], reference: &ReferenceReport) -> Vec<Finding> {
    let mut out: Vec<Finding> = ours
        .iter()
        .map(|c| {
            let mine = shown(c.estimate, c.lower, c.upper, c.verdict.text());
            match reference.claims.iter().find(|r| r.id == c.id) {
                Some(r) => {
                    let why = disagreement(c, r);
                    Finding {
                        id: c.id.clone(),
                        ours: mine,
                        reference: shown(r.estimate, r.lower, r.upper, &r.verdict),
                        reproduced: why.is_empty(),
                        why,
                    }
                }
                None => Finding {
                    id: c.id.clone(),
                    ours: mine,
                    reference: "–".to_string(),
                    reproduced: false,
                    why: "not in the reference".to_string(),
                },
            }
        })
        .collect();
    for r in reference
        .claims
        .iter()
        .filter(|r| !ours.iter().any(|c| c.id == r.id))
    {
        out.push(Finding {
            id: r.id.clone(),
            ours: "–".to_string(),
            reference: shown(r.estimate, r.lower, r.upper, &r.verdict),
            reproduced: false,
            why: "not in this report".to_string(),
        });
    }
    out
}

/// "N of M findings reproduced".
pub fn summary(findings: &[Finding]) -> String {
    let n = findings.iter().filter(|f| f.reproduced).count();
    format!("{n} of {} findings reproduced", findings.len())
}

/// The comparison as a plain-text table for the terminal.
pub fn table(findings: &[Finding]) -> String {
    let width = |f: fn(&Finding) -> &str, head: &str| {
        findings
            .iter()
            .map(|x| f(x).chars().count())
            .max()
            .unwrap_or(0)
            .max(head.len())
    };
    let (wo, wr) = (
        width(|f| &f.ours, "this report"),
        width(|f| &f.reference, "reference"),
    );
    let mut out = format!(
        "{:<5} {:<wo$}  {:<wr$}  reproduced\n",
        "claim", "this report", "reference"
    );
    for f in findings {
        let mark = if f.reproduced {
            "yes".to_string()
        } else {
            format!("no: {}", f.why)
        };
        out.push_str(&format!(
            "{:<5} {:<wo$}  {:<wr$}  {mark}\n",
            f.id, f.ours, f.reference
        ));
    }
    out.push_str(&summary(findings));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Verdict;

    fn ours(id: &str, estimate: Option<f64>, ci: (f64, f64), verdict: Verdict) -> ClaimResult {
        let mut c = ClaimResult::blank();
        c.id = id.to_string();
        c.estimate = estimate;
        (c.lower, c.upper) = match estimate {
            Some(_) => (Some(ci.0), Some(ci.1)),
            None => (None, None),
        };
        c.verdict = verdict;
        c
    }

    fn theirs(id: &str, estimate: Option<f64>, ci: (f64, f64), verdict: &str) -> ReferenceClaim {
        ReferenceClaim {
            id: id.to_string(),
            estimate,
            lower: estimate.map(|_| ci.0),
            upper: estimate.map(|_| ci.1),
            verdict: verdict.to_string(),
        }
    }

    #[test]
    fn findings_agree_on_verdict_and_overlapping_estimates() {
        let reference = ReferenceReport {
            shown: "ref".into(),
            sha256: String::new(),
            claims: vec![
                theirs("1", Some(10.4), (4.9, 16.3), "holds"),
                theirs("2", Some(0.6), (-0.44, 1.0), "inconclusive"),
                theirs("3", Some(-0.96), (-1.0, -0.71), "does not hold"),
                theirs("S1", None, (0.0, 0.0), "inconclusive"),
                theirs("7", Some(1.0), (0.5, 1.5), "holds"),
            ],
        };
        let mine = vec![
            ours("1", Some(12.0), (6.0, 18.0), Verdict::Holds),
            ours("2", Some(0.1), (-0.2, 0.3), Verdict::Inconclusive),
            ours("3", Some(-0.5), (-1.0, -0.2), Verdict::DoesNotHold),
            ours("S1", None, (0.0, 0.0), Verdict::Inconclusive),
            ours("6", Some(1.5), (1.3, 2.1), Verdict::Holds),
        ];
        let f = compare(&mine, &reference);
        let got: Vec<(&str, bool)> = f.iter().map(|f| (f.id.as_str(), f.reproduced)).collect();
        assert_eq!(
            got,
            [
                ("1", true),
                ("2", false),
                ("3", false),
                ("S1", true),
                ("6", false),
                ("7", false)
            ]
        );
        assert_eq!(
            f[1].why,
            "the reference's estimate lies outside this interval"
        );
        assert_eq!(
            f[2].why,
            "this estimate lies outside the reference's interval"
        );
        assert_eq!(f[4].why, "not in the reference");
        assert_eq!(f[5].why, "not in this report");
        assert_eq!(summary(&f), "2 of 6 findings reproduced");
        let mut flipped = mine.clone();
        flipped[0].verdict = Verdict::Inconclusive;
        assert_eq!(
            compare(&flipped, &reference)[0].why,
            "verdict inconclusive here, holds in the reference"
        );
    }

    #[test]
    fn a_bad_claims_file_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CLAIMS_FILE),
            "claim_id,claim,estimate,ci95_lower,ci95_upper,verdict\n1,a,0.5,0.1,0.9,holds\n2,b,oops,,,holds\n",
        )
        .unwrap();
        let e = format!("{:#}", ReferenceReport::read(dir.path()).unwrap_err());
        assert!(e.contains("claims.csv: line 3"), "{e}");
        let missing = format!(
            "{:#}",
            ReferenceReport::read(&dir.path().join("nope")).unwrap_err()
        );
        assert!(missing.contains("nope/claims.csv"), "{missing}");
    }
}
