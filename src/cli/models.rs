//! `oodcal models`: the models a manifest can name, and the weights input each trains from.

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::process::ExitCode;

use crate::inputs::timm_input;
use crate::model::registry::{timm_models, TimmModel};
use crate::model::ModelSpec;

#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// Print the listing as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Listing<'a> {
    /// The paper's timm tags (`timm = "..."` in a manifest).
    timm: Vec<TimmLine<'a>>,
    /// The quick zoo's architectures (`family` and `size` in a manifest).
    zoo: Vec<String>,
}

#[derive(Serialize)]
struct TimmLine<'a> {
    #[serde(flatten)]
    model: &'a TimmModel,
    /// Whether oodcal builds the tag's architecture in burn (timm's keys and logits).
    ported: bool,
    /// The input a study fine-tunes the tag from (`oodcal fetch` it).
    weights: String,
}

pub fn run(a: &ModelsArgs) -> Result<ExitCode> {
    let listing = Listing {
        timm: timm_models()
            .iter()
            .map(|model| TimmLine {
                model,
                ported: model.arch().is_some(),
                weights: match model.lite_port() {
                    Some(variant) => variant.name().to_string(),
                    None => timm_input(&model.tag),
                },
            })
            .collect(),
        zoo: ModelSpec::all().iter().map(ModelSpec::name).collect(),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<44} {:<18} {:>9} {:>6} {:<42} {:>6} {:>9}  {:<6} weights input",
        "timm tag", "family", "params M", "head", "pre-training", "top-1", "GFLOPs224", "burn"
    );
    for line in &listing.timm {
        let m = line.model;
        println!(
            "{:<44} {:<18} {:>9.2} {:>6} {:<42} {:>6} {:>9.2}  {:<6} {}",
            m.tag,
            m.family,
            m.params as f64 / 1e6,
            m.head_classes,
            m.pretraining,
            m.top1.map_or("-".to_string(), |t| format!("{t:.2}")),
            m.flops_224 as f64 / 1e9,
            if line.ported { "yes" } else { "no" },
            line.weights
        );
    }
    let ported = listing.timm.iter().filter(|l| l.ported).count();
    println!(
        "\n{} timm tags; {ported} built in burn with timm's keys and logits (`oodcal predict` \
         loads their safetensors). A study fine-tunes a tag from its weights input once \
         `oodcal fetch <input> --pin` has pinned it.\nThe quick zoo (built in burn): {}",
        listing.timm.len(),
        listing.zoo.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
