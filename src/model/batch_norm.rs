//! BatchNorm over images, computing what burn's `BatchNorm::forward` computes
//! with every broadcast laid out per (sample, channel) row.
//!
//! burn's own arrangement combines `[b, c, h, w]` activations with
//! per-channel `[1, c, 1, 1]` operands. burn-flex has SIMD kernels only for
//! operands that broadcast over trailing dimensions with the leading ones
//! contiguous (`[b, c, 1, 1]`); everything else walks a scalar strided
//! iterator. In EfficientNet-Lite training (about 50 BatchNorms) that walk
//! took about 70% of the time (`perf`, 64 px, batch 24), and in the zoo's
//! ResNets at 16 px about 60% (`StridedIter::next` alone 40%). Here the statistics
//! are repeated per sample first (`b * c` numbers, cheap), and the
//! normalisation is folded into one scale and one shift, so every large
//! operation takes the fast path. The module and its parameters are burn's
//! (same names, records and state-dict keys); only the arithmetic is arranged
//! differently, so results agree to rounding.

use burn::nn::BatchNorm;
use burn::prelude::*;

/// `bn` applied to `x` `[b, c, h, w]`: batch statistics and a running-statistics
/// update on an autodiff backend (training), running statistics otherwise.
/// Like burn, the running variance is updated with the biased batch variance.
pub fn batch_norm_2d<B: Backend>(bn: &BatchNorm<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, c, _, _] = x.dims();
    let device = x.device();
    let (mean, var) = match B::ad_enabled(&device) {
        true => batch_statistics(bn, x.clone()),
        false => (
            bn.running_mean.value().to_device(&device),
            bn.running_var.value().to_device(&device),
        ),
    };
    let scale = bn.gamma.val().div(var.add_scalar(bn.epsilon).sqrt());
    let shift = bn.beta.val().sub(mean.mul(scale.clone()));
    let per_row = |v: Tensor<B, 1>| per_sample(v, b).reshape([b, c, 1, 1]);
    x.mul(per_row(scale)).add(per_row(shift))
}

/// Per-channel mean and (biased) variance of `x` over batch and space, and
/// the running-statistics update burn's BatchNorm makes.
fn batch_statistics<B: Backend>(
    bn: &BatchNorm<B>,
    x: Tensor<B, 4>,
) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let [b, c, h, w] = x.dims();
    let rows = x.reshape([b, c, h * w]);
    let channel_mean = |t: Tensor<B, 3>| t.mean_dim(2).mean_dim(0).reshape([c]);
    let mean = channel_mean(rows.clone());
    let centred = rows.sub(per_sample(mean.clone(), b).reshape([b, c, 1]));
    let var = channel_mean(centred.square());

    let momentum = bn.momentum;
    let update = |running: Tensor<B, 1>, batch: &Tensor<B, 1>| {
        let running = running.to_device(&batch.device());
        running
            .mul_scalar(1.0 - momentum)
            .add(batch.clone().detach().mul_scalar(momentum))
            .detach()
    };
    bn.running_mean
        .update(update(bn.running_mean.value_sync(), &mean));
    bn.running_var
        .update(update(bn.running_var.value_sync(), &var));
    (mean, var)
}

/// `v` `[c]` repeated for each of `b` samples as one contiguous `[b * c]`
/// tensor (a concatenation, never a stride-0 view, which would bring back the
/// slow path).
fn per_sample<B: Backend>(v: Tensor<B, 1>, b: usize) -> Tensor<B, 1> {
    Tensor::cat(vec![v; b], 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::BatchNormConfig;
    use burn::tensor::Distribution;

    type Ad = Autodiff<Flex>;

    fn bn<B: Backend>(c: usize, device: &B::Device) -> BatchNorm<B> {
        let mut bn = BatchNormConfig::new(c)
            .with_epsilon(1e-3)
            .with_momentum(0.01)
            .init(device);
        // Fixed, non-trivial affine parameters (fresh leaves, so they get gradients).
        let ramp = |from: f32| {
            let values: Vec<f32> = (0..c).map(|i| from + 0.1 * i as f32).collect();
            burn::module::Param::from_tensor(Tensor::from_floats(values.as_slice(), device))
        };
        bn.gamma = ramp(0.5);
        bn.beta = ramp(-0.25);
        bn
    }

    fn max_diff<const D: usize, B: Backend>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
        a.sub(b).abs().max().into_scalar().elem()
    }

    #[test]
    fn training_matches_burn_values_gradients_and_running_statistics() {
        let device = Default::default();
        let data = Tensor::<Ad, 4>::random([3, 5, 4, 6], Distribution::Normal(1.0, 2.0), &device)
            .into_data();
        // One leaf per graph: a backward pass consumes the graph it walks.
        let leaf = || Tensor::<Ad, 4>::from_data(data.clone(), &device).require_grad();
        let (x_ours, x_theirs) = (leaf(), leaf());
        let (ours, theirs) = (bn::<Ad>(5, &device), bn::<Ad>(5, &device));
        let y_ours = batch_norm_2d(&ours, x_ours.clone());
        let y_theirs = theirs.forward(x_theirs.clone());
        assert!(max_diff(y_ours.clone(), y_theirs.clone()) < 1e-5);

        // A loss that weighs outputs unevenly, so every gradient path matters.
        let weights = Tensor::<Ad, 4>::random([3, 5, 4, 6], Distribution::Default, &device);
        let g_ours = (y_ours * weights.clone()).sum().backward();
        let g_theirs = (y_theirs * weights).sum().backward();
        let dx = max_diff(
            x_ours.grad(&g_ours).unwrap(),
            x_theirs.grad(&g_theirs).unwrap(),
        );
        assert!(dx < 1e-4, "{dx}");
        let dgamma = max_diff(
            ours.gamma.grad(&g_ours).unwrap(),
            theirs.gamma.grad(&g_theirs).unwrap(),
        );
        assert!(dgamma < 1e-4, "{dgamma}");
        let dbeta = max_diff(
            ours.beta.grad(&g_ours).unwrap(),
            theirs.beta.grad(&g_theirs).unwrap(),
        );
        assert!(dbeta < 1e-4, "{dbeta}");
        let mean_diff = max_diff(
            ours.running_mean.value_sync(),
            theirs.running_mean.value_sync(),
        );
        let var_diff = max_diff(
            ours.running_var.value_sync(),
            theirs.running_var.value_sync(),
        );
        assert!(
            mean_diff < 1e-6 && var_diff < 1e-6,
            "{mean_diff} {var_diff}"
        );
        // And the update did happen (running mean moved off zero towards ~1).
        let moved: f32 = ours.running_mean.value_sync().mean().into_scalar().elem();
        assert!(moved > 0.001, "{moved}");
    }

    #[test]
    fn inference_uses_running_statistics_like_burn() {
        let device = Default::default();
        let mut norm = bn::<Flex>(4, &device);
        norm.running_mean =
            burn::module::RunningState::new(Tensor::from_floats([0.1, -0.2, 0.3, 0.0], &device));
        norm.running_var =
            burn::module::RunningState::new(Tensor::from_floats([1.0, 0.5, 2.0, 4.0], &device));
        let x = Tensor::<Flex, 4>::random([2, 4, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let diff = max_diff(batch_norm_2d(&norm, x.clone()), norm.forward(x));
        assert!(diff < 1e-5, "{diff}");
    }
}
