//! `oodcal predict`: a weights file in a named architecture, on image files.
//!
//! How a user checks that downloaded weights loaded right (the top-5 classes
//! of a photograph), and how anyone can compare oodcal's logits with timm's
//! on their own files (`--logits`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use clap::Args;

use crate::data::preprocess::{FloatImage, Normalize};
use crate::model::efficientnet_lite::LiteVariant;
use crate::model::registry::timm_model;
use crate::model::timm::TimmArch;
use crate::model::Network;
use crate::weights::{read_safetensors, read_state_dict};

type B = <crate::train::CpuBackend as AutodiffBackend>::InnerBackend;

/// ImageNet-1k's class names, line i for class i (timm's lemma list).
const IMAGENET_CLASSES: &str = include_str!("../../tests/fixtures/effnet/imagenet_classes.txt");

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A timm tag (`convnext_tiny.fb_in1k`) or architecture name (`convnext_tiny`);
    /// `efficientnet-lite0|1|2` for the pinned efficientnet-lite-pytorch weights;
    /// or an architecture as JSON (`{"arch": "resnet", ...}`: a reduced
    /// configuration such as the parity fixtures').
    pub name: String,
    /// The weights: a `.safetensors` file (timm's format) or a legacy `.pth`.
    #[arg(long)]
    pub weights: PathBuf,
    /// Image files (PNG or JPEG).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Input side; default the tag's native size, or the first image's.
    #[arg(long)]
    pub size: Option<usize>,
    /// Classes to print per image.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Also write every logit to this CSV (`image,class,logit`).
    #[arg(long)]
    pub logits: Option<PathBuf>,
}

pub fn run(a: &PredictArgs) -> Result<ExitCode> {
    let (network, native, arch) = load_network(a)?;
    let first = image::open(&a.images[0])
        .with_context(|| format!("{}: cannot read the image", a.images[0].display()))?;
    let size = a
        .size
        .or(arch.and_then(|arch| arch.fixed_image_size()))
        .or(native)
        .unwrap_or(first.width() as usize);
    if let Some(Err(reason)) = arch.map(|arch| arch.check_image_size(size)) {
        bail!("`{}` {reason}: leave out --size", a.name);
    }
    let inputs = a
        .images
        .iter()
        .map(|p| input(p, size))
        .collect::<Result<Vec<_>>>()?;
    let n = inputs.len();
    let device = Default::default();
    let batch = Tensor::<B, 4>::from_data(
        TensorData::new(inputs.concat(), [n, 3, size, size]),
        &device,
    );
    let logits: Vec<f32> = network.forward(batch).into_data().to_vec()?;
    let classes = logits.len() / n;
    let names: Vec<&str> = IMAGENET_CLASSES.lines().collect();
    let mut csv = String::from("image,class,logit\n");
    for (path, row) in a.images.iter().zip(logits.chunks(classes)) {
        println!("{}", path.display());
        for (rank, (class, p)) in top_k(row, a.top).into_iter().enumerate() {
            let name = match classes == names.len() {
                true => names[class],
                false => "",
            };
            println!("  {:>2}. {class:>5}  p = {p:.4}  {name}", rank + 1);
        }
        for (class, logit) in row.iter().enumerate() {
            writeln!(csv, "{},{class},{logit:e}", path.display())?;
        }
    }
    if let Some(out) = &a.logits {
        std::fs::write(out, csv).with_context(|| format!("{}: cannot write", out.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The network with the file's weights, the native input side if known, and
/// its timm architecture (`None` for the EfficientNet-Lite port).
fn load_network(a: &PredictArgs) -> Result<(Network<B>, Option<usize>, Option<TimmArch>)> {
    let device = Default::default();
    let origin = a.weights.display().to_string();
    if let Some(variant) = LiteVariant::from_name(&a.name) {
        let config = variant.config();
        let network = config.load_pretrained::<B>(&a.weights, &device)?;
        return Ok((network, Some(config.image_size), None));
    }
    let name = a.name.as_str();
    let (arch, native) = match TimmArch::from_tag(name) {
        Some(arch) => (arch, timm_model(name).map(|m| m.input_size as usize)),
        None if name.starts_with('{') => (
            serde_json::from_str::<TimmArch>(name)
                .with_context(|| format!("`{name}` is not an architecture"))?,
            None,
        ),
        None => bail!(
            "unknown model `{name}`: not a timm architecture oodcal builds (see `oodcal models`)"
        ),
    };
    let dict = match a.weights.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => read_safetensors(&a.weights)?,
        _ => read_state_dict(&a.weights)?,
    };
    // The head's width is the file's: timm's 1000 or 21,843 classes, or a
    // reduced model's; a headless tag has none to predict with.
    let head_bias = arch.timm_key("head.bias");
    let Some(classes) = dict.get(&head_bias).map(|t| t.shape[0]) else {
        bail!("{origin}: no classifier (`{head_bias}`): a headless checkpoint has no classes to predict");
    };
    let network = arch.load(arch.init_network::<B>(classes, &device), &dict, &origin)?;
    Ok((network, native, Some(arch)))
}

/// An image as a normalised CHW input of side `size`: taken as it is at that
/// size, otherwise resized as the studies resize.
fn input(path: &Path, size: usize) -> Result<Vec<f32>> {
    let rgb = image::open(path)
        .with_context(|| format!("{}: cannot read the image", path.display()))?
        .to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mut image = FloatImage::from_u8(rgb.as_raw(), w, h);
    if (w, h) != (size, size) {
        image = image.resized(size, size);
    }
    let mut out = vec![0.0; 3 * size * size];
    Normalize::IMAGENET.write_chw(&image, &mut out);
    Ok(out)
}

/// The `k` largest logits as (class, softmax probability), best first.
fn top_k(logits: &[f32], k: usize) -> Vec<(usize, f32)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&x, &y| logits[y].total_cmp(&logits[x]));
    order
        .into_iter()
        .take(k)
        .map(|c| (c, (logits[c] - max).exp() / total))
        .collect()
}
