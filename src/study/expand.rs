//! Expanding a study's sweeps into planned runs.

use std::collections::BTreeMap;

use super::manifest::{ModelEntry, Study};
use super::run_id::{run_id, RunSpec, RUN_SPEC_SCHEMA};
use super::zoo_checkpoint::zoo_checkpoint;
use crate::inputs::{timm_input, Catalogue};

#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub id: String,
    pub spec: RunSpec,
}

impl PlannedRun {
    /// The 12-hex prefix shown in tables (the full id names the folder).
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

/// Every run of the study: model × algorithm × optimizer × learning rate ×
/// weight decay × seed, in manifest order.
pub fn expand(study: &Study, catalogue: &Catalogue) -> Vec<PlannedRun> {
    let p = &study.protocol;
    let mut runs = Vec::new();
    for model in &study.models {
        let inputs = model_inputs(study, model, catalogue);
        let pretrain = model
            .pretrain
            .as_ref()
            .and_then(|name| study.pretrain_entry(name.get_ref()))
            .cloned();
        let grid = p
            .algorithms
            .iter()
            .flat_map(|&a| p.optimizers.iter().map(move |&o| (a, o)));
        for (algorithm, optimizer) in grid {
            for &learning_rate in &p.learning_rates {
                for &weight_decay in &p.weight_decays {
                    for &seed in &p.seeds {
                        let spec = RunSpec {
                            schema: RUN_SPEC_SCHEMA,
                            engine: crate::record::ENGINE_VERSION,
                            benchmark: study.benchmark.clone(),
                            model: model.clone(),
                            pretrain: pretrain.clone(),
                            head: p.head,
                            algorithm,
                            optimizer,
                            learning_rate,
                            weight_decay,
                            momentum: p.momentum,
                            batch_per_domain: p.batch_per_domain,
                            steps: p.steps,
                            eval_every: p.eval_every,
                            augment_id_validation: p.augment_id_validation,
                            trainable_blocks: p.trainable_blocks,
                            seed,
                            inputs: inputs.clone(),
                        };
                        runs.push(PlannedRun {
                            id: run_id(&spec),
                            spec,
                        });
                    }
                }
            }
        }
    }
    runs
}

/// The inputs one model's runs read, each with its pinned digest: the
/// benchmark, and for a pre-trained model its corpus and its zoo checkpoint
/// (or downloaded weights).
fn model_inputs(
    study: &Study,
    model: &ModelEntry,
    catalogue: &Catalogue,
) -> BTreeMap<String, String> {
    let digest_of = |name: &str| {
        catalogue
            .get(name)
            .and_then(|i| i.digest())
            .map_or_else(|| format!("unpinned:{name}"), str::to_string)
    };
    let dataset = study.benchmark.dataset.get_ref();
    let mut inputs = BTreeMap::from([(dataset.clone(), digest_of(dataset))]);
    if let Some(p) = model
        .pretrain
        .as_ref()
        .and_then(|n| study.pretrain_entry(n.get_ref()))
    {
        let corpus = p.corpus.get_ref();
        inputs.insert(corpus.clone(), digest_of(corpus));
        let zoo = zoo_checkpoint(model, p, study.benchmark.resolution, catalogue);
        let digest = zoo
            .pinned_digest(catalogue)
            .map_or_else(|| format!("unpinned:{}", zoo.path), str::to_string);
        inputs.insert(zoo.input_name, digest);
    }
    if let Some(w) = &model.weights {
        inputs.insert(w.get_ref().clone(), digest_of(w.get_ref()));
    } else if let Some(tag) = &model.timm {
        // timm's weights (`oodcal fetch timm:<tag> --pin`), by their pin once they have one.
        let name = timm_input(tag.get_ref());
        inputs.insert(name.clone(), digest_of(&name));
    }
    inputs
}
