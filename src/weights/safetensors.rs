//! Reader for safetensors files, the format timm's weights come in on the
//! Hugging Face hub (`models--timm--<tag>/snapshots/<rev>/model.safetensors`).
//!
//! The `safetensors` crate parses and validates the header (offsets inside the
//! file, no overlaps, sizes that match shapes); this module only converts each
//! tensor to the [`StateDict`] the loader fits to a model, so timm's weights go
//! through the same key mapping and the same mismatch report as the legacy
//! `.pth` files. (burn-store's `SafetensorsStore` would apply tensors itself,
//! with its own regex key remapping and errors, beside ours.)

use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::torch_legacy::{HostTensor, ReadError, ReadErrorKind, StateDict, TorchDtype};

/// Reads every tensor of a safetensors file, in the file's order (sorted by
/// offset, which is the order the writer laid them out).
pub fn read_safetensors(path: &Path) -> Result<StateDict, ReadError> {
    let wrap = |kind| ReadError {
        path: path.to_path_buf(),
        kind,
    };
    let bytes = std::fs::read(path).map_err(|e| wrap(ReadErrorKind::Io(e)))?;
    parse_safetensors(&bytes).map_err(wrap)
}

/// [`read_safetensors`] on bytes already in memory.
pub fn parse_safetensors(bytes: &[u8]) -> Result<StateDict, ReadErrorKind> {
    let file =
        SafeTensors::deserialize(bytes).map_err(|e| ReadErrorKind::Safetensors(e.to_string()))?;
    let mut tensors = file.tensors();
    tensors.sort_by_key(|(_, view)| view.data().as_ptr() as usize);
    let mut dict = StateDict::new();
    for (key, view) in tensors {
        let tensor = host_tensor(&view).map_err(|what| ReadErrorKind::Tensor {
            key: key.clone(),
            what,
        })?;
        dict.insert(key, tensor);
    }
    Ok(dict)
}

/// One tensor as f32 (integer tensors, such as BatchNorm's step counter,
/// keep their dtype for the loader to skip).
fn host_tensor(view: &TensorView<'_>) -> Result<HostTensor, String> {
    let bytes = view.data();
    let data: Vec<f32> = match view.dtype() {
        Dtype::F32 => le_values(bytes, f32::from_le_bytes),
        Dtype::F64 => le_values(bytes, |b| f64::from_le_bytes(b) as f32),
        Dtype::F16 => le_values(bytes, |b| half::f16::from_le_bytes(b).to_f32()),
        Dtype::BF16 => le_values(bytes, |b| half::bf16::from_le_bytes(b).to_f32()),
        Dtype::I64 => le_values(bytes, |b| i64::from_le_bytes(b) as f32),
        other => return Err(format!("dtype {other:?} is not a weight type oodcal reads")),
    };
    let dtype = match view.dtype() {
        Dtype::I64 => TorchDtype::I64,
        _ => TorchDtype::F32,
    };
    Ok(HostTensor {
        shape: view.shape().to_vec(),
        data,
        dtype,
    })
}

/// Little-endian elements of `N` bytes each (the crate has checked the length).
fn le_values<const N: usize>(bytes: &[u8], convert: impl Fn([u8; N]) -> f32) -> Vec<f32> {
    bytes
        .chunks_exact(N)
        .map(|c| convert(c.try_into().expect("chunks_exact yields N bytes")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::serialize;

    fn file(tensors: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)>) -> Vec<u8> {
        let views: Vec<(String, TensorView<'_>)> = tensors
            .iter()
            .map(|(k, d, s, b)| (k.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        serialize(views, None).unwrap()
    }

    #[test]
    fn reads_float_types_as_f32_and_keeps_counters_apart() {
        let f32s: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f16s: Vec<u8> = [half::f16::from_f32(0.5)]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bf16s: Vec<u8> = [half::bf16::from_f32(-3.0)]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let counter: Vec<u8> = 7i64.to_le_bytes().to_vec();
        let bytes = file(vec![
            ("a.weight", Dtype::F32, vec![1, 2], f32s),
            ("b.weight", Dtype::F16, vec![1], f16s),
            ("c.weight", Dtype::BF16, vec![1], bf16s),
            ("bn.num_batches_tracked", Dtype::I64, vec![], counter),
        ]);
        let dict = parse_safetensors(&bytes).unwrap();
        assert_eq!(dict.get("a.weight").unwrap().data, [1.5, -2.0]);
        assert_eq!(dict.get("a.weight").unwrap().shape, [1, 2]);
        assert_eq!(dict.get("b.weight").unwrap().data, [0.5]);
        assert_eq!(dict.get("c.weight").unwrap().data, [-3.0]);
        let steps = dict.get("bn.num_batches_tracked").unwrap();
        assert_eq!(
            (steps.dtype, steps.data.as_slice()),
            (TorchDtype::I64, &[7.0][..])
        );
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_the_problem() {
        let bytes = file(vec![("a", Dtype::F32, vec![4], vec![0; 16])]);
        let cut = &bytes[..bytes.len() - 3];
        let err = parse_safetensors(cut).unwrap_err().to_string();
        assert!(err.contains("safetensors"), "{err}");
        let path = std::env::temp_dir().join("oodcal-no-such-file.safetensors");
        let err = read_safetensors(&path).unwrap_err().to_string();
        assert!(err.contains("oodcal-no-such-file.safetensors"), "{err}");
    }
}
