//! `oodcal verify --records / --reference`: run records and reference results.

use anyhow::{bail, Result};
use std::path::Path;
use std::process::ExitCode;

use super::verify::VerifyArgs;
use super::{Context, Global};
use crate::record::reference::{self, Drift, Reference, ReferenceRun};
use crate::record::store::{read_verified, record_dirs};
use crate::record::RunRecord;
use crate::study::{expand, Study};
use crate::train::DeviceInfo;

pub fn run(g: &Global, a: &VerifyArgs) -> Result<ExitCode> {
    if let (Some(out), Some(dir)) = (&a.write_reference, &a.records) {
        return write_reference(dir, out);
    }
    let drifts = match (&a.reference, &a.records, &a.study) {
        (Some(file), Some(dir), _) => {
            let reference = reference::read(file)?;
            let records = reference::load_records(dir)?;
            note_other_devices(&reference, &records);
            reference::compare(&reference, &records)
        }
        (Some(file), None, Some(study)) => planned_drifts(g, study, &reference::read(file)?)?,
        (None, Some(dir), _) => return check_records(dir),
        _ => bail!("--reference needs --records DIR or --study MANIFEST"),
    };
    for Drift(line) in &drifts {
        println!("DRIFT  {line}");
    }
    match drifts.len() {
        0 => {
            println!("every run matches the reference");
            Ok(ExitCode::SUCCESS)
        }
        n => {
            eprintln!("{n} difference(s) from the reference");
            if let Some(dir) = a.reference.as_deref().and_then(Path::parent) {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                eprintln!(
                    "hint: single runs drift across machines; whether the findings reproduced is \
                     `oodcal report --compare {}` (claim by claim, beside that report's)",
                    dir.display()
                );
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Says which records ran elsewhere than the reference: they are held to the
/// cross-device tolerance, not to exact equality, and may drift beyond it.
fn note_other_devices(reference: &Reference, records: &[RunRecord]) {
    let mut others: Vec<&DeviceInfo> = Vec::new();
    for r in records {
        if !reference::same_device(&reference.device, &r.device) && !others.contains(&&r.device) {
            others.push(&r.device);
        }
    }
    let show = |d: &DeviceInfo| format!("{} [{}: {}]", d.device_name, d.backend, d.driver);
    for device in others {
        let n = records.iter().filter(|r| r.device == *device).count();
        eprintln!(
            "note: {n} record(s) ran on {}, the reference on {}: their metrics are compared \
             within {} points, not exactly; SGD amplifies another summation order, so single \
             runs can drift further, and the claims of the two reports are what carries across machines",
            show(device),
            show(&reference.device),
            reference::CROSS_DEVICE_POINTS
        );
    }
}

/// Every record folder must verify; each bad one is named.
fn check_records(dir: &Path) -> Result<ExitCode> {
    let mut bad = 0;
    let dirs = record_dirs(dir)?;
    for d in &dirs {
        match read_verified(d) {
            Ok(r) => println!("ok       {} {}", &r.run_id[..12], r.model.label),
            Err(e) => {
                bad += 1;
                println!("BAD      {e}");
            }
        }
    }
    eprintln!("{} records, {bad} bad", dirs.len());
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_reference(dir: &Path, out: &Path) -> Result<ExitCode> {
    let records = reference::load_records(dir)?;
    let study = records.first().map(|r| r.study.clone()).unwrap_or_default();
    let reference = reference::build(&study, &records)?;
    let mut json = serde_json::to_vec_pretty(&reference)?;
    json.push(b'\n');
    crate::atomic::write(out, &json)?;
    println!(
        "reference of {} runs written to {}",
        reference.runs.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Planned runs of a (possibly edited) manifest against the reference, by id:
/// names each planned run the reference does not have, and why.
fn planned_drifts(g: &Global, study: &Path, reference: &Reference) -> Result<Vec<Drift>> {
    let ctx = Context::open(g, true)?;
    let study = Study::load(study, &ctx.catalogue)?;
    let runs = expand(&study, &ctx.catalogue);
    let mut drifts = Vec::new();
    for run in &runs {
        if reference.runs.iter().any(|r| r.run_id == run.id) {
            continue;
        }
        let s = &run.spec;
        let mine = ReferenceRun {
            run_id: run.id.clone(),
            model: s.model.name.get_ref().clone(),
            algorithm: s.algorithm,
            optimizer: s.optimizer.name().to_string(),
            learning_rate: s.learning_rate,
            weight_decay: s.weight_decay,
            seed: s.seed,
            inputs: s.inputs.clone(),
            status: String::new(),
            metrics: Default::default(),
        };
        drifts.push(reference::unmatched_drift(reference, &mine));
    }
    Ok(drifts)
}
