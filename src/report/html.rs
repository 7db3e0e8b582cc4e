//! Rendering the report page with minijinja (auto-escaping on: every label
//! and message is escaped; only the SVG figures, which plotters has already
//! escaped, are inserted as safe markup).

use anyhow::{Context, Result};
use minijinja::value::Serde;
use minijinja::{context, AutoEscape, Environment, HtmlEscape, Value};
use serde::Serialize;

use super::compare::{self, ReferenceReport};
use super::distance::{self, Setting};
use super::domains::{DomainCut, ModelDomains};
use super::figures::Figure;
use super::plot::ticks::count;
use super::provenance::Provenance;
use super::published::Published;
use crate::aggregate::{Aggregate, MeanSe, RunRow};
use crate::checksum::sha256_file;
use crate::study::Study;

const TEMPLATE: &str = include_str!("../../reports/templates/report.html.j2");

/// The study as the report names it.
#[derive(Debug, Clone, Serialize)]
pub struct StudyMeta {
    pub name: String,
    pub description: String,
    /// (path as shown, sha256) of the study manifest, when built from one.
    pub manifest: Option<(String, String)>,
    /// The manifest's `protocol.selection` (the paper's rule without one).
    pub selection: crate::aggregate::Rule,
    /// The settings the paper also fixes (unknown without the manifest).
    pub setting: Option<Setting>,
    /// A reference report to set the claims beside (`report --compare`).
    pub compare: Option<ReferenceReport>,
    /// Where each input of the data manifest comes from (its `source`).
    pub input_sources: std::collections::BTreeMap<String, String>,
    /// The training domains' shares of the ID-validation rows (from the
    /// data manifest; empty when it does not list the dataset's domains).
    pub id_domains: Vec<DomainCut>,
    /// The pre-trained models' checkpoints and how well each learned its corpus.
    pub checkpoints: Vec<super::checkpoints::CheckpointRow>,
}

/// "12.34 ± 0.56", or "12.34" for a single seed.
pub fn mean_se(v: &MeanSe) -> String {
    match v.se {
        Some(se) => format!("{:.2} ± {:.2}", v.mean, se),
        None => format!("{:.2}", v.mean),
    }
}

/// A parameter count as a reader takes it in: 4.70 M, 322.3 k.
fn params(n: u64) -> String {
    match n {
        1_000_000.. => format!("{:.2} M", n as f64 / 1e6),
        1_000.. => format!("{:.1} k", n as f64 / 1e3),
        _ => n.to_string(),
    }
}

/// `text` for the page, escaped, its `backticked` names set as code (the
/// claims' texts are written for the CSV and the terminal too).
fn with_code(text: &str) -> Value {
    let mut html = String::new();
    for (i, part) in text.split('`').enumerate() {
        let part = HtmlEscape(part);
        match i % 2 {
            1 => html.push_str(&format!("<code>{part}</code>")),
            _ => html.push_str(&part.to_string()),
        }
    }
    Value::from_safe_string(html)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}"))
}

/// The learned-or-not check of each model, failures first.
fn learning_rows(a: &Aggregate) -> Vec<Value> {
    use crate::aggregate::Learned;
    let mut rows: Vec<&crate::aggregate::Learning> = a.learning.iter().collect();
    rows.sort_by_key(|l| l.verdict != Learned::No);
    rows.iter()
        .map(|l| {
            let checked = l.verdict != Learned::Unchecked;
            let shown = |v: f64, digits: usize| match checked {
                true => format!("{v:.digits$}"),
                false => "–".to_string(),
            };
            context! {
                label => l.label.clone(),
                runs => l.runs,
                examples => count(l.examples as u64),
                id_acc => shown(l.id_accuracy, 1),
                lower => shown(l.lower_bound, 1),
                chance => shown(l.chance, 1),
                id_nll => shown(l.id_nll, 3),
                uniform_nll => shown(l.uniform_nll, 3),
                verdict => l.verdict.text(),
                failed => l.verdict == Learned::No,
            }
        })
        .collect()
}

/// Each checkpoint's held-out accuracy on its corpus beside its model's
/// fine-tuned ID and OOD accuracy (mean ± SE over seeds).
fn checkpoint_rows(a: &Aggregate, rows: &[super::checkpoints::CheckpointRow]) -> Vec<Value> {
    rows.iter()
        .map(|c| {
            let model = a.models.iter().find(|m| m.label == c.label);
            context! {
                label => c.label.clone(),
                corpus => c.corpus.clone(),
                recipe => c.recipe.clone(),
                seed => c.seed,
                steps => count(c.steps as u64),
                budget => c.budget.clone(),
                held_out => opt(c.held_out_accuracy, 1),
                images => c.held_out_images.map_or("–".to_string(), |n| count(n as u64)),
                chance => opt(c.chance, 1),
                loss => opt(c.final_loss, 3),
                id => model.map_or("–".to_string(), |m| mean_se(&m.id_accuracy)),
                ood => model.map_or("–".to_string(), |m| mean_se(&m.ood_accuracy)),
                learned => match c.learned {
                    Some(true) => "yes",
                    Some(false) => "did not learn",
                    None => "–",
                },
                failed => c.learned == Some(false),
            }
        })
        .collect()
}

fn model_rows(a: &Aggregate) -> Vec<Value> {
    a.models
        .iter()
        .map(|m| {
            context! {
                label => m.label.clone(),
                family => m.family.clone(),
                size => m.size.clone(),
                params => params(m.params),
                pretraining => m.pretraining.clone().unwrap_or_else(|| "from scratch".into()),
                images => m.pretrain_images.map_or_else(|| "–".to_string(), count),
                recipe => m.recipe.clone().unwrap_or_else(|| "–".into()),
                seeds => m.seeds.len(),
                ood_acc => mean_se(&m.ood_accuracy),
                ood_ece => mean_se(&m.ood_ece),
                ood_ece_mass => mean_se(&m.ood_ece_mass),
                id_acc => mean_se(&m.id_accuracy),
                id_ece => mean_se(&m.id_ece),
                ood_ece_ts => mean_se(&m.ood_ece_ts),
                id_ece_ts => mean_se(&m.id_ece_ts),
                ood_nll => mean_se(&m.ood_nll),
            }
        })
        .collect()
}

/// Per model, accuracy on each split of the selected runs (mean ± SE over
/// seeds), with ID validation per training domain when `by_domain` has it.
fn split_rows(a: &Aggregate, by_domain: Option<&[ModelDomains]>) -> Vec<Value> {
    a.models
        .iter()
        .map(|m| {
            let domains: Vec<String> = by_domain
                .and_then(|rows| rows.iter().find(|(label, _)| *label == m.label))
                .map(|(_, cells)| cells.iter().map(mean_se).collect())
                .unwrap_or_default();
            let runs: Vec<&RunRow> = a.selected.iter().filter(|r| r.label == m.label).collect();
            let of = |f: fn(&RunRow) -> f64| {
                mean_se(&MeanSe::of(&runs.iter().map(|r| f(r)).collect::<Vec<_>>()))
            };
            context! {
                label => m.label.clone(),
                ood_in => of(|r| r.ood_in_accuracy),
                ood_out => of(|r| r.ood_out_accuracy),
                ood => mean_se(&m.ood_accuracy),
                id => mean_se(&m.id_accuracy),
                domains => domains,
            }
        })
        .collect()
}

fn claim_rows(a: &Aggregate) -> Vec<Value> {
    a.claims
        .iter()
        .map(|c| {
            context! {
                id => c.id.clone(),
                claim => with_code(&c.claim),
                test => with_code(&c.test),
                statistic => c.statistic.clone(),
                expected => if c.claimed_sign > 0.0 { "> 0" } else { "< 0" },
                n_models => c.models.len(),
                runs => c.runs,
                models => c.models.join(", "),
                estimate => opt(c.estimate, 3),
                ci => match (c.lower, c.upper) {
                    (Some(l), Some(u)) => format!("[{l:.3}, {u:.3}]"),
                    _ => "–".to_string(),
                },
                verdict => c.verdict.text(),
                verdict_class => format!("{:?}", c.verdict).to_lowercase(),
                note => with_code(&c.note),
            }
        })
        .collect()
}

/// Claim 1's table: per model that ran several algorithms, OOD accuracy under
/// each (algorithm order), and the best algorithm's gain over ERM.
fn algorithm_rows(a: &Aggregate) -> (Vec<&'static str>, Vec<Value>) {
    use crate::aggregate::Learned;
    use crate::train::Algorithm;
    let algorithms: std::collections::BTreeSet<Algorithm> =
        a.algorithm_cells.iter().map(|c| c.algorithm).collect();
    let mut by_model: std::collections::BTreeMap<&str, Vec<&crate::aggregate::AlgorithmCell>> =
        Default::default();
    for c in &a.algorithm_cells {
        by_model.entry(c.label.as_str()).or_default().push(c);
    }
    let not_learned = crate::aggregate::learned::labels_with(&a.learning, Learned::No);
    let rows = by_model
        .into_iter()
        .map(|(label, cells)| {
            let of = |alg: Algorithm| cells.iter().find(|c| c.algorithm == alg);
            let erm = of(Algorithm::Erm).map(|c| c.ood_accuracy.mean);
            let best = cells.iter().map(|c| c.ood_accuracy.mean).fold(f64::MIN, f64::max);
            context! {
                label => label,
                cells => algorithms.iter().map(|&alg| of(alg).map_or_else(|| context! { text => "–" }, |c| context! {
                    text => mean_se(&c.ood_accuracy),
                    id => format!("{:.1}", c.id_accuracy.mean),
                    failed => c.learned == Learned::No,
                })).collect::<Vec<_>>(),
                gain => erm.map_or_else(|| "–".to_string(), |e| format!("{:+.2}", best - e)),
                failed => not_learned.contains(&label),
            }
        })
        .collect();
    (algorithms.iter().map(|a| a.display()).collect(), rows)
}

fn run_rows(rows: &[RunRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            context! {
                label => r.label.clone(),
                seed => r.seed,
                optimizer => r.optimizer.clone(),
                lr => format!("{}", r.learning_rate),
                wd => format!("{}", r.weight_decay),
                id_acc => format!("{:.2}", r.id_accuracy),
                ood_acc => format!("{:.2}", r.ood_accuracy),
                ood_ece => format!("{:.2}", r.ood_ece),
                run => r.run_id.get(..12).unwrap_or(&r.run_id),
            }
        })
        .collect()
}

/// The study's rule beside the check rule, per model: OOD accuracy under
/// training-domain validation and the oracle, and how much peeking gains.
fn check_rows(a: &Aggregate) -> Vec<Value> {
    let check = crate::aggregate::summarise(&a.check);
    a.models
        .iter()
        .zip(&check)
        .map(|(m, c)| {
            let (tdv, oracle) = match a.rule {
                crate::aggregate::Rule::TrainingDomainValidation => (m, c),
                crate::aggregate::Rule::TestDomainOracle => (c, m),
            };
            context! {
                label => m.label.clone(),
                tdv => mean_se(&tdv.ood_accuracy),
                oracle => mean_se(&oracle.ood_accuracy),
                gap => format!("{:.2}", oracle.ood_accuracy.mean - tdv.ood_accuracy.mean),
            }
        })
        .collect()
}

fn record_rows(a: &Aggregate) -> Vec<Value> {
    a.records
        .iter()
        .map(|r| {
            let rec = &r.record;
            context! {
                folder => r.folder.clone(),
                label => rec.model.label.clone(),
                seed => rec.model.seed,
                status => if rec.is_completed() { "completed" } else { "failed" },
                backend => rec.device.backend.to_string(),
                wall => format!("{:.1}", rec.wall_seconds),
                sha256 => r.record_sha256.clone(),
            }
        })
        .collect()
}

fn figure_values(figures: &[Figure]) -> Vec<Value> {
    figures
        .iter()
        .map(|f| {
            context! {
                id => f.id.clone(),
                title => f.title.clone(),
                caption => f.caption.clone(),
                wide => f.panels.len() > 1,
                panels => f.panels.iter().map(|svg| Value::from_safe_string(svg.clone())).collect::<Vec<_>>(),
            }
        })
        .collect()
}

/// Everything the page shows.
pub struct Page<'a> {
    pub study: &'a StudyMeta,
    pub aggregate: &'a Aggregate,
    pub figures: &'a [Figure],
    pub reliability: &'a [Figure],
    pub reference: &'a Published,
    pub provenance: &'a Provenance,
    pub warnings: &'a [String],
    pub tables: &'a [String],
    /// ID-validation accuracy per training domain, per model.
    pub id_by_domain: Option<Vec<ModelDomains>>,
}

pub fn render(page: &Page) -> Result<String> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("report.html", TEMPLATE)
        .context("reports/templates/report.html.j2: template does not parse")?;
    let a = page.aggregate;
    let seeds: std::collections::BTreeSet<u64> = a.selected.iter().map(|r| r.seed).collect();
    let (algorithm_names, algorithm_table) = algorithm_rows(a);
    let pretraining: std::collections::BTreeSet<String> = a
        .models
        .iter()
        .filter_map(|m| m.pretraining.clone())
        .collect();
    let pretraining: Vec<String> = pretraining.into_iter().collect();
    let setting = page.study.setting.as_ref();
    let setting_rows = setting.map_or_else(Vec::new, |s| distance::setting_rows(s, &pretraining));
    let published_cells = setting.map_or_else(Vec::new, |s| {
        distance::published_cells(s, a, page.reference)
    });
    let ctx = context! {
        study => Value::from(Serde(page.study)),
        group => a.key.as_ref().map(|k| k.describe()),
        n_models => a.models.len(),
        n_runs => a.runs.len(),
        n_records => a.records.len(),
        n_seeds => seeds.len(),
        n_failed => a.failed.len(),
        warnings => Value::from(Serde(page.warnings)),
        setting_rows => Value::from(Serde(&setting_rows)),
        published_cells => Value::from(Serde(&published_cells)),
        limitations => Value::from(Serde(distance::limitations(&setting_rows, page.warnings))),
        compared => page.study.compare.as_ref().map(|r| {
            let findings = compare::compare(&a.claims, r);
            context! { shown => r.shown.clone(), summary => compare::summary(&findings), findings => Value::from(Serde(findings)) }
        }),
        claims => claim_rows(a),
        bootstrap => format!("{} resamples, seed {}, {:.0}% percentile interval", crate::aggregate::CLAIM_BOOTSTRAP.resamples, crate::aggregate::CLAIM_BOOTSTRAP.seed, 100.0 * crate::aggregate::CLAIM_BOOTSTRAP.level),
        models => model_rows(a),
        splits => split_rows(a, page.id_by_domain.as_deref()),
        id_domains => page.id_by_domain.as_ref().map(|_| page.study.id_domains.iter().map(|c| c.name.clone()).collect::<Vec<_>>()),
        learning => learning_rows(a),
        checkpoints => checkpoint_rows(a, &page.study.checkpoints),
        checkpoints_not_learned => page.study.checkpoints.iter().filter(|c| c.learned == Some(false)).count(),
        algorithm_names => algorithm_names,
        algorithm_table => algorithm_table,
        learned_margin => crate::aggregate::learned::MARGIN_POINTS,
        min_models => crate::aggregate::cluster::MIN_MODELS,
        min_per_group => crate::aggregate::cluster::MIN_PER_GROUP,
        figures => figure_values(page.figures),
        reliability => figure_values(page.reliability),
        selected => run_rows(&a.selected),
        selection => a.rule.name(),
        by_oracle => a.rule == crate::aggregate::Rule::TestDomainOracle,
        check => check_rows(a),
        failed => a.failed.iter().map(|f| context! { label => f.label.clone(), seed => f.seed, lr => format!("{}", f.learning_rate), wd => format!("{}", f.weight_decay), step => f.step, reason => f.reason.clone(), run => f.run_id.get(..12).unwrap_or(&f.run_id) }).collect::<Vec<_>>(),
        reference => Value::from(Serde(page.reference)),
        provenance => Value::from(Serde(page.provenance)),
        input_sources => page.provenance.inputs.iter().map(|i| with_code(&super::provenance::input_source(&i.name, &page.study.input_sources))).collect::<Vec<_>>(),
        total_wall => format!("{:.1}", page.provenance.total_wall_seconds),
        records => record_rows(a),
        tables => Value::from(Serde(page.tables)),
    };
    env.get_template("report.html")?
        .render(ctx)
        .context("rendering reports/templates/report.html.j2")
}

impl StudyMeta {
    /// A study known only by name (records without their manifest): the
    /// paper's selection rule applies.
    pub fn without_manifest(name: &str, description: &str) -> StudyMeta {
        StudyMeta {
            name: name.to_string(),
            description: description.to_string(),
            manifest: None,
            selection: crate::aggregate::Rule::TrainingDomainValidation,
            setting: None,
            compare: None,
            input_sources: Default::default(),
            id_domains: Vec::new(),
            checkpoints: Vec::new(),
        }
    }

    pub fn from_study(study: &Study) -> Result<StudyMeta> {
        let sha = sha256_file(&study.file)
            .with_context(|| format!("{}: cannot read the study manifest", study.file.display()))?;
        let shown = study
            .file
            .file_name()
            .map(|n| format!("experiments/{}", n.to_string_lossy()))
            .unwrap_or_default();
        Ok(StudyMeta {
            name: study.name().to_string(),
            description: study.header.description.clone(),
            manifest: Some((shown, sha)),
            selection: study.protocol.selection,
            setting: Some(Setting::of(study)),
            compare: None,
            input_sources: Default::default(),
            id_domains: Vec::new(),
            checkpoints: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_parameters_read_as_a_reader_writes_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(158_000), "158,000");
        assert_eq!(count(1_281_167), "1,281,167");
        assert_eq!(params(4_701_031), "4.70 M");
        assert_eq!(params(322_311), "322.3 k");
        assert_eq!(params(950), "950");
    }

    #[test]
    fn backticked_names_become_code_and_the_rest_is_escaped() {
        let html = with_code("sharing `imagenet-1k` <b> & `a<b`");
        assert_eq!(
            html.to_string(),
            "sharing <code>imagenet-1k</code> &lt;b&gt; &amp; <code>a&lt;b</code>"
        );
        assert!(html.is_safe());
    }
}
