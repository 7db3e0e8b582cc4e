//! `oodcal generate`: make a generated input, look at it, export or pin it.

use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::{Context, Global};
use crate::data::contact_sheet::write_contact_sheet;
use crate::data::export::export_domainbed;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// A generated input of the data manifest (glyph-dg, glyph-corpus-8k, ...).
    pub name: String,
    /// Another seed than the manifest's (the digest then differs from the pin).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write a contact sheet (PNG grid of samples per class and domain) here.
    #[arg(long)]
    pub contact_sheet: Option<PathBuf>,
    /// Samples per class and domain on the contact sheet.
    #[arg(long, default_value_t = 6)]
    pub per_cell: usize,
    /// Pixel zoom of the contact sheet.
    #[arg(long, default_value_t = 3)]
    pub zoom: usize,
    /// Write the images as PNGs in DomainBed's layout under <data-root>/<path>.
    #[arg(long)]
    pub export: bool,
}

pub fn run(g: &Global, a: &GenerateArgs) -> Result<ExitCode> {
    let ctx = Context::open(g, false)?;
    let input = ctx.catalogue.get(&a.name).with_context(|| {
        format!(
            "no input named `{}` in {}",
            a.name,
            ctx.catalogue.file.display()
        )
    })?;
    let Some(generator) = &input.generator else {
        bail!("`{}` is not a generated input", a.name);
    };
    let generator = a
        .seed
        .map(|s| generator.with_seed(s))
        .unwrap_or_else(|| generator.clone());
    let start = Instant::now();
    let set = generator.generate()?;
    let digest = set.digest();
    println!(
        "{}: {} images, {} classes, {} domains, {}x{} px in {:.2}s",
        a.name,
        set.labels.len(),
        set.class_names.len(),
        set.domain_names.len(),
        set.width,
        set.height,
        start.elapsed().as_secs_f64()
    );
    let pinned = input.sha256.as_deref();
    let verdict = match pinned {
        Some(p) if p == digest => "matches the pin",
        Some(_) => "DIFFERS from the pin",
        None => "not pinned",
    };
    println!("sha256 {digest} ({verdict})");
    if let Some(sheet) = &a.contact_sheet {
        write_contact_sheet(&set, sheet, a.per_cell, a.zoom)?;
        println!("contact sheet: {}", sheet.display());
    }
    if a.export {
        let dir = ctx.roots.base(input.location).join(&input.path);
        export_domainbed(&set, &dir)?;
        println!("exported to {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
