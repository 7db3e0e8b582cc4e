//! oodcal's change to burn-flex: what its convolution kernels share (the
//! shapes of one convolution, im2col over a chunk of images, gemm's thread use,
//! row-parallel loops). `conv_forward` and `conv_backward` build on it.
//!
//! Every sum runs in an order fixed by the shapes alone: images in fixed-size
//! chunks, gemm over them (k-blocking fixed by the pinned gemm-common). Threads
//! split only independent outputs, so the bits do not depend on the thread count.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use burn_backend::ops::conv::calculate_conv_output_size;
use burn_backend::{DType, Element, ops::ConvOptions};
use burn_std::{Bytes, Shape};
use num_traits::Float;

use super::conv::valid_out_range;
use crate::{FlexTensor, Layout};

/// Most elements an im2col chunk may hold (64 MiB of f32): bounds the memory
/// of a backward pass, and being a constant keeps the summation order (chunks
/// of images) independent of the machine.
const COL_BUDGET: usize = 16 << 20;

/// Most elements of an im2col matrix (or its gradient) that `for_each_chunk`
/// gives one chunk (256 KiB of f32): the matrix, gemm's packed copy of it and
/// the chunk's output then stay in a 1 MiB L2 cache. Whole-batch matrices
/// (14 MiB for resnet-small's first stage at batch 96) went through memory
/// three times: zero-filled, written, packed.
const CACHE_COLS: usize = 64 << 10;

/// Fewest output positions (gemm rows) a `for_each_chunk` chunk has when the
/// batch has them. gemm sums a product at most 64×64 in blocks of 512 along
/// the reduction and a larger one in even blocks, so for a reduction over more
/// than 512 a chunk of 64 positions or fewer would round otherwise than the
/// whole batch does, and the bits would depend on the chunk size.
const MIN_COLS: usize = 65;

/// Scalars the kernels run on (f32 and f64; half types are computed in f32).
pub(crate) trait Scalar:
    Float + Element + bytemuck::Pod + Send + Sync + core::ops::AddAssign + 'static
{
}
impl Scalar for f32 {}
impl Scalar for f64 {}

/// The shapes of one convolution.
pub(super) struct Geometry {
    pub(super) batch: usize,
    pub(super) channels: usize,
    pub(super) in_hw: [usize; 2],
    pub(super) out_channels: usize,
    pub(super) groups: usize,
    pub(super) kernel: [usize; 2],
    pub(super) out_hw: [usize; 2],
    pub(super) stride: [usize; 2],
    pub(super) padding: [usize; 2],
    pub(super) dilation: [usize; 2],
    /// `valid(axis, tap)` for every tap, computed once.
    valid_out: [Vec<Range<usize>>; 2],
}

impl Geometry {
    /// The convolution whose output gradient is `grad` (backward passes).
    pub(super) fn backward(
        x: &FlexTensor,
        weight: &FlexTensor,
        grad: &FlexTensor,
        options: &ConvOptions<2>,
    ) -> Self {
        let gs = grad.layout().shape();
        Self::new(x, weight, [gs[2], gs[3]], options)
    }

    /// The convolution of `x` by `weight` (forward passes).
    pub(super) fn forward(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Self {
        let (xs, ws) = (x.layout().shape(), weight.layout().shape());
        let out = |axis: usize| {
            let (stride, padding) = (options.stride[axis], options.padding[axis]);
            let (kernel, dilation) = (ws[2 + axis], options.dilation[axis]);
            calculate_conv_output_size(kernel, stride, padding, dilation, xs[2 + axis])
        };
        Self::new(x, weight, [out(0), out(1)], options)
    }

    fn new(
        x: &FlexTensor,
        weight: &FlexTensor,
        out_hw: [usize; 2],
        options: &ConvOptions<2>,
    ) -> Self {
        let xs = x.layout().shape();
        let ws = weight.layout().shape();
        let mut geo = Self {
            batch: xs[0],
            channels: xs[1],
            in_hw: [xs[2], xs[3]],
            out_channels: ws[0],
            groups: options.groups,
            kernel: [ws[2], ws[3]],
            out_hw,
            stride: options.stride,
            padding: options.padding,
            dilation: options.dilation,
            valid_out: [Vec::new(), Vec::new()],
        };
        geo.valid_out = [0, 1].map(|axis| {
            (0..geo.kernel[axis])
                .map(|tap| valid_range(&geo, axis, tap))
                .collect()
        });
        geo
    }

    pub(super) fn in_plane(&self) -> usize {
        self.in_hw[0] * self.in_hw[1]
    }

    pub(super) fn out_plane(&self) -> usize {
        self.out_hw[0] * self.out_hw[1]
    }

    pub(super) fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    pub(super) fn group_in(&self) -> usize {
        self.channels / self.groups
    }

    pub(super) fn group_out(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Rows of a group's im2col matrix: its input channels times the kernel taps.
    pub(super) fn group_rows(&self) -> usize {
        self.group_in() * self.taps()
    }

    pub(super) fn depthwise(&self) -> bool {
        depthwise(self.channels, self.out_channels, self.groups)
    }

    /// Images per chunk of the weight gradient (a block of its reduction).
    pub(super) fn chunk(&self) -> usize {
        let per_image = (self.channels * self.taps() * self.out_plane()).max(1);
        (COL_BUDGET / per_image).clamp(1, self.batch.max(1))
    }

    /// Output positions along `axis` whose input position under kernel tap
    /// `tap` falls inside the input (not in the padding).
    pub(super) fn valid(&self, axis: usize, tap: usize) -> Range<usize> {
        self.valid_out[axis][tap].clone()
    }

    /// Input position of output position `o` under kernel tap `tap` (valid only).
    pub(super) fn source(&self, axis: usize, o: usize, tap: usize) -> usize {
        o * self.stride[axis] + tap * self.dilation[axis] - self.padding[axis]
    }
}

/// One input and one output channel per group.
pub(super) fn depthwise(channels: usize, out_channels: usize, groups: usize) -> bool {
    channels == groups && out_channels == groups
}

/// Output positions along `axis` whose input position under kernel tap `tap`
/// lies inside the input: `0 <= o * stride + tap * dilation - padding < size`.
fn valid_range(geo: &Geometry, axis: usize, tap: usize) -> Range<usize> {
    let (dilation, pad, stride) = (geo.dilation[axis], geo.padding[axis], geo.stride[axis]);
    let (size, out) = (geo.in_hw[axis], geo.out_hw[axis]);
    let (start, end) = valid_out_range(tap, dilation, pad, stride, size, out);
    start..end
}

pub(super) fn output<T: Scalar>(data: Vec<T>, shape: Shape, dtype: DType) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(shape), dtype)
}

/// Images in chunks of `Geometry::chunk` (the backward pass's weight
/// gradient: a chunk is a block of its reduction).
pub(super) fn chunks(geo: &Geometry) -> impl Iterator<Item = Range<usize>> + '_ {
    let size = geo.chunk();
    (0..geo.batch.div_ceil(size)).map(move |i| i * size..((i + 1) * size).min(geo.batch))
}

/// Calls `f(buffers, images, out)` for chunks of images small enough that
/// their im2col matrix (or its gradient) stays in cache (`CACHE_COLS`), with
/// `out` the chunk's part of the output (`per_image` elements an image).
/// Chunks are independent outputs and none enters a sum, so they run on
/// rayon's threads whole, each thread with its own `buffers`, reused from one
/// chunk to the next. Nothing inside a chunk goes back to rayon: even a
/// one-thread pool costs a hand-over per call.
pub(super) fn for_each_chunk<T: Scalar, B: Default + Send>(
    geo: &Geometry,
    out: &mut [T],
    per_image: usize,
    f: impl Fn(&mut B, Range<usize>, &mut [T]) + Send + Sync,
) {
    let mut parts = Vec::new();
    let mut rest = out;
    for images in cache_chunks(geo) {
        let (part, tail) = rest.split_at_mut(images.len() * per_image);
        parts.push((images, part));
        rest = tail;
    }
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        parts
            .into_par_iter()
            .for_each_init(B::default, |buffers, (images, part)| {
                f(buffers, images, part)
            });
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut buffers = B::default();
        for (images, part) in parts {
            f(&mut buffers, images, part);
        }
    }
}

/// Chunks of as many images as fit `CACHE_COLS`, at least `MIN_COLS` output
/// positions each when the batch has them (a short last chunk joins the one
/// before).
fn cache_chunks(geo: &Geometry) -> Vec<Range<usize>> {
    let (batch, plane) = (geo.batch, geo.out_plane().max(1));
    let per_image = (geo.channels * geo.taps() * plane).max(1);
    let size = (CACHE_COLS / per_image)
        .max(MIN_COLS.div_ceil(plane))
        .clamp(1, batch.max(1));
    let mut chunks: Vec<Range<usize>> = (0..batch)
        .step_by(size)
        .map(|start| start..(start + size).min(batch))
        .collect();
    if chunks.len() > 1 && chunks[chunks.len() - 1].len() * plane < MIN_COLS {
        let last = chunks.pop().expect("more than one chunk");
        chunks.last_mut().expect("more than one chunk").end = last.end;
    }
    chunks
}

/// A gemm operand: its first element and how far apart its columns and its
/// rows lie.
#[derive(Clone, Copy)]
pub(super) struct Strided<T> {
    ptr: *const T,
    col_stride: usize,
    row_stride: usize,
}

impl<T> Strided<T> {
    /// The operand starting at `data[0]`.
    pub(super) fn of(data: &[T], col_stride: usize, row_stride: usize) -> Self {
        Self {
            ptr: data.as_ptr(),
            col_stride,
            row_stride,
        }
    }
}

/// `dst = lhs · rhs` (`accumulate`: `dst += lhs · rhs`) for an `m×k` lhs and a
/// `k×n` rhs, with `dst` column-major, its columns `dst_cols` apart.
///
/// # Safety
/// Every element the shapes and strides reach lies inside its buffer, and
/// `dst` overlaps neither operand.
pub(super) unsafe fn matmul<T: Scalar>(
    [m, n, k]: [usize; 3],
    dst: *mut T,
    dst_cols: usize,
    lhs: Strided<T>,
    rhs: Strided<T>,
    accumulate: bool,
) {
    let alpha = if accumulate { T::one() } else { T::zero() };
    // SAFETY: as the caller guarantees.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cols as isize,
            1,
            accumulate,
            lhs.ptr,
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.ptr,
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            alpha,
            T::one(),
            false,
            false,
            false,
            parallelism(m, n, k),
        );
    }
}

fn parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    #[cfg(feature = "rayon")]
    if m.saturating_mul(n).saturating_mul(k) >= 192 * 192 * 192 {
        return gemm::Parallelism::Rayon(0);
    }
    let _ = (m, n, k);
    gemm::Parallelism::None
}

/// The chunk's im2col matrix: row `(c, ky, kx)`, column `(image, oy, ox)`
/// holds the input value that tap meets at that output position (0 in the padding).
pub(super) fn im2col<T: Scalar>(geo: &Geometry, x: &[T], images: Range<usize>) -> Vec<T> {
    let cols = images.len() * geo.out_plane();
    let mut col = vec![T::zero(); geo.channels * geo.taps() * cols];
    for_each_row(&mut col, cols, |index, row| {
        im2col_row(geo, x, images.clone(), index, row)
    });
    col
}

/// `im2col` on the calling thread alone, into `col`, reused from the chunk
/// before: a chunk of as many images writes the same entries, so the
/// padding's zeros are still in place and only a buffer of another length is
/// zero-filled.
pub(super) fn im2col_into<T: Scalar>(
    geo: &Geometry,
    x: &[T],
    images: Range<usize>,
    col: &mut Vec<T>,
) {
    let cols = images.len() * geo.out_plane();
    let len = geo.channels * geo.taps() * cols;
    if col.len() != len {
        col.clear();
        col.resize(len, T::zero());
    }
    if cols > 0 {
        for (index, row) in col.chunks_mut(cols).enumerate() {
            im2col_row(geo, x, images.clone(), index, row);
        }
    }
}

/// Row `index` of the chunk's im2col matrix; entries in the padding are left
/// as they are (zero).
fn im2col_row<T: Scalar>(
    geo: &Geometry,
    x: &[T],
    images: Range<usize>,
    index: usize,
    row: &mut [T],
) {
    let (plane, out_plane, [_, width], [_, out_w]) =
        (geo.in_plane(), geo.out_plane(), geo.in_hw, geo.out_hw);
    let (c, tap) = (index / geo.taps(), index % geo.taps());
    let (ky, kx) = (tap / geo.kernel[1], tap % geo.kernel[1]);
    let (rows, xs) = (geo.valid(0, ky), geo.valid(1, kx));
    if xs.is_empty() {
        return;
    }
    let start = geo.source(1, xs.start, kx);
    for (b, n) in images.enumerate() {
        let src = &x[(n * geo.channels + c) * plane..][..plane];
        let dst = &mut row[b * out_plane..][..out_plane];
        for oy in rows.clone() {
            let line = &src[geo.source(0, oy, ky) * width..][..width];
            gather(
                &mut dst[oy * out_w..][xs.clone()],
                line,
                start,
                geo.stride[1],
            );
        }
    }
}

/// `dst[i] = src[start + i * stride]`.
pub(super) fn gather<T: Copy>(dst: &mut [T], src: &[T], start: usize, stride: usize) {
    if stride == 1 {
        dst.copy_from_slice(&src[start..start + dst.len()]);
    } else {
        for (d, &v) in dst.iter_mut().zip(src[start..].iter().step_by(stride)) {
            *d = v;
        }
    }
}

/// Calls `f(i, row)` for each `len`-long row of `data`, on rayon's threads
/// when the crate has them. Rows are independent outputs.
pub(super) fn for_each_row<T: Scalar>(
    data: &mut [T],
    len: usize,
    f: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    if len == 0 {
        return;
    }
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, row)| f(i, row));
    }
    #[cfg(not(feature = "rayon"))]
    data.chunks_mut(len)
        .enumerate()
        .for_each(|(i, row)| f(i, row));
}
