//! Convolution that every backend differentiates alike.
//!
//! burn-cubecl 0.21 (burn's wgpu and CUDA backends) returns an all-zero input
//! gradient for a 1×1 convolution with stride > 1 (`tests/backend_agreement.rs`
//! shows it against burn-flex, whose gradient is the analytic one). In a
//! ResNet that is every downsampling shortcut: on a GPU no gradient reached
//! the layers before it through the shortcut, and the same run trained to
//! different results on `cpu` and `wgpu`.

use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::s;

/// `conv.forward(x)`. On burn-cubecl backends (wgpu, CUDA), a 1×1, unpadded,
/// strided convolution is computed as the stride-1 convolution of the input's
/// every `stride`-th row and column: the same values, and the right gradient.
/// burn-flex keeps burn's own operation, whose gradient is right: the same
/// arithmetic on a subsampled input would block its sums differently and
/// change the CPU's bits (the quick study's resnet-base runs).
pub fn conv2d_forward<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [sh, sw] = conv.stride;
    let pointwise = conv.kernel_size == [1, 1] && conv.groups == 1;
    let unpadded = matches!(conv.padding, PaddingConfig2d::Valid)
        || matches!(conv.padding, PaddingConfig2d::Explicit(0, 0, 0, 0));
    let affected = pointwise && unpadded && (sh > 1 || sw > 1);
    if !(affected && on_cubecl::<B>(&x.device())) {
        return conv.forward(x);
    }
    subsampled_pointwise(conv, x)
}

/// Whether `B` (under autodiff or fusion) runs on burn-cubecl.
fn on_cubecl<B: Backend>(device: &B::Device) -> bool {
    B::name(device).contains("cubecl<")
}

/// The rerouted form on any backend (the tests compare it with burn's).
fn subsampled_pointwise<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [sh, sw] = conv.stride;
    let sampled = x.slice(s![.., .., 0..;sh as isize, 0..;sw as isize]);
    let options = ConvOptions::new([1, 1], [0, 0], conv.dilation, 1);
    let bias = conv.bias.as_ref().map(|b| b.val());
    conv2d(sampled, conv.weight.val(), bias, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;

    type B = burn::backend::Flex;

    #[test]
    fn subsampled_pointwise_convolution_matches_burns_on_even_and_odd_sides() {
        let device = Default::default();
        for side in [8, 7] {
            let conv = Conv2dConfig::new([3, 5], [1, 1])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(0, 0, 0, 0))
                .init::<B>(&device);
            let x = Tensor::<B, 4>::random(
                [2, 3, side, side],
                burn::tensor::Distribution::Default,
                &device,
            );
            let ours = subsampled_pointwise(&conv, x.clone()).into_data();
            let burns = conv.forward(x).into_data();
            assert_eq!(ours.shape, burns.shape);
            assert!(!on_cubecl::<B>(&device));
            ours.assert_approx_eq::<f32>(&burns, burn::tensor::Tolerance::absolute(1e-6));
        }
    }
}
