//! oodcal's change to burn-flex: the two gradients of a 2D convolution.
//!
//! burn's default `conv2d_weight_backward` is a convolution over permuted
//! tensors (made contiguous element by element through `StridedIter`, then a
//! direct loop whose "kernel" is the whole output plane), and its default
//! `conv2d_x_backward` is a transposed convolution. On the small planes and
//! channel counts of oodcal's CPU studies the two took 3-4x the forward pass.
//! Here both are one matrix product per group over an im2col matrix of many
//! images at once, and depthwise convolutions (one input and one output channel
//! per group) are direct loops over the planes.
//!
//! Sums run in an order fixed by the shapes alone (see `conv_im2col`), the
//! depthwise ones in lane-wise partial sums of a fixed width. Threads split
//! only independent outputs, so the bits do not depend on the thread count.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use burn_backend::ops::ConvOptions;
use burn_std::Shape;

use super::conv_im2col::{
    Geometry, Scalar, Strided, chunks, for_each_chunk, for_each_row, gather, im2col, matmul, output,
};
use crate::FlexTensor;

/// Width of the lane-wise partial sums of the depthwise weight gradient.
const LANES: usize = 8;

/// Gradient of the convolution's input.
pub(crate) fn x_grad<T: Scalar>(
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (weight, grad) = (weight.to_contiguous(), grad.to_contiguous());
    let geo = Geometry::backward(&x, &weight, &grad, options);
    let (w, gy) = (weight.storage::<T>(), grad.storage::<T>());
    let dx = if geo.depthwise() {
        depthwise_x_grad(&geo, w, gy)
    } else {
        gemm_x_grad(&geo, w, gy)
    };
    let shape = Shape::from(vec![geo.batch, geo.channels, geo.in_hw[0], geo.in_hw[1]]);
    output(dx, shape, x.dtype())
}

/// Gradient of the convolution's weight.
pub(crate) fn weight_grad<T: Scalar>(
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
    let geo = Geometry::backward(&x, &weight, &grad, options);
    let (xs, gy) = (x.storage::<T>(), grad.storage::<T>());
    let dw = if geo.depthwise() {
        depthwise_weight_grad(&geo, xs, gy)
    } else {
        gemm_weight_grad(&geo, xs, gy)
    };
    output(dw, weight.layout().shape().clone(), weight.dtype())
}

/// `dW_g = Σ_chunks gy_g · im2col(x)_gᵀ`, one gemm per group and chunk.
///
/// gemm writes column-major results fastest and reads an operand without
/// repacking when its rows are contiguous along the reduction (the right
/// operand) or its columns along the result's rows (the left one). So `gy` is
/// laid out channels-contiguous (`positions_first`), im2col's rows run along
/// images × positions, and the result is gathered column-major, then
/// transposed into the weight's layout once.
fn gemm_weight_grad<T: Scalar>(geo: &Geometry, x: &[T], gy: &[T]) -> Vec<T> {
    let (og, k, channels) = (geo.group_out(), geo.group_rows(), geo.out_channels);
    let mut dwt = vec![T::zero(); channels * k];
    if geo.out_plane() == 0 {
        return dwt; // no output, so no gradient (and no positions to slice)
    }
    for (i, images) in chunks(geo).enumerate() {
        let cols = images.len() * geo.out_plane();
        let col = im2col(geo, x, images.clone());
        let gyp = positions_first(geo, gy, images);
        for g in 0..geo.groups {
            let lhs = Strided::of(&gyp[g * og..], channels, 1);
            let rhs = Strided::of(&col[g * k * cols..], cols, 1);
            // SAFETY: dst is the group's og×k block of dwt, column-major;
            // lhs (og×cols) is read down gyp's columns g*og.., rows `channels`
            // apart; rhs (cols×k) is the group's k rows of col, cols long each.
            unsafe {
                matmul(
                    [og, k, cols],
                    dwt[g * og * k..].as_mut_ptr(),
                    og,
                    lhs,
                    rhs,
                    i > 0,
                )
            };
        }
    }
    let mut dw = vec![T::zero(); channels * k];
    for_each_row(&mut dw, k, |oc, row| {
        let (g, o) = (oc / og, oc % og);
        let block = &dwt[g * og * k..][..og * k];
        for (j, d) in row.iter_mut().enumerate() {
            *d = block[j * og + o];
        }
    });
    dw
}

/// `dcol_gᵀ = gy_gᵀ · W_g` (each column entry's gradient), then each entry
/// added back to the input position it was read from (col2im). As gemm
/// prefers (see `gemm_weight_grad`): `gy` channels-first, so the left operand
/// runs along the result's rows, and the result column-major, which is dcol
/// row-major.
fn gemm_x_grad<T: Scalar>(geo: &Geometry, w: &[T], gy: &[T]) -> Vec<T> {
    let image = geo.channels * geo.in_plane();
    let mut dx = vec![T::zero(); geo.batch * image];
    for_each_chunk(geo, &mut dx, image, |(gyt, dcol), images, dx_chunk| {
        let cols = images.len() * geo.out_plane();
        channels_first(geo, gy, images.clone(), gyt);
        dcol_of(geo, w, gyt, cols, dcol);
        col2im(geo, dcol, images.len(), dx_chunk);
    });
    dx
}

/// `dcol = gyᵀ · W` per group, `gyt` the chunk's `gy` channels first.
fn dcol_of<T: Scalar>(geo: &Geometry, w: &[T], gyt: &[T], cols: usize, dcol: &mut Vec<T>) {
    let (og, k) = (geo.group_out(), geo.group_rows());
    dcol.resize(geo.groups * k * cols, T::zero());
    assert!(gyt.len() >= geo.out_channels * cols);
    for g in 0..geo.groups {
        let lhs = Strided::of(&gyt[g * og * cols..], cols, 1);
        let rhs = Strided::of(&w[g * og * k..], 1, k);
        // SAFETY: dst (cols×k, column-major) is the group's k×cols block
        // of dcol; lhs (cols×og) is the group's og rows of gyt read
        // transposed; rhs (og×k) is the group's og×k weight rows.
        unsafe {
            matmul(
                [cols, k, og],
                dcol[g * k * cols..].as_mut_ptr(),
                cols,
                lhs,
                rhs,
                false,
            )
        };
    }
}

/// `gy` of the chunk's images as `[out_channels, images × out_plane]`, into
/// `out` (every element written).
fn channels_first<T: Scalar>(geo: &Geometry, gy: &[T], images: Range<usize>, out: &mut Vec<T>) {
    let plane = geo.out_plane();
    let cols = images.len() * plane;
    out.resize(geo.out_channels * cols, T::zero());
    if cols == 0 {
        return;
    }
    for (o, row) in out.chunks_mut(cols).enumerate() {
        for (b, n) in images.clone().enumerate() {
            let src = &gy[(n * geo.out_channels + o) * plane..][..plane];
            row[b * plane..(b + 1) * plane].copy_from_slice(src);
        }
    }
}

/// `gy` of the chunk's images as `[images × out_plane, out_channels]`.
fn positions_first<T: Scalar>(geo: &Geometry, gy: &[T], images: Range<usize>) -> Vec<T> {
    let (plane, channels) = (geo.out_plane(), geo.out_channels);
    let mut out = vec![T::zero(); images.len() * plane * channels];
    for_each_row(&mut out, plane * channels, |b, image| {
        let src = &gy[(images.start + b) * channels * plane..][..channels * plane];
        // In tiles of 16 positions, so that reads and writes both stay in cache.
        for p0 in (0..plane).step_by(16) {
            let p1 = (p0 + 16).min(plane);
            for o in 0..channels {
                let row = &src[o * plane..][p0..p1];
                for (p, &v) in (p0..p1).zip(row) {
                    image[p * channels + o] = v;
                }
            }
        }
    });
    out
}

/// `dst[start + i * stride] += scale * src[i]`.
fn scatter<T: Scalar>(dst: &mut [T], start: usize, stride: usize, src: &[T], scale: T) {
    if stride == 1 {
        for (d, &v) in dst[start..start + src.len()].iter_mut().zip(src) {
            *d += scale * v;
        }
    } else {
        for (d, &v) in dst[start..].iter_mut().step_by(stride).zip(src) {
            *d += scale * v;
        }
    }
}

/// Adds each entry of `dcol` (rows `(c, ky, kx)` of every group, columns
/// `(image, oy, ox)`) into the input position it was read from. Each input
/// plane sums its taps in kernel order, on the calling thread.
fn col2im<T: Scalar>(geo: &Geometry, dcol: &[T], images: usize, dx: &mut [T]) {
    let (plane, out_plane, [_, width], [_, out_w]) =
        (geo.in_plane(), geo.out_plane(), geo.in_hw, geo.out_hw);
    let cols = images * out_plane;
    if plane == 0 {
        return;
    }
    for (index, dst) in dx.chunks_mut(plane).enumerate() {
        let (b, c) = (index / geo.channels, index % geo.channels);
        for tap in 0..geo.taps() {
            let (ky, kx) = (tap / geo.kernel[1], tap % geo.kernel[1]);
            let xs = geo.valid(1, kx);
            if xs.is_empty() {
                continue;
            }
            let start = geo.source(1, xs.start, kx);
            let row = &dcol[(c * geo.taps() + tap) * cols + b * out_plane..][..out_plane];
            for oy in geo.valid(0, ky) {
                let line = &mut dst[geo.source(0, oy, ky) * width..][..width];
                let src = &row[oy * out_w..][xs.clone()];
                scatter(line, start, geo.stride[1], src, T::one());
            }
        }
    }
}

/// A depthwise plane's padded input split by stride phase, so that every
/// kernel tap reads (and its gradient writes) one contiguous run.
///
/// Phase `(py, px)` holds the padded input's rows `i * sy + py` and columns
/// `j * sx + px`, `rows × width` of them. Output position `(oy, ox)` under tap
/// `(ky, kx)` reads padded `(oy * sy + ky * dy, ox * sx + kx * dx)`, which is
/// phase `(ky * dy % sy, kx * dx % sx)` at `(oy + ky * dy / sy, ox + kx * dx / sx)`.
/// With `gy` widened to `width` columns (zeros past the output's), the sum
/// over a whole output plane is one run of `out_rows × width` elements.
struct Phases {
    rows: usize,
    width: usize,
    /// Start of each tap's run in the phase buffer.
    starts: Vec<usize>,
}

impl Phases {
    fn new(geo: &Geometry) -> Self {
        let reach = |axis: usize| (geo.kernel[axis] - 1) * geo.dilation[axis] / geo.stride[axis];
        let width = geo.out_hw[1] + reach(1);
        // One spare row: a run that starts past column 0 ends in the next row.
        let rows = geo.out_hw[0] + reach(0) + 1;
        let starts = (0..geo.taps())
            .map(|tap| {
                let (ky, kx) = (tap / geo.kernel[1], tap % geo.kernel[1]);
                let (oy, ox) = (ky * geo.dilation[0], kx * geo.dilation[1]);
                let phase = (oy % geo.stride[0]) * geo.stride[1] + ox % geo.stride[1];
                phase * rows * width + (oy / geo.stride[0]) * width + ox / geo.stride[1]
            })
            .collect();
        Self {
            rows,
            width,
            starts,
        }
    }

    fn len(&self, geo: &Geometry) -> usize {
        geo.stride[0] * geo.stride[1] * self.rows * self.width
    }

    fn run(&self, geo: &Geometry) -> usize {
        geo.out_hw[0] * self.width
    }

    /// Calls `f(line, column, at, len)` for each stretch of an input row kept
    /// in one phase: the input's row starting at `line`, columns `column`,
    /// `column + sx`, ..., stored from `at` on in the buffer, `len` of them.
    fn for_each_run(&self, geo: &Geometry, mut f: impl FnMut(usize, usize, usize, usize)) {
        let ([height, in_w], [sy, sx], [pad_y, pad_x]) = (geo.in_hw, geo.stride, geo.padding);
        for phase in 0..sy * sx {
            let (py, px) = (phase / sx, phase % sx);
            // Phase columns j with input column j * sx + px - pad_x in [0, in_w).
            let lo = pad_x.saturating_sub(px).div_ceil(sx);
            let hi = if in_w + pad_x > px {
                ((in_w + pad_x - px - 1) / sx + 1).min(self.width)
            } else {
                0
            };
            if lo >= hi {
                continue;
            }
            for i in 0..self.rows {
                let y = i * sy + py;
                if y < pad_y || y - pad_y >= height {
                    continue;
                }
                let at = phase * self.rows * self.width + i * self.width + lo;
                f((y - pad_y) * in_w, lo * sx + px - pad_x, at, hi - lo);
            }
        }
    }
}

/// Copies an input plane into its phase buffer (zeros in the padding).
fn split_phases<T: Scalar>(geo: &Geometry, phases: &Phases, plane: &[T], buf: &mut [T]) {
    buf.fill(T::zero());
    phases.for_each_run(geo, |line_start, src_start, at, len| {
        gather(
            &mut buf[at..at + len],
            &plane[line_start..],
            src_start,
            geo.stride[1],
        );
    });
}

/// The gradient of an input plane from its phase buffer's gradient.
fn merge_phases<T: Scalar>(geo: &Geometry, phases: &Phases, buf: &[T], plane: &mut [T]) {
    phases.for_each_run(geo, |line_start, src_start, at, len| {
        let line = &mut plane[line_start..];
        for (d, &v) in line[src_start..]
            .iter_mut()
            .step_by(geo.stride[1])
            .zip(&buf[at..at + len])
        {
            *d = v;
        }
    });
}

/// An output plane of `gy` widened to the phases' width (zeros past its columns).
fn widen<T: Scalar>(geo: &Geometry, phases: &Phases, plane: &[T], buf: &mut [T]) {
    let out_w = geo.out_hw[1];
    for (oy, line) in plane.chunks_exact(out_w).enumerate() {
        buf[oy * phases.width..][..out_w].copy_from_slice(line);
    }
}

/// Depthwise `dx`: each plane's phase buffer takes `w[c, tap] · gy` along each
/// tap's run, taps in kernel order, and goes back to the plane's layout.
fn depthwise_x_grad<T: Scalar>(geo: &Geometry, w: &[T], gy: &[T]) -> Vec<T> {
    let (plane, out_plane) = (geo.in_plane(), geo.out_plane());
    let phases = Phases::new(geo);
    let run = phases.run(geo);
    let mut dx = vec![T::zero(); geo.batch * geo.channels * plane];
    if out_plane == 0 {
        return dx;
    }
    for_each_row(&mut dx, plane, |index, dst| {
        let c = index % geo.channels;
        let mut wide = vec![T::zero(); run];
        widen(
            geo,
            &phases,
            &gy[index * out_plane..][..out_plane],
            &mut wide,
        );
        let mut buf = vec![T::zero(); phases.len(geo)];
        for (tap, &start) in phases.starts.iter().enumerate() {
            let weight = w[c * geo.taps() + tap];
            for (d, &g) in buf[start..start + run].iter_mut().zip(&wide) {
                *d += weight * g;
            }
        }
        merge_phases(geo, &phases, &buf, dst);
    });
    dx
}

/// Depthwise `dW[c, tap] = Σ_images Σ_positions gy · x`: per image, one dot
/// product of the widened `gy` with each tap's run of the phase buffer, in
/// `LANES` partial sums per tap (vector registers), added up in a fixed order
/// at the end.
fn depthwise_weight_grad<T: Scalar>(geo: &Geometry, x: &[T], gy: &[T]) -> Vec<T> {
    let (plane, out_plane, taps) = (geo.in_plane(), geo.out_plane(), geo.taps());
    let phases = Phases::new(geo);
    let run = phases.run(geo);
    let mut dw = vec![T::zero(); geo.channels * taps];
    if out_plane == 0 {
        return dw;
    }
    for_each_row(&mut dw, taps, |c, dst| {
        let mut acc = vec![[T::zero(); LANES]; taps];
        let mut wide = vec![T::zero(); run];
        let mut buf = vec![T::zero(); phases.len(geo)];
        for n in 0..geo.batch {
            let index = n * geo.channels + c;
            widen(
                geo,
                &phases,
                &gy[index * out_plane..][..out_plane],
                &mut wide,
            );
            split_phases(geo, &phases, &x[index * plane..][..plane], &mut buf);
            for (lanes, &start) in acc.iter_mut().zip(&phases.starts) {
                dot_lanes(&wide, &buf[start..start + run], lanes);
            }
        }
        for (d, lanes) in dst.iter_mut().zip(&acc) {
            *d = sum_lanes(lanes);
        }
    });
    dw
}

/// `lanes[i % LANES] += a[i] * b[i]`, written so that it vectorizes.
fn dot_lanes<T: Scalar>(a: &[T], b: &[T], lanes: &mut [T; LANES]) {
    let (a8, b8) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (ca, cb) in a8.zip(b8) {
        for l in 0..LANES {
            lanes[l] += ca[l] * cb[l];
        }
    }
    for (l, (&va, &vb)) in ra.iter().zip(rb).enumerate() {
        lanes[l] += va * vb;
    }
}

/// Pairwise sum of the lanes, in a fixed order.
fn sum_lanes<T: Scalar>(lanes: &[T; LANES]) -> T {
    let mut v = *lanes;
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            v[l] = v[l] + v[l + width];
        }
    }
    v[0]
}
