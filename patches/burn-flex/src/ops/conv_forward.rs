//! oodcal's change to burn-flex: the forward pass of plain and grouped 2D
//! convolutions.
//!
//! burn-flex's general path converts the input to NHWC element by element,
//! then runs one small gemm per image and tile of 512 output positions and
//! writes the result back one strided element at a time; on the CPU studies'
//! 16 px planes with 8-64 channels that per-image work, not the arithmetic,
//! held ResNet evaluation to a quarter of PyTorch's speed. Here, as in the
//! backward pass, it is one gemm per group over the im2col matrix of a chunk
//! of images, chunks small enough to stay in cache (`for_each_chunk`).
//! burn-flex keeps its own paths for depthwise and pointwise (1x1, stride 1,
//! no padding) convolutions, which skip im2col altogether.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use burn_backend::ops::ConvOptions;
use burn_std::Shape;

use super::conv_common::add_bias;
use super::conv_im2col::{
    Geometry, Scalar, Strided, depthwise, for_each_chunk, im2col_into, matmul, output,
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
/// which is `[out_channels, images × positions]`, for one image its place in
/// `y`), then, for several images, moved image by image into
/// `[images, out_channels, positions]`; the bias added last (burn-flex's
/// `add_bias`: the same sum, in place, as the copy had made it).
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
    let (plane, channels) = (geo.out_plane(), geo.out_channels);
    let image = channels * plane;
    let mut y = vec![T::zero(); geo.batch * image];
    for_each_chunk(&geo, &mut y, image, |buffers, images, y_chunk| {
        forward_chunk(&geo, xs, w, bias, images, y_chunk, buffers)
    });
    let shape = Shape::from(vec![geo.batch, channels, geo.out_hw[0], geo.out_hw[1]]);
    output(y, shape, x.dtype())
}

/// One chunk of `forward`, on the calling thread: `(col, yt)` are the
/// thread's buffers (im2col matrix, gemm's output), reused from its chunk before.
fn forward_chunk<T: Scalar>(
    geo: &Geometry,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    images: Range<usize>,
    y: &mut [T],
    (col, yt): &mut (Vec<T>, Vec<T>),
) {
    let (plane, channels) = (geo.out_plane(), geo.out_channels);
    if plane == 0 {
        return;
    }
    let cols = images.len() * plane;
    im2col_into(geo, x, images.clone(), col);
    if images.len() == 1 {
        products(geo, col, w, cols, y);
    } else {
        yt.resize(channels * cols, T::zero());
        products(geo, col, w, cols, yt);
        for (index, dst) in y.chunks_mut(plane).enumerate() {
            let (b, o) = (index / channels, index % channels);
            dst.copy_from_slice(&yt[o * cols + b * plane..][..plane]);
        }
    }
    if let Some(bias) = bias {
        add_bias(y, bias, images.len(), channels, plane, |a, b| a + b);
    }
}

/// `dst = W · col` per group: `[out_channels, cols]` row-major (gemm's
/// column-major `cols × out_channels`), `col` the chunk's im2col matrix.
fn products<T: Scalar>(geo: &Geometry, col: &[T], w: &[T], cols: usize, dst: &mut [T]) {
    let (og, k) = (geo.group_out(), geo.group_rows());
    assert!(dst.len() >= geo.out_channels * cols && col.len() >= geo.groups * k * cols);
    for g in 0..geo.groups {
        let lhs = Strided::of(&col[g * k * cols..], cols, 1);
        let rhs = Strided::of(&w[g * og * k..], k, 1);
        // SAFETY: dst (cols×og) is the group's og rows of dst; lhs (cols×k)
        // is the group's k rows of col read transposed; rhs (k×og) is the
        // group's og weight rows read transposed (lengths asserted above).
        unsafe {
            matmul(
                [cols, og, k],
                dst[g * og * cols..].as_mut_ptr(),
                cols,
                lhs,
                rhs,
                false,
            )
        };
    }
}
