//! oodcal's change to burn-flex: the forward pass of plain and grouped 2D
//! convolutions.
//!
//! burn-flex's general path converts the input to NHWC element by element,
//! then runs one small gemm per image and tile of 512 output positions and
//! writes the result back one strided element at a time; on the CPU studies'
//! 16 px planes with 8-64 channels that per-image work, not the arithmetic,
//! held ResNet evaluation to a quarter of PyTorch's speed. Here, as in the
//! backward pass, it is one gemm per group over the im2col matrix of a chunk
//! of images. burn-flex keeps its own paths for depthwise and pointwise
//! (1x1, stride 1, no padding) convolutions, which skip im2col altogether.

use alloc::vec;

use burn_backend::ops::ConvOptions;
use burn_std::Shape;

use super::conv_im2col::{
    Geometry, Scalar, Strided, chunks, depthwise, for_each_row, im2col, matmul, output,
};
use crate::FlexTensor;

/// Whether this convolution is one `forward` takes: every one but those with a
/// channel per group (depthwise) and the unpadded, unstrided 1x1 ones.
pub(crate) fn takes(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> bool {
    let (xs, ws) = (x.layout().shape(), weight.layout().shape());
    let depthwise = depthwise(xs[1], ws[0], options.groups);
    let pointwise =
        ws[2] == 1 && ws[3] == 1 && options.stride == [1, 1] && options.padding == [0, 0];
    !depthwise && !pointwise
}

/// `y = W ⋆ x + b`: per chunk of images and group, `yᵀ = im2col(x)ᵀ · Wᵀ`
/// (both operands read by gemm without repacking, the result column-major,
/// which is `[out_channels, images × positions]`), then moved image by image
/// into `[images, out_channels, positions]` with the bias added.
pub(crate) fn forward<T: Scalar>(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let bias = bias.map(|b| b.to_contiguous());
    let geo = Geometry::forward(&x, &weight, options);
    let (xs, w) = (x.storage::<T>(), weight.storage::<T>());
    let bias = bias.as_ref().map(|b| b.storage::<T>());
    let (og, k, plane) = (geo.group_out(), geo.group_rows(), geo.out_plane());
    let image = geo.out_channels * plane;
    let mut y = vec![T::zero(); geo.batch * image];
    for images in chunks(&geo) {
        let cols = images.len() * plane;
        let col = im2col(&geo, xs, images.clone());
        let mut yt = vec![T::zero(); geo.out_channels * cols];
        for g in 0..geo.groups {
            let lhs = Strided::of(&col[g * k * cols..], cols, 1);
            let rhs = Strided::of(&w[g * og * k..], k, 1);
            // SAFETY: dst (cols×og) is the group's og rows of yt; lhs
            // (cols×k) is the group's k rows of col read transposed; rhs
            // (k×og) is the group's og weight rows read transposed.
            unsafe {
                matmul(
                    [cols, og, k],
                    yt[g * og * cols..].as_mut_ptr(),
                    cols,
                    lhs,
                    rhs,
                    false,
                )
            };
        }
        let y_chunk = &mut y[images.start * image..images.end * image];
        for_each_row(y_chunk, plane, |index, dst| {
            let (b, o) = (index / geo.out_channels, index % geo.out_channels);
            let src = &yt[o * cols + b * plane..][..plane];
            match bias {
                Some(bias) => {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d = v + bias[o];
                    }
                }
                None => dst.copy_from_slice(src),
            }
        });
    }
    let shape = Shape::from(vec![
        geo.batch,
        geo.out_channels,
        geo.out_hw[0],
        geo.out_hw[1],
    ]);
    output(y, shape, x.dtype())
}
