//! timm's weights for one of the paper's tags (`oodcal fetch timm:<tag>`):
//! taken from a Hugging Face hub cache or a given file, checked against the
//! burn architecture, pinned by SHA-256 in `data-manifest.toml` with where it
//! came from, and installed under the weights folder. Once pinned, a file is
//! only ever installed when its digest is the pinned one.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::tensor::backend::AutodiffBackend;

use super::{upsert_input, verify_input, Catalogue, InputVerdict, Roots};
use crate::checksum::DigestCache;
use crate::model::registry::{timm_model, TimmModel};
use crate::weights::read_safetensors;

/// Input names of timm weights: `timm:<tag>`.
pub const PREFIX: &str = "timm:";

/// The data-manifest input holding timm's weights for `tag`.
pub fn input_name(tag: &str) -> String {
    format!("{PREFIX}{tag}")
}

/// Where `fetch timm:<tag>` takes the file from.
#[derive(Debug, Clone)]
pub enum TimmSource {
    /// A Hugging Face hub cache folder (`~/.cache/huggingface/hub`).
    HubCache(PathBuf),
    /// A safetensors file the user names.
    File(PathBuf),
}

/// The installed (verified) file of `timm:<tag>`.
pub fn fetch_timm(
    catalogue: &Catalogue,
    roots: &Roots,
    cache: &DigestCache,
    tag: &str,
    source: &TimmSource,
    pin: bool,
) -> Result<PathBuf> {
    let model = timm_model(tag).with_context(|| {
        format!("`{tag}` is not one of the paper's timm tags (see `oodcal models`)")
    })?;
    let name = input_name(tag);
    let pinned = catalogue.get(&name);
    // Where a pin says the file lives, or where a new pin will put it.
    let rel = pinned.map_or_else(
        || PathBuf::from(format!("timm/{tag}.safetensors")),
        |input| input.path.clone(),
    );
    let dest = pinned.map_or_else(
        || roots.weights.join(&rel),
        |i| roots.base(i.location).join(&rel),
    );
    if let Some(input) = pinned {
        let status = verify_input(input, roots, cache)?;
        if status.verdict == InputVerdict::Ok {
            return Ok(dest);
        }
        if status.verdict != InputVerdict::Missing {
            bail!(
                "{name} is present at {} but does not verify ({}); move it away before fetching",
                dest.display(),
                status.verdict.label()
            );
        }
    }
    let (file, origin) = locate(tag, source)?;
    // The bytes checked are the bytes installed: copy first, then hash the copy.
    let staged = stage_copy(&file, &dest)?;
    let digest = crate::checksum::sha256_file(staged.path())
        .with_context(|| format!("{}: cannot hash", staged.path().display()))?;
    let pinned_sha = pinned.and_then(|i| i.sha256.as_deref());
    match pinned_sha {
        Some(expected) if expected != digest => bail!(
            "{}: sha256 {digest} differs from the pin of {name} in {} ({expected}); not installed",
            file.display(),
            catalogue.file.display()
        ),
        Some(_) => {}
        None if !pin => bail!(
            "{name} has no pin in {}: check that {} is the file you mean, then run \
             `oodcal fetch {name} --pin` to record its SHA-256",
            catalogue.file.display(),
            file.display()
        ),
        None => check_fits(model, staged.path(), &file)?,
    }
    staged
        .persist(&dest)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot install", dest.display()))?;
    if pinned_sha.is_none() {
        record_pin(catalogue, &name, tag, &rel, &origin, &digest)?;
    }
    Ok(dest)
}

/// `file` copied to a temporary file beside `dest`.
fn stage_copy(file: &Path, dest: &Path) -> Result<tempfile::NamedTempFile> {
    let mut staged = crate::atomic::temp_file_for(dest)
        .with_context(|| format!("{}: cannot create a file beside it", dest.display()))?;
    let mut from =
        std::fs::File::open(file).with_context(|| format!("{}: cannot read", file.display()))?;
    std::io::copy(&mut from, staged.as_file_mut())
        .with_context(|| format!("copying {} to {}", file.display(), dest.display()))?;
    staged.as_file().sync_all()?;
    Ok(staged)
}

/// The file to take, and a sentence saying where it came from.
fn locate(tag: &str, source: &TimmSource) -> Result<(PathBuf, String)> {
    match source {
        TimmSource::File(file) => Ok((file.clone(), format!("local file {}", file.display()))),
        TimmSource::HubCache(hub) => {
            let (file, revision) = hub_snapshot(hub, tag)?;
            Ok((
                file,
                format!("Hugging Face hub timm/{tag}, revision {revision}"),
            ))
        }
    }
}

/// `models--timm--<tag>/snapshots/<rev>/model.safetensors` in a hub cache:
/// the revision `refs/main` names, or the only one present.
pub fn hub_snapshot(hub: &Path, tag: &str) -> Result<(PathBuf, String)> {
    let repo = hub.join(format!("models--timm--{tag}"));
    let snapshots = repo.join("snapshots");
    let revision = match std::fs::read_to_string(repo.join("refs/main")) {
        Ok(text) => text.trim().to_string(),
        Err(_) => {
            let found: Vec<String> = std::fs::read_dir(&snapshots)
                .with_context(|| {
                    format!(
                        "{}: no cached download of timm/{tag} (download it with `hf download timm/{tag}`, or pass --from FILE)",
                        snapshots.display()
                    )
                })?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            match found.as_slice() {
                [one] => one.clone(),
                _ => bail!(
                    "{}: {} revisions and no refs/main to choose between them ({})",
                    snapshots.display(),
                    found.len(),
                    found.join(", ")
                ),
            }
        }
    };
    let file = snapshots.join(&revision).join("model.safetensors");
    if !file.is_file() {
        bail!(
            "{}: missing (the cache's revision {revision} has no safetensors weights)",
            file.display()
        );
    }
    Ok((file, revision))
}

/// Refuses a file that does not load into the tag's architecture (with the
/// tag's head, or none for MAE and DINO), naming every key that does not fit.
fn check_fits(model: &TimmModel, staged: &Path, file: &Path) -> Result<()> {
    type B = <crate::train::CpuBackend as AutodiffBackend>::InnerBackend;
    let arch = model
        .arch()
        .with_context(|| format!("{}: no burn architecture", model.tag))?;
    let dict =
        read_safetensors(staged).map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.kind))?;
    let origin = file.display().to_string();
    let device = Default::default();
    match model.head_classes as usize {
        0 => drop(arch.load_backbone(arch.init::<B>(&device), &dict, &origin)?),
        classes => drop(arch.load(arch.init_network::<B>(classes, &device), &dict, &origin)?),
    }
    Ok(())
}

fn record_pin(
    catalogue: &Catalogue,
    name: &str,
    tag: &str,
    rel: &Path,
    origin: &str,
    digest: &str,
) -> Result<()> {
    upsert_input(
        &catalogue.file,
        name,
        &[
            ("kind", "weights".to_string()),
            ("location", "weights".to_string()),
            ("path", rel.display().to_string()),
            ("source", format!("timm's weights for {tag}: {origin}")),
            (
                "licence",
                format!("as the model card of huggingface.co/timm/{tag} states"),
            ),
            ("sha256", digest.to_string()),
        ],
    )?;
    eprintln!("pinned {name} in {}", catalogue.file.display());
    Ok(())
}
